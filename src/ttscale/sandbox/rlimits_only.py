"""The explicitly weaker sandbox: the same warm worker as a plain subprocess with rlimits.

Only for machines where bubblewrap cannot run (inside Docker's default seccomp profile, on
Ubuntu with AppArmor's user-namespace restriction) and only on explicit opt-in
(``SandboxConfig(backend="rlimits-only")``). It keeps: a separate process tree that cannot take
the host down (exits, segfaults, hangs), rlimits, a scrubbed environment, a private temporary
working directory, the per-block and hard deadlines, output caps, and a pids cgroup when the
host offers one.

Not covered, unlike bwrap: the code runs as the host user (as root if ttscale runs as root),
sees the whole file system and network (it can read secrets in files, write anywhere the user
can, reach 127.0.0.1 servers), can signal or ptrace the user's other processes, and without a
cgroup a ``setsid()`` orphan can outlive the session. Treat it as no security boundary.
"""

from __future__ import annotations

import sys
import tempfile
from typing import Any

from ttscale.sandbox._process import WORKER_SCRIPT, LaunchSpec, base_limits
from ttscale.sandbox.base import IsolationReport
from ttscale.sandbox.bwrap import SANDBOX_ENV, preload_paths
from ttscale.sandbox.config import SandboxConfig
from ttscale.sandbox.worker_sandbox import WorkerSandbox


def rlimits_only_sandbox(cfg: SandboxConfig) -> WorkerSandbox:
    """The rlimits-only CodeSandbox (registered as "rlimits-only").

    Raises:
        SandboxUnavailableError: even the rlimits or the worker do not work here.
    """
    return WorkerSandbox(RlimitsOnlyLauncher(cfg), cfg)


class RlimitsOnlyLauncher:
    name = "rlimits-only"

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.sys_path = preload_paths(cfg.preload)

    def spec(self, *, process_cap: str | None) -> LaunchSpec:
        # No RLIMIT_NPROC: without a user namespace it counts every process of the host user.
        workdir = tempfile.mkdtemp(prefix="ttscale-sbx-")
        env = dict(SANDBOX_ENV, HOME=workdir, TMPDIR=workdir)
        return LaunchSpec(
            argv=(sys.executable, "-I", "-B", str(WORKER_SCRIPT)),
            env=env,
            cwd=workdir,
            clear_dir=workdir,
            sys_path=self.sys_path,
            owned_dir=workdir,
            limits=base_limits(self.cfg),
        )

    def assess(self, probe: dict[str, Any], *, process_cap: str | None) -> IsolationReport:
        wanted = {k: [v, v] for k, v in base_limits(self.cfg).items()}
        return IsolationReport(
            backend=self.name,
            rlimits=probe.get("limits") == wanted,
            process_cap="pids-cgroup" if process_cap == "pids-cgroup" else None,
        )

    def missing(self, report: IsolationReport) -> list[str]:
        return [] if report.rlimits else ["rlimits"]
