"""The in-sandbox namespace holder and the per-block child (see _worker.py for the design).

Standard library only; loaded by _worker.py from its own directory, never imported by ttscale.
Everything here runs model code or runs in a process that already has, so nothing here is
trusted by the supervisor.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import socket
import sys
import time
import traceback
from typing import Any

MAX_MESSAGE = 1 << 18
MAX_EXC_MESSAGE = 16384


def reap() -> None:
    """Collect exited children without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:
        text = "<str() of the exception failed>"
    return text[:MAX_EXC_MESSAGE]


def execute(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """GenPRM's ``exec(code, namespace)``; every BaseException is caught, as the host must live."""
    try:
        exec(code, namespace)
        return {"kind": "ok"}
    except SystemExit as e:
        exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return {
            "kind": "exit",
            "exc_type": "SystemExit",
            "exc_message": safe_str(e),
            "exit_code": exit_code,
        }
    except BaseException as e:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
        return {"kind": "error", "exc_type": type(e).__name__, "exc_message": safe_str(e)}


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    try:
        sock.send(json.dumps(message).encode())
    except OSError:
        os._exit(3)


def run_child(
    sock: socket.socket, namespace: dict[str, Any], request: dict[str, Any], fds: list[int]
) -> None:
    """Runs one block in this (forked) process; returning means it is the new holder."""
    out_fd, err_fd, code_fd = fds
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    with os.fdopen(code_fd, "rb") as f:
        code = f.read().decode("utf-8", "surrogatepass")
    # surrogatepass: print('\ud800') must not crash the block; the host repairs the bytes.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), "utf-8", "surrogatepass")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), "utf-8", "backslashreplace")
    cpu = int(request["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    outcome = execute(code, namespace)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    commit = _may_hold_state()
    devnull = os.open("/dev/null", os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    send(sock, dict(outcome, op="result", seq=request["seq"], pid=os.getpid(), commit=commit))
    while not commit:  # wait for the supervisor's SIGKILL (exiting first would race the result)
        signal.pause()


def _may_hold_state() -> bool:
    """A block that leaves threads running cannot become the holder.

    Its threads would keep their pids and CPU for the whole session, and every later fork
    would copy a process whose locks may be held by threads that do not exist in the copy.
    Its namespace changes are dropped instead: the supervisor kills this process and the old
    holder stays.
    """
    if len(os.listdir("/proc/self/task")) == 1:
        return True
    note = "\n[sandbox: this block left threads running; its namespace changes were dropped]\n"
    with contextlib.suppress(OSError):
        os.write(2, note.encode())
    return False


def holder_main(sock: socket.socket, namespace: dict[str, Any]) -> None:
    """The holder loop; the forked child that finishes a block continues it as the new holder."""
    while True:
        reap()
        try:
            message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 3)
        except OSError:
            os._exit(4)
        if not message:
            os._exit(0)
        request = json.loads(message)
        if request.get("op") != "run" or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        pid = fork_patiently()
        if pid == 0:
            run_child(sock, namespace, request, fds)
            continue
        for fd in fds:
            os.close(fd)
        if pid < 0:
            send(sock, {"op": "died", "seq": request["seq"], "error": "cannot fork (process cap)"})
            continue
        _, status = os.waitpid(pid, 0)
        send(sock, {"op": "died", "seq": request["seq"], "status": status})


def fork_patiently() -> int:
    """fork(), retrying for a second: processes killed after the last block may still hold
    their pids (the supervisor does not wait for them to exit). -1 when it keeps failing."""
    for _ in range(200):
        try:
            return os.fork()
        except OSError:
            time.sleep(0.005)
    return -1
