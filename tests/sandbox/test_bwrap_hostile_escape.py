"""Hostile inputs that try to leave the sandbox: secrets, host files, network, host processes.

Inputs 15-18, 24 and 26 of reference/sandbox-and-reliability.md §4. Each test plants a canary
on the host (an environment secret, a file, a listening socket, this process), lets the code
go for it, and asserts the canary is untouched and the session reports what happened.
"""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttscale.sandbox import open_sandbox
from ttscale.sandbox.session import WorkerSession
from ttscale.sandbox.worker_sandbox import WorkerSandbox

from .helpers import FAST, assert_only_supervisor_and_holder, require_bwrap

SECRET = "sk-ttscale-fake-secret-4b1d"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[WorkerSandbox]:
    """A sandbox whose workers all start while this process's environment holds a secret."""
    require_bwrap()
    os.environ["TTSCALE_FAKE_API_KEY"] = SECRET
    try:
        sb = open_sandbox(FAST)
        assert isinstance(sb, WorkerSandbox)
        yield sb
        sb.close()
    finally:
        del os.environ["TTSCALE_FAKE_API_KEY"]


def test_15_environment_and_process_environs_hold_no_secret(session: WorkerSession) -> None:
    code = f"""
import os
seen = [repr(dict(os.environ))]
for pid in ['self', '1', '2', '3', '{os.getpid()}', '{os.getppid()}']:
    try:
        seen.append(open(f'/proc/{{pid}}/environ', 'rb').read().decode('utf-8', 'replace'))
    except OSError as e:
        seen.append(f'{{pid}}: {{type(e).__name__}}')
print('\\n'.join(seen))
"""
    result = session.run(code)
    assert result.kind == "ok", result
    assert SECRET not in result.stdout
    assert "TTSCALE_FAKE_API_KEY" not in result.stdout
    assert f"{os.getpid()}: FileNotFoundError" in result.stdout  # the host is not visible


@pytest.mark.parametrize(
    "path",
    ["/etc/shadow", "/etc/passwd", "/root/.ssh", "/home", str(Path.cwd()), "/proc/1/root/etc"],
)
def test_15_host_files_are_absent(session: WorkerSession, path: str) -> None:
    result = session.run(f"import os\nprint(os.listdir({path!r}) if os.path.isdir({path!r}) "
                         f"else open({path!r}).read())")
    assert result.kind == "error", result
    assert result.exc_type in ("FileNotFoundError", "PermissionError")


def test_16_writes_and_deletes_outside_the_tmpfs_leave_the_host_untouched(
    session: WorkerSession, tmp_path: Path
) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("intact")
    host_tmp_marker = Path("/tmp") / f"ttscale-sbx-test-{os.getpid()}"
    code = f"""
import os, shutil, posix
attempts = [
    lambda: os.remove({str(canary)!r}),
    lambda: shutil.rmtree({str(tmp_path)!r}),
    lambda: open({str(canary)!r}, 'w').write('pwned'),
    lambda: open('/usr/ttscale-pwned', 'w'),
    lambda: open('/etc/ttscale-pwned', 'w'),
    lambda: open('/ttscale-pwned', 'w'),
    lambda: open('/dev/ttscale-pwned', 'w'),
    lambda: posix.unlink({str(canary)!r}),
]
for attempt in attempts:
    try:
        attempt()
        print('SUCCEEDED')
    except OSError as e:
        print(type(e).__name__)
open({str(host_tmp_marker)!r}, 'w').write('inside only')
print(posix.system('rm -rf {tmp_path}; touch {tmp_path}/pwned 2>/dev/null; echo done'))
"""
    result = session.run(code)
    assert result.kind == "ok", result
    assert "SUCCEEDED" not in result.stdout
    assert canary.read_text() == "intact"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canary.txt"]
    assert not host_tmp_marker.exists()  # the sandbox's /tmp is its own tmpfs


def test_16_tmpfs_is_writable_and_size_limited(session: WorkerSession) -> None:
    code = (
        "f = open('/tmp/fill', 'wb')\ntry:\n    for _ in range(200):\n"
        "        f.write(bytes(2**20))\n        f.flush()\nexcept OSError as e:\n"
        "    print(e.errno)"
    )
    result = session.run(code)
    assert result.kind == "ok", result
    # EFBIG: RLIMIT_FSIZE (16 MiB) fires before the 64 MiB tmpfs fills (ENOSPC).
    assert result.stdout.strip() in ("27", "28")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    yield server
    server.close()


def test_17_host_loopback_server_is_unreachable(
    session: WorkerSession, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=0.5)"
    result = session.run(code)
    assert result.kind == "error", result
    assert result.exc_type in ("ConnectionRefusedError", "OSError", "TimeoutError")
    assert select.select([listener], [], [], 0.2)[0] == []  # nobody knocked


def test_17_dns_and_outside_addresses_fail(session: WorkerSession) -> None:
    code = (
        "import socket\nfor target in [('example.com', 80), ('1.1.1.1', 53)]:\n"
        "    try:\n        socket.create_connection(target, timeout=0.5)\n"
        "        print('CONNECTED')\n"
        "    except OSError as e:\n        print(type(e).__name__)\n"
        "print(socket.if_nameindex())"
    )
    result = session.run(code)
    assert result.kind == "ok", result
    assert "CONNECTED" not in result.stdout
    assert result.stdout.strip().endswith("[(1, 'lo')]")


@pytest.mark.parametrize(
    "code",
    [
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('after')",
        "import os, signal\nos.kill(1, signal.SIGKILL)\nos.kill(1, signal.SIGINT)\nprint('after')",
        "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('after')",
    ],
    ids=["parent", "pid-1", "everyone"],
)
def test_18_killing_the_parent_or_everyone_spares_the_host_and_the_state(
    session: WorkerSession, code: str
) -> None:
    session.run("canary = 42")
    result = session.run(code)
    assert result.kind == "ok", result
    assert session.run("print(canary)").stdout == "42\n"
    assert_only_supervisor_and_holder(session)


def test_18_the_host_pid_is_out_of_reach(session: WorkerSession) -> None:
    code = f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)"
    result = session.run(code)
    assert (result.kind, result.exc_type) == ("error", "ProcessLookupError")


def test_18_ptrace_of_the_supervisor_is_refused(session: WorkerSession) -> None:
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())"  # PTRACE_ATTACH to pid 1
    )
    assert session.run(code).stdout == "-1 1\n"  # EPERM: the supervisor is non-dumpable


def test_24_shell_and_spawn_run_only_inside(session: WorkerSession, tmp_path: Path) -> None:
    target = tmp_path / "spawned"
    code = (
        f"import os, posix\nposix.system('touch {target}')\n"
        f"os.posix_spawn('/usr/bin/touch', ['touch', '{target}'], {{}})\n"
        "print(len(().__class__.__bases__[0].__subclasses__()) > 0)"
    )
    result = session.run(code)
    assert result.kind == "ok", result
    assert not target.exists()


def test_26_new_user_namespaces_and_mounts_are_refused(session: WorkerSession) -> None:
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno())\n"  # CLONE_NEWUSER
        "print(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())"
    )
    lines = session.run(code).stdout.split("\n")
    assert lines[0] == "-1 28"  # ENOSPC: --disable-userns
    assert lines[1] == "-1 1"  # EPERM
