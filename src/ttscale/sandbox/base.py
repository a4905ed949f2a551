"""The CodeSandbox and Session protocols and the data that crosses them.

A session is one persistent Python namespace, as GenPRM keeps one ``CodeExecutor`` per
solution (reference/genprm.md §3.4): names defined by one block are visible to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

from ttscale.errors import (
    SandboxCodeError,
    SandboxKilledError,
    SandboxTimeoutError,
)

ExecKind = Literal["ok", "error", "exit", "timeout", "killed", "output_limit", "format"]
"""How a block ended.

ok: ran to the end. error: raised (exc_type/exc_message say what). exit: ``sys.exit`` or
``os._exit`` (exit_code). timeout: past its wall deadline or CPU limit. killed: ended by a
signal (signal) or the worker holding the session died. output_limit: killed for writing more
than ``kill_output_bytes``. format: there was no code to run (GenPRM's "No code found").
"""


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one code block. Text is valid UTF-8: NULs stripped, bad bytes replaced."""

    kind: ExecKind
    stdout: str = ""
    stderr: str = ""
    exc_type: str | None = None
    """Exception class name (``type(e).__name__``) for error and exit."""
    exc_message: str | None = None
    """``str(e)`` of that exception."""
    exit_code: int | None = None
    signal: int | None = None
    """Signal number that ended the block, for killed."""
    wall_s: float = 0.0
    truncated: bool = False
    """stdout or stderr was cut to ``max_output_bytes`` (head and tail kept)."""
    state_lost: bool = False
    """The process holding this session's namespace died: later blocks start from empty."""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def raise_for_status(self) -> None:
        """Raise the matching SandboxError subclass unless the block ran to the end.

        Raises:
            SandboxTimeoutError: timeout.
            SandboxKilledError: killed or output_limit.
            SandboxCodeError: error, exit or format.
        """
        detail = f"{self.exc_type}: {self.exc_message}" if self.exc_type else self.kind
        if self.kind == "timeout":
            raise SandboxTimeoutError(f"code block timed out after {self.wall_s:.2f} s")
        if self.kind in ("killed", "output_limit"):
            raise SandboxKilledError(f"code block killed ({self.kind}): {detail}")
        if self.kind != "ok":
            raise SandboxCodeError(f"code block failed ({self.kind}): {detail}")


@dataclass(frozen=True)
class IsolationReport:
    """Which isolation layers the start-up check found working (recorded with a run)."""

    backend: str
    bwrap: str | None = None
    """Path of the bubblewrap binary used, if any."""
    user_ns: bool = False
    pid_ns: bool = False
    net_ns: bool = False
    mount_ns: bool = False
    rlimits: bool = False
    process_cap: str | None = None
    """"pids-cgroup", "rlimit-nproc", or None."""

    def layers(self) -> list[str]:
        flags = {
            "user_ns": self.user_ns,
            "pid_ns": self.pid_ns,
            "net_ns": self.net_ns,
            "mount_ns": self.mount_ns,
            "rlimits": self.rlimits,
        }
        found = [name for name, on in flags.items() if on]
        return found + ([self.process_cap] if self.process_cap else [])


@runtime_checkable
class Session(Protocol):
    """One persistent namespace inside a sandbox; not thread-safe (one thread per session).

    Contract: ``run`` never raises for anything the code does (loops, crashes, floods, exits):
    it reports it in the ExecResult. State persists across blocks; a block that times out or
    crashes leaves the namespace as the previous block left it (unlike GenPRM's in-process
    exec, which keeps partial mutations; reference/sandbox-and-reliability.md §7).

    Raises:
        SandboxError: the sandbox itself cannot be (re)started, or the arguments are invalid.
    """

    def run(self, code: str, *, timeout_s: float | None = None) -> ExecResult: ...

    def close(self) -> None: ...

    def __enter__(self) -> Session: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class CodeSandbox(Protocol):
    """Where model-written code runs; ``open_session`` gives a fresh, empty namespace.

    Constructing a backend checks its isolation layers and refuses (SandboxUnavailableError)
    when a required one is missing.
    """

    @property
    def isolation(self) -> IsolationReport: ...

    def open_session(self) -> Session: ...

    def close(self) -> None: ...
