"""The in-sandbox side of ttscale.sandbox: a supervisor, a state holder, one child per block.

Runs as a standalone script (standard library plus the preloaded modules; it never imports
ttscale) under ``python -I -B``, next to _worker_holder.py. The host speaks to it over
stdin/stdout in frames: one JSON header line with ``"n"`` payload bytes after it.

Why a fork chain (reference/sandbox-and-reliability.md §0 item 5, option c):

* The **supervisor** (this process, pid 1 of bwrap's pid namespace) imports sympy once, holds
  the host channel, enforces each block's deadline and output cap, and never runs model code.
  It is non-dumpable, so model code cannot ptrace it or read its fds through /proc, and it is a
  child subreaper, so every orphan (``setsid()`` included) stays in its tree to be killed.
* The **holder** owns the session's namespace and is otherwise idle. For each block it forks a
  **child** that runs the block with a copy-on-write copy of the namespace.
* A child that finishes (normally or with an exception, as GenPRM's ``exec`` keeps what ran
  before the exception) *becomes the holder*: the supervisor kills the old holder. A child that
  times out, floods or crashes is killed and the old holder, untouched, stays. So a block costs
  one ``fork()`` (milliseconds), never re-runs model code (re-running is neither safe nor
  deterministic), and a failed block cannot damage earlier state.

Everything below the supervisor is untrusted once the first block ran; the host parses this
channel as untrusted input and keeps its own hard deadline.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.util
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time
from typing import IO, Any

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _load_holder() -> Any:
    """_worker_holder.py from this script's directory (``-I`` keeps it off sys.path)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_worker_holder.py")
    spec = importlib.util.spec_from_file_location("_worker_holder", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


holder_side = _load_holder()


def read_frame(stream: IO[bytes]) -> tuple[dict[str, Any], bytes] | None:
    line = stream.readline(1 << 20)
    if not line.endswith(b"\n"):
        return None
    header = json.loads(line)
    return header, stream.read(header.get("n", 0))


def write_frame(stream: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    stream.write(json.dumps(dict(header, n=len(payload))).encode() + b"\n" + payload)
    stream.flush()


def proc_stat(pid: int) -> tuple[str, int]:
    """(state letter, parent pid) of pid from /proc, or ("", 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return "", 0
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1])


def alive(pid: object) -> bool:
    return isinstance(pid, int) and proc_stat(pid)[0] not in ("", "Z", "X")


def descendants(root: int) -> list[int]:
    """Every descendant of root, from /proc/<pid>/task/<tid>/children."""
    found: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


class Capture:
    """Keeps the head and the tail of a stream within ``cap`` bytes."""

    def __init__(self, cap: int) -> None:
        self.tail_cap = cap // 4
        self.head_cap = cap - self.tail_cap - 64
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail = (self.tail + data)[-self.tail_cap :]

    def value(self) -> tuple[bytes, bool]:
        dropped = self.total - len(self.head) - len(self.tail)
        if dropped <= 0:
            return bytes(self.head + self.tail), False
        marker = f"\n... [{dropped} bytes truncated] ...\n".encode()
        return bytes(self.head) + marker + bytes(self.tail), True


class Supervisor:
    def __init__(self, init: dict[str, Any]) -> None:
        self.init = init
        self.sock, self.holder_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.holder = 0
        self.seq = 0

    def start(self) -> dict[str, Any]:
        # As pid 1 of the namespace, a signal with the default action sent from inside is
        # ignored; Python's SIGINT handler would let model code raise KeyboardInterrupt in us.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for name, value in self.init["limits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        sys.path.extend(p for p in self.init["sys_path"] if p not in sys.path)
        for module in self.init["preload"]:
            __import__(module)
        # Move the preloaded objects out of the collector's reach, so a collection in a child
        # does not touch (and copy-on-write copy) the whole sympy heap on every block.
        gc.freeze()
        self.spawn_holder()
        with open("/proc/self/uid_map") as f:
            uid_map = f.read()
        limits = {n: list(resource.getrlimit(getattr(resource, n))) for n in self.init["limits"]}
        ifaces = [name for _, name in socket.if_nameindex()]
        return {"uid_map": uid_map, "pid": os.getpid(), "limits": limits, "ifaces": ifaces,
                "root": os.listdir("/")}

    def spawn_holder(self) -> None:
        pid = os.fork()
        if pid == 0:
            try:
                devnull = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                self.sock.close()
                holder_side.holder_main(self.holder_sock, {})
            finally:
                os._exit(5)
        self.holder = pid

    def kill_strays(self, keep: int | None) -> None:
        """SIGKILL every descendant but ``keep``, rescanning until no new one shows up.

        A process with a pending SIGKILL never runs user code again, so there is no need to
        wait for it to exit (that costs a scheduler round per block on a loaded machine); the
        rescan catches children forked before the kill landed (fork bombs).
        """
        killed: set[int] = set()
        for _ in range(10000):
            victims = [p for p in descendants(os.getpid()) if p != keep and p not in killed]
            if not victims:
                break
            for pid in victims:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed.update(victims)
        holder_side.reap()

    def reset(self) -> dict[str, Any]:
        self.kill_strays(keep=None)
        for root, dirs, files in os.walk(self.init["clear_dir"], topdown=False):
            for name in files + dirs:
                path = os.path.join(root, name)
                is_dir = name in dirs and not os.path.islink(path)
                with contextlib.suppress(OSError):
                    (os.rmdir if is_dir else os.unlink)(path)
        self.spawn_holder()
        return {"op": "reset"}

    def run_block(self, header: dict[str, Any], code: bytes) -> tuple[dict[str, Any], bytes]:
        self.seq += 1
        state_lost = not alive(self.holder)
        if state_lost:
            self.kill_strays(keep=None)
            self.spawn_holder()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        memfd = os.memfd_create("block")
        view = memoryview(code)
        while view:
            view = view[os.write(memfd, view) :]
        os.lseek(memfd, 0, os.SEEK_SET)
        request = {"op": "run", "seq": self.seq, "cpu_s": header["cpu_s"]}
        socket.send_fds(self.sock, [json.dumps(request).encode()], [out_w, err_w, memfd])
        for fd in (out_w, err_w, memfd):
            os.close(fd)
        cap = self.init["max_output"]
        streams = {out_r: Capture(cap), err_r: Capture(cap)}
        outcome, message = self.wait(streams, time.monotonic() + float(header["timeout"]))
        self.drain(streams)
        for fd in streams:
            os.close(fd)
        reply = self.settle(outcome, message)
        reply["state_lost"] = reply.get("state_lost", False) or state_lost
        (out, trunc_out), (err, trunc_err) = (c.value() for c in streams.values())
        reply.update(op="result", n_out=len(out), truncated=trunc_out or trunc_err)
        return reply, out + err

    def wait(
        self, streams: dict[int, Capture], deadline: float
    ) -> tuple[str, dict[str, Any] | None]:
        """Until the block reports, dies, floods, times out, or everything under us is gone."""
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        for fd in streams:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        next_check = time.monotonic() + 0.05
        try:
            while (now := time.monotonic()) < deadline:
                for key, _ in sel.select(min(0.05, deadline - now)):
                    if key.fileobj is not self.sock:
                        if not self.read_into(key.fd, streams, sel):
                            return "output_limit", None
                    elif (message := self.receive()) is not None:
                        if message.get("op") == "result" and self.is_child(message.get("pid")):
                            return "result", message
                        if message.get("op") == "died":
                            return "died", message
                if now >= next_check:
                    next_check = now + 0.05
                    if not alive(self.holder) and not any(map(alive, descendants(os.getpid()))):
                        return "lost", None
            return "timeout", None
        finally:
            sel.close()

    def is_child(self, pid: object) -> bool:
        """Whether pid is the holder's forked child (or it, orphaned and adopted by us)."""
        if not isinstance(pid, int) or pid in (os.getpid(), self.holder):
            return False
        state, parent = proc_stat(pid)
        return state not in ("", "Z", "X") and parent in (self.holder, os.getpid())

    def receive(self) -> dict[str, Any] | None:
        try:
            message = json.loads(self.sock.recv(holder_side.MAX_MESSAGE))
        except (OSError, ValueError):
            return None
        if not isinstance(message, dict) or message.get("seq") != self.seq:
            return None
        return message

    def read_into(self, fd: int, streams: dict[int, Capture], sel: selectors.BaseSelector) -> bool:
        """Read what is there; False once the block wrote more than kill_output bytes."""
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return True
        if not data:
            sel.unregister(fd)
            return True
        streams[fd].add(data)
        return sum(c.total for c in streams.values()) <= self.init["kill_output"]

    def drain(self, streams: dict[int, Capture]) -> None:
        for fd, capture in streams.items():
            while sum(c.total for c in streams.values()) <= self.init["kill_output"]:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                if not data:
                    break
                capture.add(data)

    def settle(self, outcome: str, message: dict[str, Any] | None) -> dict[str, Any]:
        """Kill what must die, pick the holder, and describe the outcome for the host."""
        message = message or {}
        if outcome == "result":
            if message.get("commit") is True:
                self.holder = message["pid"]
            self.kill_strays(keep=self.holder)
            return {k: message.get(k) for k in ("kind", "exc_type", "exc_message", "exit_code")}
        self.kill_strays(keep=self.holder)
        reply: dict[str, Any] = {"kind": outcome}
        if outcome == "died" and "error" in message:
            reply = killed(str(message["error"]))
        elif outcome == "died":
            reply = describe_status(int(message.get("status", 0)))
        elif outcome == "lost":
            reply = killed("the process holding the session state was killed")
        if not alive(self.holder):
            self.kill_strays(keep=None)
            self.spawn_holder()
            reply["state_lost"] = True
        return reply


def killed(message: str, number: int | None = None) -> dict[str, Any]:
    return {"kind": "killed", "signal": number, "exc_type": "SandboxKilled", "exc_message": message}


def describe_status(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        reply = killed(f"process killed by signal {name}", number)
        # The CPU rlimit (SIGXCPU) is a time limit: report it as GenPRM's time-out.
        if number == signal.SIGXCPU:
            reply["kind"] = "timeout"
        return reply
    code = os.waitstatus_to_exitcode(status)
    return {"kind": "exit", "exit_code": code, "exc_type": "SystemExit", "exc_message": str(code)}


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    frame = read_frame(stdin)
    if frame is None:
        return 2
    supervisor = Supervisor(frame[0])
    try:
        probe = supervisor.start()
    except BaseException as e:
        error = f"{type(e).__name__}: {holder_side.safe_str(e)}"
        write_frame(stdout, {"op": "fatal", "error": error})
        return 1
    write_frame(stdout, {"op": "ready", "probe": probe})
    devnull = os.open("/dev/null", os.O_WRONLY)
    os.dup2(devnull, 2)
    while (frame := read_frame(stdin)) is not None:
        header, payload = frame
        if header.get("op") == "run":
            reply, data = supervisor.run_block(header, payload)
            write_frame(stdout, reply, data)
        elif header.get("op") == "reset":
            write_frame(stdout, supervisor.reset())
    supervisor.kill_strays(keep=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
