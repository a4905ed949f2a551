"""WorkerSandbox: a CodeSandbox that runs a launcher's warm workers, checked at start-up.

Construction starts one worker, reads its probe of its own isolation (uid map, pid, network
interfaces, root directory, rlimits) and refuses, with one line saying how to fix it, when a
layer the launcher requires is missing. That worker then waits in the pool, so the check costs
nothing extra. Closed sessions return their worker, reset to an empty namespace, to the pool:
opening a session is then a fork, not an interpreter start plus a sympy import (~1 s).
"""

from __future__ import annotations

import os
import shutil
from types import TracebackType
from typing import Any, Protocol

from ttscale.errors import SandboxError, SandboxUnavailableError
from ttscale.sandbox._cgroup import PidsCgroup, pids_cgroup_root
from ttscale.sandbox._process import LaunchSpec, Worker
from ttscale.sandbox.base import IsolationReport
from ttscale.sandbox.config import SandboxConfig
from ttscale.sandbox.session import WorkerSession

HOW_TO_FIX = (
    "install bubblewrap (apt-get install -y bubblewrap) or opt in to weaker isolation "
    "explicitly with SandboxConfig(backend='rlimits-only')"
)


class Launcher(Protocol):
    """How one backend starts a worker and judges the isolation the worker reports."""

    name: str

    def spec(self, *, process_cap: str | None) -> LaunchSpec: ...

    def assess(self, probe: dict[str, Any], *, process_cap: str | None) -> IsolationReport: ...

    def missing(self, report: IsolationReport) -> list[str]: ...


class WorkerSandbox:
    """A CodeSandbox over warm workers. Close it (or use ``with``) to kill idle workers."""

    def __init__(self, launcher: Launcher, cfg: SandboxConfig) -> None:
        self.config = cfg
        self._launcher = launcher
        self._idle: list[Worker] = []
        self._cgroup_root = pids_cgroup_root() if cfg.max_processes is not None else None
        try:
            worker, probe = self._start(check=True)
        except SandboxUnavailableError:
            raise
        except SandboxError as e:
            raise self._refusal(str(e)) from e
        self._isolation = launcher.assess(probe, process_cap=self._process_cap(worker))
        missing = launcher.missing(self._isolation)
        if missing:
            worker.kill()
            raise self._refusal(f"missing {', '.join(missing)}")
        self._idle.append(worker)

    @property
    def isolation(self) -> IsolationReport:
        return self._isolation

    def open_session(self) -> WorkerSession:
        """A fresh, empty namespace (a pooled warm worker when one is idle)."""
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return WorkerSession(self, worker)
            worker.kill()
        return WorkerSession(self, self.start_worker())

    def start_worker(self) -> Worker:
        """Start a worker (a session calls this when its worker died).

        Raises:
            SandboxError: the worker did not start.
        """
        return self._start(check=False)[0]

    def release(self, worker: Worker) -> None:
        """Take a worker back from a closed session: reset and pool it, or kill it."""
        if len(self._idle) < self.config.pool_size and worker.alive and worker.reset():
            self._idle.append(worker)
        else:
            worker.kill()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().kill()

    def __enter__(self) -> WorkerSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self, *, check: bool) -> tuple[Worker, dict[str, Any]]:
        cgroup = self._new_cgroup(strict=not check)
        spec = self._launcher.spec(process_cap=_cap_name(cgroup, self.config))
        try:
            worker = Worker(spec, self.config, cgroup)
        except OSError as e:
            if cgroup is not None:
                cgroup.remove()
            if spec.owned_dir is not None:
                shutil.rmtree(spec.owned_dir, ignore_errors=True)
            raise SandboxError(f"cannot start {spec.argv[0]}: {e.strerror}") from e
        return worker, worker.handshake()

    def _new_cgroup(self, *, strict: bool) -> PidsCgroup | None:
        if self._cgroup_root is None or self.config.max_processes is None:
            return None
        try:
            return PidsCgroup(self._cgroup_root, self.config.max_processes)
        except OSError as e:
            if strict:
                raise SandboxError(f"cannot create a pids cgroup: {e}") from e
            self._cgroup_root = None
            return None

    def _process_cap(self, worker: Worker) -> str | None:
        return _cap_name(worker.cgroup, self.config)

    def _refusal(self, reason: str) -> SandboxUnavailableError:
        return SandboxUnavailableError(
            f"sandbox backend {self._launcher.name!r} refuses to run code: {reason}; {HOW_TO_FIX}"
        )


def _cap_name(cgroup: PidsCgroup | None, cfg: SandboxConfig) -> str | None:
    """The process cap a worker gets: its pids cgroup, else RLIMIT_NPROC where that works."""
    if cfg.max_processes is None:
        return None
    if cgroup is not None:
        return "pids-cgroup"
    # RLIMIT_NPROC is ignored for uid 0 (reference/sandbox-and-reliability.md F4).
    return "rlimit-nproc" if os.geteuid() != 0 else None
