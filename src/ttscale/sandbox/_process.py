"""The host's handle on one worker process tree: start, handshake, requests, kill.

The worker is started through a launcher's argv (bwrap, or the bare interpreter), in its own
session, with an explicit minimal environment (for bwrap's own process too: sandboxed code
can read /proc/1/environ, which is bwrap's; reference/sandbox-and-reliability.md F1). With a
pids cgroup, a tiny ``sh`` trampoline enters the cgroup and ``exec``s the launcher, so every
process of the sandbox is counted from its first instruction.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttscale.errors import SandboxError
from ttscale.sandbox._cgroup import PidsCgroup
from ttscale.sandbox._channel import Channel, ChannelError, Frame

# the in-sandbox helpers are stdlib-only, so the host side reuses them (scan fallback included)
from ttscale.sandbox._worker_procs import descendants
from ttscale.sandbox.config import SandboxConfig

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
WORKER_FILES = (
    WORKER_SCRIPT,
    Path(__file__).with_name("_worker_holder.py"),
    Path(__file__).with_name("_worker_seccomp.py"),
    Path(__file__).with_name("_worker_procs.py"),
)
"""The in-sandbox worker: the script and the modules it loads from its own directory."""
_ENTER_CGROUP = 'echo $$ > "$0" && exec "$@"'


class LaunchError(SandboxError):
    """The launcher (bwrap) or the interpreter died before the worker said it was ready."""


@dataclass(frozen=True)
class LaunchSpec:
    """How a launcher starts the in-sandbox worker."""

    argv: tuple[str, ...]
    env: dict[str, str]
    """The whole environment of the launched process (never the host's)."""
    cwd: str
    clear_dir: str
    """The worker's writable directory, wiped when a pooled worker is reset."""
    sys_path: tuple[str, ...] = ()
    """Extra import paths for the preloads (e.g. a user site-packages)."""
    owned_dir: str | None = None
    """A host directory made for this worker, deleted with it."""
    limits: dict[str, int] = field(default_factory=dict)
    """rlimits (resource module names) the worker sets on itself before anything else."""


def base_limits(cfg: SandboxConfig) -> dict[str, int]:
    mib = 1 << 20
    return {
        "RLIMIT_AS": cfg.memory_mb * mib,
        "RLIMIT_FSIZE": cfg.file_size_mb * mib,
        "RLIMIT_NOFILE": cfg.max_open_files,
        "RLIMIT_CORE": 0,
    }


class Worker:
    """One started worker. Not thread-safe; owned by one session (or idle in a pool).

    bwrap's ``--die-with-parent`` is PR_SET_PDEATHSIG, which fires when the *thread* that
    started the worker exits: a worker started from a short-lived thread dies with it (the
    session then restarts it and reports ``state_lost``). Start sessions from long-lived threads.
    """

    def __init__(
        self, spec: LaunchSpec, cfg: SandboxConfig, *, cgroup: PidsCgroup | None
    ) -> None:
        self.cfg = cfg
        self.cgroup = cgroup
        argv = list(spec.argv)
        if cgroup is not None:
            argv = ["/bin/sh", "-c", _ENTER_CGROUP, str(cgroup.procs_file), *argv]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=spec.env,
            cwd=spec.cwd,
            start_new_session=True,
        )
        assert self.proc.stdin and self.proc.stdout  # PIPE above
        self.channel = Channel(
            self.proc.stdin.fileno(),
            self.proc.stdout.fileno(),
            max_payload=2 * cfg.max_output_bytes + 4096,
        )
        # Kill the tree even if the session is never closed (garbage collection, interpreter exit).
        self._finalizer = weakref.finalize(self, _kill, self.proc, cgroup, spec.owned_dir)
        self.spec = spec

    @property
    def pid(self) -> int:
        """Host pid of the launched process (bwrap, or the worker itself)."""
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and self.proc.poll() is None

    def handshake(self) -> dict[str, Any]:
        """Send the limits and preloads; returns the worker's probe of its own isolation.

        Raises:
            LaunchError: the launcher or interpreter died first; the message carries its stderr.
            SandboxError: the worker started but failed to set up (e.g. a preload raised).
        """
        init = {
            "limits": self.spec.limits,
            "preload": list(self.cfg.preload),
            "sys_path": list(self.spec.sys_path),
            "max_output": self.cfg.max_output_bytes,
            "kill_output": self.cfg.kill_output_bytes,
            "clear_dir": self.spec.clear_dir,
            "grace": self.cfg.kill_grace_s,
        }
        deadline = time.monotonic() + self.cfg.startup_timeout_s
        try:
            self.channel.send(init, b"", deadline=deadline)
            frame = self.channel.receive(deadline=deadline)
        except ChannelError as e:
            raise LaunchError(f"sandbox worker failed to start: {self._stderr() or e}") from e
        if frame.header.get("op") != "ready":
            error = frame.header.get("error", frame.header)
            self.kill()
            raise SandboxError(f"sandbox worker failed to start: {error}")
        probe = frame.header.get("probe")
        return probe if isinstance(probe, dict) else {}

    def run(self, code: bytes, *, timeout_s: float) -> Frame:
        """One block; raises ChannelError when the worker misses timeout + grace or dies."""
        deadline = time.monotonic() + timeout_s + self.cfg.kill_grace_s
        # The CPU limit is a backstop and must not cut a block short of its own wall limit.
        cpu_s = max(self.cfg.cpu_s, math.ceil(timeout_s))
        header = {"op": "run", "timeout": timeout_s, "cpu_s": cpu_s}
        self.channel.send(header, code, deadline=deadline)
        return self.channel.receive(deadline=deadline)

    def reset(self) -> bool:
        """Kill the namespace holder and its leftovers, wipe /tmp, fork a fresh holder."""
        deadline = time.monotonic() + self.cfg.kill_grace_s + 1.0
        try:
            self.channel.send({"op": "reset"}, b"", deadline=deadline)
            return self.channel.receive(deadline=deadline).header.get("op") == "reset"
        except ChannelError:
            return False

    def kill(self) -> None:
        self._finalizer()

    def _stderr(self) -> str:
        """The last line the launcher wrote to stderr; kills the worker."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=0.5)
        text = ""
        if self.proc.stderr is not None:
            os.set_blocking(self.proc.stderr.fileno(), False)
            with contextlib.suppress(OSError):
                text = (self.proc.stderr.read(8192) or b"").decode("utf-8", "replace")
        self.kill()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def _kill(proc: subprocess.Popen[bytes], cgroup: PidsCgroup | None, owned_dir: str | None) -> None:
    """SIGKILL the launcher, its process group, its descendants and the cgroup's members."""
    tree = descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.remove()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    if owned_dir is not None:
        shutil.rmtree(owned_dir, ignore_errors=True)
