"""The host side of the worker channel: frames, deadlines, untrusted input, text repair."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator

import pytest

from ttscale.sandbox._channel import Channel, ChannelError, clean_text


@pytest.fixture
def pipes() -> Iterator[tuple[Channel, int, int]]:
    """A channel plus the worker's ends: where it reads our frames and writes its own."""
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    yield Channel(to_worker_w, from_worker_r, max_payload=1024), to_worker_r, from_worker_w
    for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
        with contextlib.suppress(OSError):
            os.close(fd)


def soon(seconds: float = 0.3) -> float:
    return time.monotonic() + seconds


def test_a_frame_round_trips_across_partial_writes(pipes: tuple[Channel, int, int]) -> None:
    channel, to_worker, from_worker = pipes
    channel.send({"op": "run"}, b"print(1)", deadline=soon())
    assert os.read(to_worker, 100) == b'{"op": "run", "n": 8}\nprint(1)'
    data = json.dumps({"op": "result", "n": 3}).encode() + b"\nabc"
    os.write(from_worker, data[:5])
    os.write(from_worker, data[5:])
    frame = channel.receive(deadline=soon())
    assert (frame.header["op"], frame.payload) == ("result", b"abc")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not json\n", "malformed"),
        (b'{"op": "result"}\n', "malformed"),
        (b'{"n": 5000}\n', "bad frame"),
        (b'{"n": -1}\n', "bad frame"),
        (b"x" * (1 << 20) + b"\n", "oversized"),
    ],
    ids=["not-json", "no-length", "too-long", "negative-length", "oversized-header"],
)
def test_garbage_from_the_worker_is_an_error(
    pipes: tuple[Channel, int, int], data: bytes, reason: str
) -> None:
    channel, _, from_worker = pipes
    writer = threading.Thread(target=_write_all, args=(from_worker, data), daemon=True)
    writer.start()
    with pytest.raises(ChannelError, match=reason):
        channel.receive(deadline=soon(5))


def _write_all(fd: int, data: bytes) -> None:
    # OSError: the test closed the pipe after the channel gave up.
    with contextlib.suppress(OSError):
        os.write(fd, data)


def test_a_silent_worker_misses_the_deadline(pipes: tuple[Channel, int, int]) -> None:
    channel, _, _ = pipes
    start = time.monotonic()
    with pytest.raises(ChannelError) as info:
        channel.receive(deadline=soon(0.2))
    assert info.value.timed_out
    assert 0.15 < time.monotonic() - start < 1.0


def test_a_dead_worker_is_an_error_not_a_hang(pipes: tuple[Channel, int, int]) -> None:
    channel, _, from_worker = pipes
    os.close(from_worker)
    with pytest.raises(ChannelError, match="closed") as info:
        channel.receive(deadline=soon(5))
    assert not info.value.timed_out


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"plain", "plain"),
        (b"a\x00b", "ab"),
        (b"\xff\xfe", "\ufffd\ufffd"),
        ("\ud800".encode("utf-8", "surrogatepass"), "\ufffd\ufffd\ufffd"),
        ("héllo ∑".encode(), "héllo ∑"),
    ],
)
def test_clean_text_is_valid_utf8_without_nul(data: bytes, text: str) -> None:
    assert clean_text(data) == text
    clean_text(data).encode("utf-8")
