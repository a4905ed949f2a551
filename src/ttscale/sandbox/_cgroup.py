"""A pids cgroup per worker: the process cap that works for root, and a whole-tree kill.

RLIMIT_NPROC is not enforced for root, not even inside bwrap's root-mapped user namespace,
while a pids cgroup caps fork and thread bombs (reference/sandbox-and-reliability.md F4). The
cgroup also lists every process of the sandbox, ``setsid()`` escapees included, so killing
its members kills the whole tree.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

_PREFIX = "ttscale-sbx-"
_counter = itertools.count()


def pids_cgroup_root() -> Path | None:
    """Our own cgroup in a writable pids hierarchy (v1, or v2 with pids enabled), or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            base = Path("/sys/fs/cgroup/pids") / path.lstrip("/")
        elif controllers == "" and _v2_has_pids():
            base = Path("/sys/fs/cgroup") / path.lstrip("/")
        else:
            continue
        if (base / "cgroup.procs").is_file() and os.access(base, os.W_OK):
            return base
    return None


def _v2_has_pids() -> bool:
    try:
        return "pids" in Path("/sys/fs/cgroup/cgroup.subtree_control").read_text().split()
    except OSError:
        return False


class PidsCgroup:
    """One child cgroup with ``pids.max``; removed (after killing its members) by ``remove``."""

    def __init__(self, root: Path, max_pids: int) -> None:
        _remove_stale(root)
        self.path = root / f"{_PREFIX}{os.getpid()}-{next(_counter)}"
        self.path.mkdir()
        try:
            (self.path / "pids.max").write_text(str(max_pids))
        except OSError:
            self.path.rmdir()
            raise

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def members(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> None:
        for _ in range(1000):
            members = self.members()
            if not members:
                return
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.002)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(500):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY while killed members are still being torn down
                time.sleep(0.005)


def _remove_stale(root: Path) -> None:
    """Remove empty cgroups left by ttscale processes that died without cleaning up."""
    for path in root.glob(f"{_PREFIX}*"):
        owner = path.name[len(_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                path.rmdir()
