"""WorkerSession: a Session backed by one warm worker; restarts it when it dies."""

from __future__ import annotations

import math
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, get_args

from ttscale.errors import SandboxError
from ttscale.sandbox._channel import ChannelError, Frame, clean_text
from ttscale.sandbox._process import Worker
from ttscale.sandbox.base import ExecKind, ExecResult

if TYPE_CHECKING:
    from ttscale.sandbox.worker_sandbox import WorkerSandbox

MAX_CODE_BYTES = 8 << 20
_KINDS = frozenset(get_args(ExecKind)) - {"format"}


class WorkerSession:
    """One persistent namespace (see the Session protocol). Get it from ``open_session``."""

    def __init__(self, sandbox: WorkerSandbox, worker: Worker) -> None:
        self._sandbox = sandbox
        self._worker: Worker | None = worker
        self._closed = False

    @property
    def worker_pid(self) -> int | None:
        """Host pid of the current worker's launcher (for diagnostics), None between workers."""
        return self._worker.pid if self._worker is not None else None

    def run(self, code: str, *, timeout_s: float | None = None) -> ExecResult:
        """Run one block in this session's namespace; never raises for what the code does.

        Raises:
            SandboxError: the session is closed, an argument is invalid, or no worker starts.
        """
        timeout = self._sandbox.config.timeout_s if timeout_s is None else timeout_s
        data = self._check(code, timeout)
        state_lost = False
        if self._worker is None or not self._worker.alive:
            state_lost = self._worker is not None
            self._discard()
            self._worker = self._sandbox.start_worker()
        start = time.monotonic()
        try:
            frame = self._worker.run(data, timeout_s=timeout)
        except ChannelError as e:
            self._discard()
            kind: ExecKind = "timeout" if e.timed_out else "killed"
            message = f"sandbox worker killed: {e}"
            return ExecResult(
                kind=kind,
                exc_type="SandboxKilled",
                exc_message=message,
                wall_s=time.monotonic() - start,
                state_lost=True,
            )
        return _decode(frame, wall_s=time.monotonic() - start, state_lost=state_lost)

    def _check(self, code: str, timeout: float) -> bytes:
        if self._closed:
            raise SandboxError("session is closed; open a new one with sandbox.open_session()")
        if not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout <= 0:
            raise SandboxError(f"timeout_s must be a positive number of seconds, got {timeout!r}")
        if not isinstance(code, str):
            raise SandboxError(f"code must be a str, got {type(code).__name__}")
        data = code.encode("utf-8", "surrogatepass")
        if len(data) > MAX_CODE_BYTES:
            raise SandboxError(f"code is {len(data)} bytes; at most {MAX_CODE_BYTES} are allowed")
        return data

    def _discard(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None

    def close(self) -> None:
        """Hand the worker back (reset to an empty namespace) or kill it; idempotent."""
        if self._worker is not None:
            self._sandbox.release(self._worker)
            self._worker = None
        self._closed = True

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _decode(frame: Frame, *, wall_s: float, state_lost: bool) -> ExecResult:
    """An ExecResult from the worker's reply; every field is checked (the reply is untrusted)."""
    h = frame.header
    kind: ExecKind = h["kind"] if h.get("kind") in _KINDS else "killed"
    n_out = h.get("n_out")
    if not isinstance(n_out, int) or not 0 <= n_out <= len(frame.payload):
        kind, n_out = "killed", 0
    return ExecResult(
        kind=kind,
        stdout=clean_text(frame.payload[:n_out]),
        stderr=clean_text(frame.payload[n_out:]),
        exc_type=_text(h.get("exc_type")),
        exc_message=_text(h.get("exc_message")),
        exit_code=_int(h.get("exit_code")),
        signal=_int(h.get("signal")),
        wall_s=wall_s,
        truncated=h.get("truncated") is True,
        state_lost=state_lost or h.get("state_lost") is True,
    )


def _text(value: Any) -> str | None:
    return clean_text(value.encode("utf-8", "replace"))[:16384] if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
