"""Host side of the worker channel: frames read and written against deadlines, text repair.

Everything that comes out of a sandbox is untrusted: frames are size-checked, and a worker
that stalls, closes the pipe or sends garbage is reported as such, never waited on forever.
"""

from __future__ import annotations

import json
import os
import selectors
import time
from dataclasses import dataclass
from typing import Any

MAX_HEADER = 1 << 20


@dataclass(frozen=True)
class Frame:
    header: dict[str, Any]
    payload: bytes


class ChannelError(Exception):
    """The worker closed the channel, sent a malformed frame, or missed the deadline."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class Channel:
    """Frames over a worker's stdin/stdout pipes: a JSON header line, then ``n`` bytes."""

    def __init__(self, write_fd: int, read_fd: int, *, max_payload: int) -> None:
        self._write_fd = write_fd
        self._read_fd = read_fd
        self._max_payload = max_payload
        self._buffer = bytearray()
        os.set_blocking(write_fd, False)
        os.set_blocking(read_fd, False)

    def send(self, header: dict[str, Any], payload: bytes, *, deadline: float) -> None:
        data = memoryview(json.dumps(dict(header, n=len(payload))).encode() + b"\n" + payload)
        with selectors.DefaultSelector() as sel:
            sel.register(self._write_fd, selectors.EVENT_WRITE)
            while data:
                if not sel.select(_remaining(deadline)):
                    raise ChannelError("worker did not read its input in time", timed_out=True)
                try:
                    data = data[os.write(self._write_fd, data) :]
                except BlockingIOError:
                    continue
                except OSError as e:  # BrokenPipeError: the worker is gone
                    raise ChannelError(f"worker input closed ({e.strerror})") from e

    def receive(self, *, deadline: float) -> Frame:
        with selectors.DefaultSelector() as sel:
            sel.register(self._read_fd, selectors.EVENT_READ)
            while True:
                frame = self._parse()
                if frame is not None:
                    return frame
                if not sel.select(_remaining(deadline)):
                    if time.monotonic() >= deadline:
                        raise ChannelError("worker missed its deadline", timed_out=True)
                    continue
                self._fill()

    def _fill(self) -> None:
        try:
            chunk = os.read(self._read_fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            raise ChannelError("worker closed its output (it died)")
        self._buffer += chunk

    def _parse(self) -> Frame | None:
        end = self._buffer.find(b"\n", 0, MAX_HEADER)
        if end < 0:
            if len(self._buffer) >= MAX_HEADER:
                raise ChannelError("worker sent an oversized frame header")
            return None
        try:
            header = json.loads(bytes(self._buffer[:end]))
            size = int(header["n"])
        except (ValueError, KeyError, TypeError) as e:
            raise ChannelError("worker sent a malformed frame header") from e
        if not isinstance(header, dict) or not 0 <= size <= self._max_payload:
            raise ChannelError(f"worker sent a bad frame (payload of {size} bytes)")
        if len(self._buffer) < end + 1 + size:
            return None
        payload = bytes(self._buffer[end + 1 : end + 1 + size])
        del self._buffer[: end + 1 + size]
        return Frame(header, payload)


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def clean_text(data: bytes) -> str:
    """Valid UTF-8 for prompts and JSON: bad bytes become U+FFFD, NUL bytes are dropped."""
    return data.decode("utf-8", errors="replace").replace("\x00", "")
