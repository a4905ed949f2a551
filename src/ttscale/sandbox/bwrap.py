"""The default sandbox: bubblewrap (bwrap) around a warm worker.

Layers (reference/sandbox-and-reliability.md §0 item 2, measured on machines like this one):

* new user, pid, network, ipc, uts (and cgroup) namespaces; ``--disable-userns`` so code cannot
  nest user namespaces; ``--die-with-parent`` and ``--new-session`` (no TIOCSTI injection);
* a root built from explicit read-only binds: /usr, the interpreter's prefix and the preloads'
  site directories; no /etc, /home, /root contents or working tree; / and /dev read-only;
* a size-limited tmpfs at /tmp, the only writable place;
* ``--clearenv`` plus a minimal environment, and bwrap itself started with a minimal one (F1);
* rlimits set by the worker on itself (AS, FSIZE, NOFILE, CORE; CPU per block; NPROC when the
  sandbox's real uid is not root), a pids cgroup as the process cap for root, and the
  supervisor's per-block deadline plus the host's hard deadline that kills the whole tree.

Not covered (documented, not tested as protections): no seccomp filter (every syscall the
kernel allows an unprivileged user is reachable, so a kernel bug is an escape); no memory
cgroup (AS is per process, so a sandbox can hold up to max_processes × memory_mb); no CPU quota
(a block may use every core until its deadline); the same kernel as the host (no gVisor or VM);
/proc/cpuinfo and similar system files are readable.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ttscale.errors import SandboxUnavailableError
from ttscale.sandbox._process import WORKER_FILES, WORKER_SCRIPT, LaunchSpec, base_limits
from ttscale.sandbox.base import IsolationReport
from ttscale.sandbox.config import SandboxConfig
from ttscale.sandbox.worker_sandbox import HOW_TO_FIX, WorkerSandbox

SANDBOX_UID = 62001
_HOST_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
SANDBOX_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    # One thread per BLAS and malloc arena: threads count against RLIMIT_AS (F6).
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}
REQUIRED = ("user_ns", "pid_ns", "net_ns", "mount_ns", "rlimits")


def bwrap_sandbox(cfg: SandboxConfig) -> WorkerSandbox:
    """The bwrap-backed CodeSandbox (registered as "bwrap").

    Raises:
        SandboxUnavailableError: bwrap is missing or a required layer does not work here.
    """
    return WorkerSandbox(BwrapLauncher(cfg), cfg)


class BwrapLauncher:
    name = "bwrap"

    def __init__(self, cfg: SandboxConfig) -> None:
        found = shutil.which(cfg.bwrap_path)
        if found is None:
            raise SandboxUnavailableError(
                f"sandbox backend 'bwrap' refuses to run code: bubblewrap not found "
                f"(bwrap_path={cfg.bwrap_path!r}); {HOW_TO_FIX}"
            )
        self.bwrap = str(Path(found).absolute())
        self.cfg = cfg
        self.sys_path = preload_paths(cfg.preload)

    def spec(self, *, process_cap: str | None) -> LaunchSpec:
        limits = base_limits(self.cfg)
        if process_cap == "rlimit-nproc" and self.cfg.max_processes is not None:
            limits["RLIMIT_NPROC"] = self.cfg.max_processes
        argv = [self.bwrap, *self._namespace_args(), *self._mount_args()]
        argv += [sys.executable, "-I", "-B", f"/sbx/{WORKER_SCRIPT.name}"]
        return LaunchSpec(
            argv=tuple(argv),
            env=dict(_HOST_ENV),
            cwd="/",
            clear_dir="/tmp",
            sys_path=self.sys_path,
            limits=limits,
        )

    def _namespace_args(self) -> list[str]:
        args = ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        # --as-pid-1: the supervisor is the namespace's init. Signals from inside the namespace
        # cannot kill it, and no bwrap reaper is left inside that code could ptrace and use to
        # escape the rlimits and the per-block kill (the supervisor is non-dumpable).
        args += ["--unshare-cgroup-try", "--disable-userns", "--die-with-parent", "--as-pid-1"]
        args += ["--new-session", "--hostname", "sandbox", "--clearenv"]
        for key, value in SANDBOX_ENV.items():
            args += ["--setenv", key, value]
        return args

    def _mount_args(self) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            path = Path(top)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), top]
            elif path.is_dir():
                args += ["--ro-bind", top, top]
        for prefix in interpreter_paths(self.sys_path):
            args += ["--ro-bind", prefix, prefix]
        for script in WORKER_FILES:
            args += ["--ro-bind", str(script), f"/sbx/{script.name}"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", str(self.cfg.tmpfs_mb << 20), "--tmpfs", "/tmp"]
        # bwrap's root and /dev are writable tmpfs mounts of unbounded size unless remounted.
        args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]
        return args

    def assess(self, probe: dict[str, Any], *, process_cap: str | None) -> IsolationReport:
        uid_map = str(probe.get("uid_map", "")).split()
        wanted = {k: [v, v] for k, v in self.spec(process_cap=process_cap).limits.items()}
        return IsolationReport(
            backend=self.name,
            bwrap=self.bwrap,
            user_ns=bool(uid_map) and uid_map[:3] != ["0", "0", "4294967295"],
            pid_ns=probe.get("pid") == 1,
            net_ns=probe.get("ifaces") == ["lo"],
            mount_ns=isinstance(probe.get("root"), list) and "etc" not in probe["root"],
            rlimits=probe.get("limits") == wanted,
            process_cap=process_cap,
        )

    def missing(self, report: IsolationReport) -> list[str]:
        gaps = [name for name in REQUIRED if not getattr(report, name)]
        if self.cfg.max_processes is not None and report.process_cap is None:
            gaps.append(
                "a process cap (as root it needs a writable pids cgroup under /sys/fs/cgroup; "
                "or set max_processes=None to run without one)"
            )
        return gaps


def preload_paths(modules: tuple[str, ...]) -> tuple[str, ...]:
    """The site directories the preloaded modules import from (found without importing)."""
    paths: list[str] = []
    for name in modules:
        spec = importlib.util.find_spec(name.split(".")[0])
        if spec is None or spec.origin in (None, "built-in", "frozen"):
            continue
        origin = Path(str(spec.origin)).resolve()
        site = origin.parent.parent if spec.submodule_search_locations else origin.parent
        if str(site) not in paths:
            paths.append(str(site))
    return tuple(paths)


def interpreter_paths(extra: tuple[str, ...]) -> list[str]:
    """Host directories to bind read-only so the interpreter, its stdlib and preloads work."""
    candidates = [sys.base_prefix, sys.prefix, str(Path(sys.executable).resolve().parent), *extra]
    resolved = sorted({str(Path(p).resolve()) for p in candidates} | set(candidates))
    kept: list[str] = []
    for path in resolved:
        inside_usr = path == "/usr" or path.startswith("/usr/")
        covered = any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept)
        if not inside_usr and not covered and Path(path).exists():
            kept.append(path)
    return kept
