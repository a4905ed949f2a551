"""The explicitly weaker backend: same worker and strings, rlimits, no namespaces."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttscale.sandbox import open_sandbox
from ttscale.sandbox.session import WorkerSession
from ttscale.sandbox.worker_sandbox import WorkerSandbox

from .helpers import FAST, LOOP_TIMEOUT_S, live, tree, wait_for

WEAK = FAST.model_copy(update={"backend": "rlimits-only"})


@pytest.fixture(scope="module")
def sandbox() -> Iterator[WorkerSandbox]:
    sb = open_sandbox(WEAK)
    assert isinstance(sb, WorkerSandbox)
    yield sb
    sb.close()


def test_reports_rlimits_and_no_namespaces(sandbox: WorkerSandbox) -> None:
    report = sandbox.isolation
    assert report.backend == "rlimits-only"
    assert report.rlimits
    assert not (report.user_ns or report.pid_ns or report.net_ns or report.mount_ns)


def test_state_timeouts_and_memory_limits_still_hold(session: WorkerSession) -> None:
    session.run("kept = 5")
    assert session.run("while True: pass", timeout_s=LOOP_TIMEOUT_S).kind == "timeout"
    result = session.run("bytearray(8 * 2**30)")
    assert (result.kind, result.exc_type) == ("error", "MemoryError")
    assert session.run("print(kept)").stdout == "5\n"


def test_runs_in_a_private_scrubbed_directory(session: WorkerSession) -> None:
    out = session.run("import os\nprint(os.getcwd())\nprint(sorted(os.environ))").stdout
    cwd, env = out.splitlines()
    assert Path(cwd).name.startswith("ttscale-sbx-")
    assert "TTSCALE" not in env and "PYTHONPATH" not in env


def test_setsid_orphans_are_killed_and_the_workdir_removed(sandbox: WorkerSandbox) -> None:
    session = sandbox.open_session()
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
        "print(os.getcwd())"
    )
    result = session.run(code)
    assert result.kind == "ok"
    assert_only_supervisor_and_holder_weak(session)
    root = session.worker_pid
    assert root is not None
    session.close()
    sandbox.close()
    assert wait_for(lambda: not live(root))
    assert not Path(result.stdout.strip()).exists()


def assert_only_supervisor_and_holder_weak(session: WorkerSession) -> None:
    # Without bwrap the launched process is the supervisor itself: its tree is the holder.
    root = session.worker_pid
    assert root is not None
    assert wait_for(lambda: len(tree(root)) == 1), tree(root)
    assert os.getpid() > 0


