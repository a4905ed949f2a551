"""Hostile inputs against time, memory, processes, output and the interpreter itself.

One test per input of reference/sandbox-and-reliability.md §4 (numbers in the ids). Each runs
in a session whose earlier block defined ``canary``, and asserts: the reported kind (and
exception), the wall time, that exactly the supervisor and the namespace holder are left, and
that the session still works with its earlier state (or says it lost it). The host is this
pytest process: that it is still running is the "harness alive" check.
"""

from __future__ import annotations

import json
import os
import resource
from dataclasses import dataclass
from pathlib import Path

import pytest

from ttscale.sandbox import open_sandbox
from ttscale.sandbox.session import WorkerSession
from ttscale.sandbox.worker_sandbox import WorkerSandbox

from .helpers import (
    FAST,
    LOOP_TIMEOUT_S,
    assert_gone_after_close,
    assert_only_supervisor_and_holder,
)


@dataclass(frozen=True)
class Case:
    code: str
    kinds: tuple[str, ...]
    exc_types: tuple[str | None, ...] = (None,)
    timeout_s: float = FAST.timeout_s


CASES = {
    "01-busy-loop": Case("while True: pass", ("timeout",), timeout_s=LOOP_TIMEOUT_S),
    "02-sleep": Case("import time\ntime.sleep(3600)", ("timeout",), timeout_s=LOOP_TIMEOUT_S),
    "03-c-loop-sum": Case("sum(range(10**11))", ("timeout",), timeout_s=LOOP_TIMEOUT_S),
    "03-c-loop-regex": Case(
        "import re\nre.match(r'(a+)+$', 'a' * 40 + 'b')", ("timeout",), timeout_s=LOOP_TIMEOUT_S
    ),
    "04-alarm-disabled": Case(
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nsignal.alarm(0)\n"
        "while True: pass",
        ("timeout",),
        timeout_s=LOOP_TIMEOUT_S,
    ),
    "06-huge-allocation": Case("bytearray(8 * 2**30)", ("error",), ("MemoryError",)),
    "08-thread-bomb": Case(
        "import threading, time\nts = []\nwhile True:\n"
        "    t = threading.Thread(target=time.sleep, args=(30,), daemon=True)\n"
        "    t.start()\n    ts.append(t)",
        ("error",),
        ("RuntimeError",),
    ),
    "13-input": Case("input()", ("error",), ("EOFError",)),
    "19-sys-exit": Case("import sys\nsys.exit(3)", ("exit",), ("SystemExit",)),
    "19-raise-systemexit": Case("raise SystemExit", ("exit",), ("SystemExit",)),
    "19-keyboard-interrupt": Case("raise KeyboardInterrupt", ("error",), ("KeyboardInterrupt",)),
    "19-os-exit": Case("import os\nos._exit(0)", ("exit",), ("SystemExit",)),
    "20-segfault": Case("import ctypes\nctypes.string_at(0)", ("killed",), ("SandboxKilled",)),
    "21-deep-recursion": Case(
        "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)",
        ("timeout", "error", "killed"),
        (None, "MemoryError", "RecursionError", "SandboxKilled"),
        timeout_s=LOOP_TIMEOUT_S,
    ),
    "22-open-100k-files": Case(
        "fs = [open('/dev/null') for _ in range(100000)]", ("error",), ("OSError",)
    ),
    "23-write-4gib-file": Case(
        "f = open('/tmp/big', 'wb')\nfor _ in range(4096):\n    f.write(bytes(2**20))",
        ("error",),
        ("OSError",),
    ),
    "25-nul-in-code": Case("print(1)\x00", ("error",), ("SyntaxError", "ValueError")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_contained_and_reported(session: WorkerSession, name: str) -> None:
    case = CASES[name]
    assert session.run("canary = 'still here'").ok
    result = session.run(case.code, timeout_s=case.timeout_s)
    assert result.kind in case.kinds, result
    assert result.exc_type in case.exc_types, result
    assert result.wall_s <= case.timeout_s + 1.0
    assert not result.state_lost
    assert_only_supervisor_and_holder(session)
    assert session.run("print(canary)").stdout == "still here\n"


def test_exit_codes_are_reported(session: WorkerSession) -> None:
    assert session.run("import sys\nsys.exit(3)").exit_code == 3
    assert session.run("import os\nos._exit(7)").exit_code == 7


def test_segfault_reports_the_signal(session: WorkerSession) -> None:
    result = session.run("import ctypes\nctypes.string_at(0)")
    assert result.signal == 11
    assert result.exc_message == "process killed by signal SIGSEGV"


def test_05_memory_blow_up_is_a_memory_error_and_host_rss_is_unaffected(
    sandbox: WorkerSandbox,
) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    small = open_sandbox(FAST.model_copy(update={"memory_mb": 256}))
    with small, small.open_session() as session:
        result = session.run("x = []\nwhile 1:\n    x.append(bytearray(5 * 10**7))")
        assert (result.kind, result.exc_type) == ("error", "MemoryError"), result
        assert_only_supervisor_and_holder(session)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50 * 1024


def test_07_fork_bomb_hits_the_process_cap_and_leaves_nothing(session: WorkerSession) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = session.run(code, timeout_s=LOOP_TIMEOUT_S)
    assert result.kind == "timeout"
    assert result.wall_s <= LOOP_TIMEOUT_S + 1.0
    assert_only_supervisor_and_holder(session)
    assert _pids_cap_hits(session) > 0


def _pids_cap_hits(session: WorkerSession) -> int:
    """How often the worker's pids cgroup refused a fork (its pids.events "max" counter)."""
    pid = session.worker_pid
    line = next(
        entry
        for entry in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        if "pids" in entry.split(":")[1].split(",")
    )
    events = Path("/sys/fs/cgroup/pids", line.split(":", 2)[2].lstrip("/"), "pids.events")
    return int(events.read_text().split()[1])


def test_09_setsid_grandchild_dies_and_the_block_returns_promptly(
    sandbox: WorkerSandbox,
) -> None:
    session = sandbox.open_session()
    code = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
        "    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\nprint('parent done')"
    )
    result = session.run(code, timeout_s=5)
    assert (result.kind, result.stdout) == ("ok", "parent done\n")
    assert result.wall_s < 2.0
    assert_only_supervisor_and_holder(session)
    session.close()


def test_10_endless_output_is_killed_and_capped_head_and_tail(session: WorkerSession) -> None:
    result = session.run("i = 0\nwhile 1:\n    print('x' * 999, i)\n    i += 1")
    cap = FAST.max_output_bytes
    assert result.kind == "output_limit" and result.truncated
    assert result.wall_s < 2.0
    assert len(result.stdout.encode()) <= cap
    assert result.stdout.startswith("x" * 999 + " 0\n")
    assert "bytes truncated" in result.stdout
    assert_only_supervisor_and_holder(session)


def test_11_single_huge_write_is_killed_at_the_cap(session: WorkerSession) -> None:
    result = session.run("import sys\nsys.stdout.write('y' * 2 * 10**8)", timeout_s=4)
    assert result.kind == "output_limit" and result.truncated
    assert len(result.stdout.encode()) <= FAST.max_output_bytes
    assert_only_supervisor_and_holder(session)


def test_12_bad_bytes_come_back_as_valid_utf8_without_nul(session: WorkerSession) -> None:
    code = (
        "import sys\nsys.stdout.flush()\nsys.stdout.buffer.write(b'a\\x00b\\xff\\xfe\\n')\n"
        "sys.stdout.buffer.flush()\nprint('\\ud800 \\x1b[31mred\\r')"
    )
    result = session.run(code)
    assert result.kind == "ok"
    assert "\x00" not in result.stdout
    assert result.stdout.startswith("ab\ufffd\ufffd\n")
    assert "\x1b[31mred\r" in result.stdout
    json.dumps({"out": result.stdout}, ensure_ascii=False).encode("utf-8")


def test_14_closed_stdout_then_loop_times_out_keeping_earlier_output(
    session: WorkerSession,
) -> None:
    code = (
        "import os\nprint('This is the end', flush=True)\nos.close(1)\nos.close(2)\nwhile 1: pass"
    )
    result = session.run(code, timeout_s=LOOP_TIMEOUT_S)
    assert result.kind == "timeout"
    assert result.stdout == "This is the end\n"
    assert_only_supervisor_and_holder(session)


def test_25_code_over_128_kib_is_delivered(session: WorkerSession) -> None:
    code = "total = 0\n" + "total += 1\n" * 20_000 + "print(total)"
    assert len(code.encode()) > 128 * 1024
    assert session.run(code).stdout == "20000\n"


def test_no_process_of_the_sandbox_survives_closing_it() -> None:
    sb = open_sandbox(FAST)
    assert isinstance(sb, WorkerSandbox)
    session = sb.open_session()
    session.run(
        "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        time.sleep(60)\nprint(os.getpid())"
    )
    assert_gone_after_close(session, sb)
    assert os.getpid() > 0  # the harness is alive
