"""/proc helpers and shared settings for the sandbox tests."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ttscale.sandbox import SandboxConfig
from ttscale.sandbox._worker_procs import descendants
from ttscale.sandbox.session import WorkerSession
from ttscale.sandbox.worker_sandbox import WorkerSandbox

# No preload makes a worker start in ~0.2 s, not ~1 s. Blocks expected to time out pass
# timeout_s=1.0 themselves; the 5 s default keeps the others from timing out on a busy machine.
FAST = SandboxConfig(preload=(), timeout_s=5.0, pool_size=2)
LOOP_TIMEOUT_S = 1.0


def require_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: apt-get install -y bubblewrap (see .ci/run)")


def state(pid: int) -> str:
    """The /proc state letter of pid, "" when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rfind(")") + 2]


def live(pid: int) -> bool:
    return state(pid) not in ("", "Z", "X")


def tree(root: int) -> list[int]:
    """Live descendants of root (host pids)."""
    return [p for p in descendants(root) if live(p)]


def pidns_members(ns: str) -> list[int]:
    """Live processes anywhere on the host that are in the pid namespace ns."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == ns and live(int(entry)):
                    members.append(int(entry))
            except OSError:
                continue
    return members


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def assert_only_supervisor_and_holder(session: WorkerSession) -> None:
    """After a block, the sandbox holds exactly its supervisor and the namespace holder."""
    root = session.worker_pid
    assert root is not None and live(root), "the sandbox worker is gone"
    assert wait_for(lambda: len(tree(root)) == 2), f"leftover processes: {tree(root)}"


def assert_gone_after_close(session: WorkerSession, sandbox: WorkerSandbox) -> None:
    """Closing the session and its sandbox leaves no process of its pid namespace anywhere."""
    root = session.worker_pid
    assert root is not None
    supervisor = tree(root)[0]
    ns = os.readlink(f"/proc/{supervisor}/ns/pid")
    session.close()
    sandbox.close()
    assert wait_for(lambda: not pidns_members(ns)), f"left behind: {pidns_members(ns)}"
    assert not live(root)
