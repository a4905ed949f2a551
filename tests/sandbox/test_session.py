"""Sessions: persistent state across blocks, recovery, the pool, argument checks, sympy."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from ttscale.errors import SandboxCodeError, SandboxError, SandboxKilledError, SandboxTimeoutError
from ttscale.sandbox import CodeSandbox, ExecResult, SandboxConfig, Session, open_sandbox
from ttscale.sandbox.session import MAX_CODE_BYTES, WorkerSession
from ttscale.sandbox.worker_sandbox import WorkerSandbox

from .helpers import FAST, LOOP_TIMEOUT_S, live, require_bwrap, tree, wait_for


def test_backends_satisfy_the_protocols(sandbox: WorkerSandbox, session: WorkerSession) -> None:
    assert isinstance(sandbox, CodeSandbox)
    assert isinstance(session, Session)


def test_state_persists_across_blocks(session: WorkerSession) -> None:
    session.run("x = 6\ndef double(v):\n    return 2 * v")
    session.run("import math\ny = double(x) * 7")
    assert session.run("print(y, math.gcd(y, 14))").stdout == "84 14\n"


def test_names_defined_before_an_exception_persist_as_in_genprm(session: WorkerSession) -> None:
    result = session.run("a = 1\nb = undefined_name\nc = 3")
    assert (result.kind, result.exc_type) == ("error", "NameError")
    assert result.exc_message == "name 'undefined_name' is not defined"
    assert session.run("print(a, 'c' in globals())").stdout == "1 False\n"


def test_namespace_starts_empty_like_genprms_executor(session: WorkerSession) -> None:
    out = session.run("print(sorted(k for k in globals() if k != '__builtins__'), __name__)")
    assert out.stdout == "[] builtins\n"


@pytest.mark.parametrize(
    "code",
    ["while True: pass", "import ctypes\nctypes.string_at(0)", "import os\nos._exit(1)"],
    ids=["timeout", "segfault", "os-exit"],
)
def test_a_failed_block_leaves_earlier_state_intact(session: WorkerSession, code: str) -> None:
    session.run("total = 10")
    session.run(f"total = 99\n{code}", timeout_s=LOOP_TIMEOUT_S)
    assert session.run("print(total)").stdout == "10\n"


def test_a_block_leaving_threads_is_dropped_but_reported(session: WorkerSession) -> None:
    session.run("n = 1")
    code = "import threading, time\nn = 2\nthreading.Thread(target=time.sleep, args=(5,)).start()"
    result = session.run(code)
    assert result.kind == "ok"
    assert "namespace changes were dropped" in result.stderr
    after = session.run("print(n)")
    assert after.stdout == "1\n", after


def test_stdout_is_captured_and_stderr_carries_the_traceback(session: WorkerSession) -> None:
    result = session.run("print('out')\nimport sys\nprint('err', file=sys.stderr)\n1/0")
    assert result.stdout == "out\n"
    assert result.stderr.startswith("err\n")
    assert "ZeroDivisionError: division by zero" in result.stderr


def test_a_dead_worker_is_restarted_and_the_loss_reported(session: WorkerSession) -> None:
    session.run("kept = 1")
    assert session.worker_pid is not None
    root = session.worker_pid
    os.kill(root, signal.SIGKILL)  # the launcher dies while idle: its tree dies with it
    assert wait_for(lambda: not live(root))
    result = session.run("print('fresh')")
    assert (result.kind, result.stdout, result.state_lost) == ("ok", "fresh\n", True)
    assert session.run("print('kept' in globals())").stdout == "False\n"


def test_a_worker_past_the_hard_deadline_is_killed_as_a_timeout(sandbox: WorkerSandbox) -> None:
    # A supervisor that cannot enforce the block deadline (here: stopped by a signal) must not
    # hang the host: the host's own deadline kills the whole sandbox.
    session = sandbox.open_session()
    assert session.worker_pid is not None
    root = session.worker_pid
    os.kill(tree(root)[0], signal.SIGSTOP)
    result = session.run("print(1)", timeout_s=0.5)
    assert (result.kind, result.state_lost) == ("timeout", True)
    assert result.wall_s < 0.5 + FAST.kill_grace_s + 1.0
    assert not live(root)
    assert session.run("print(2)").stdout == "2\n"
    session.close()


def test_a_request_read_after_its_deadline_never_runs(sandbox: WorkerSandbox) -> None:
    # The holder is frozen while the block's deadline passes, and thawed later: it must skip
    # the stale request (not run it after the time-out was reported) and keep its state.
    with sandbox.open_session() as session:
        session.run("kept = 'yes'")
        root = session.worker_pid
        assert root is not None
        holder = max(tree(root))  # the newest process: the child that ran the last block
        os.kill(holder, signal.SIGSTOP)
        thaw = threading.Timer(0.6, os.kill, (holder, signal.SIGCONT))
        thaw.start()
        result = session.run("open('/tmp/stale', 'w').write('ran')", timeout_s=0.3)
        thaw.join()
        assert (result.kind, result.state_lost) == ("timeout", False)
        after = session.run("import os\nprint(kept, os.path.exists('/tmp/stale'))")
        assert after.stdout == "yes False\n"


def test_closed_pooled_sessions_come_back_empty_with_a_clean_tmp(sandbox: WorkerSandbox) -> None:
    with sandbox.open_session() as first:
        first.run("secret = 1\nopen('/tmp/left-over', 'w').write('x')")
        pid = first.worker_pid
    with sandbox.open_session() as second:
        assert second.worker_pid == pid  # the same warm worker, reset
        out = second.run("import os\nprint('secret' in globals(), os.listdir('/tmp'))")
        assert out.stdout == "False []\n"


@pytest.mark.parametrize("timeout_s", [0, -1.0, float("inf"), float("nan")])
def test_bad_timeouts_are_refused(session: WorkerSession, timeout_s: float) -> None:
    with pytest.raises(SandboxError, match="timeout_s must be a positive number"):
        session.run("print(1)", timeout_s=timeout_s)


def test_oversized_code_is_refused(session: WorkerSession) -> None:
    with pytest.raises(SandboxError, match=f"at most {MAX_CODE_BYTES}"):
        session.run("#" * (MAX_CODE_BYTES + 1))


def test_a_closed_session_refuses_to_run(sandbox: WorkerSandbox) -> None:
    session = sandbox.open_session()
    session.close()
    session.close()  # idempotent
    with pytest.raises(SandboxError, match="session is closed"):
        session.run("print(1)")


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (ExecResult(kind="timeout"), SandboxTimeoutError),
        (ExecResult(kind="killed", exc_message="signal 11"), SandboxKilledError),
        (ExecResult(kind="output_limit"), SandboxKilledError),
        (ExecResult(kind="error", exc_type="NameError", exc_message="x"), SandboxCodeError),
        (ExecResult(kind="format"), SandboxCodeError),
    ],
)
def test_raise_for_status_gives_distinct_types(result: ExecResult, error: type) -> None:
    with pytest.raises(error):
        result.raise_for_status()
    assert not issubclass(SandboxTimeoutError, SandboxKilledError)


@pytest.fixture(scope="module")
def sympy_session() -> Iterator[WorkerSession]:
    require_bwrap()
    with open_sandbox(SandboxConfig(pool_size=0)) as sb, sb.open_session() as session:
        assert isinstance(session, WorkerSession)
        yield session


def test_sympy_is_preloaded(sympy_session: WorkerSession) -> None:
    result = sympy_session.run("import sys\nprint('sympy' in sys.modules)")
    assert result.stdout == "True\n"


def test_28_heavy_legitimate_sympy_work_finishes_in_genprms_5_seconds(
    sympy_session: WorkerSession,
) -> None:
    code = (
        "import sympy as sp\nx = sp.symbols('x')\n"
        "print(sp.factorint(2**64 + 1), sp.solve(x**3 - 6*x**2 + 11*x - 6, x))\n"
        "print(sp.integrate(sp.sin(x)**2, (x, 0, sp.pi)), sp.Rational(3, 4) + sp.Rational(1, 4))"
    )
    result = sympy_session.run(code, timeout_s=5.0)
    assert result.kind == "ok", result
    assert result.stdout == "{274177: 1, 67280421310721: 1} [1, 2, 3]\npi/2 1\n"
