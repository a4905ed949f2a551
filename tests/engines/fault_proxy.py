"""A local HTTP proxy that injects faults between the openai engine and a real server.

Each connection carries one request (the proxy asks the server to close after answering). A
seeded draw decides its fate: forwarded untouched, refused (closed unanswered), answered with a
500, delayed, cut mid-response, or stalled mid-response until the client gives up. It runs its
own event loop in a thread, so the engine's ``asyncio.run`` is undisturbed.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import Sequence
from types import TracebackType

FAULTS = ("refuse", "http500", "delay", "cut", "stall")
_500 = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 21\r\nConnection: close\r\n\r\ninjected server error")


class FaultProxy:
    """Forwards 127.0.0.1:<port> to ``upstream`` ("host:port"), with faults at ``rate``."""

    def __init__(
        self, upstream: str, *, rate: float, seed: int = 0, faults: Sequence[str] = FAULTS,
        first: Sequence[str] = (), delay_s: float = 0.3, stall_s: float = 30.0,
    ) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._rate, self._faults = rate, tuple(faults)
        self._first = list(first)
        """Faults of the first connections, in order, before the random draws start."""
        self._rng = random.Random(seed)
        self._delay_s, self._stall_s = delay_s, stall_s
        self.counts: Counter[str] = Counter()
        self.abandoned_stalls = 0
        self.heads: list[bytes] = []
        """Request heads (request line and headers) as the client sent them."""
        """Stalled responses whose client closed the connection before ``stall_s``."""
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _draw(self) -> str:
        if self._first:
            fault = self._first.pop(0)
        else:
            fault = self._rng.choice(self._faults) if self._rng.random() < self._rate else "ok"
        self.counts[fault] += 1
        return fault

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            body = await reader.readexactly(_content_length(head))
            await self._serve(self._draw(), _close_after(head) + body, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _serve(
        self, fault: str, request: bytes, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if fault == "refuse":
            return
        if fault == "http500":
            writer.write(_500)
            await writer.drain()
            return
        if fault == "delay":
            await asyncio.sleep(self._delay_s)
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        try:
            up_writer.write(request)
            await up_writer.drain()
            if fault in ("cut", "stall"):
                first = await up_reader.read(4096)
                writer.write(first[: len(first) // 2] if fault == "cut" else first)
                await writer.drain()
                if fault == "stall":
                    await self._stall(reader)
                writer.transport.abort()
                return
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        finally:
            up_writer.transport.abort()  # the server sees its client go: vLLM aborts the request

    async def _stall(self, reader: asyncio.StreamReader) -> None:
        """Send nothing more; note whether the client hangs up before ``stall_s``."""
        try:
            if await asyncio.wait_for(reader.read(1), self._stall_s) == b"":
                self.abandoned_stalls += 1
        except (asyncio.TimeoutError, ConnectionError):
            pass


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _close_after(head: bytes) -> bytes:
    """The request head with ``Connection: close``: one request per proxied connection."""
    lines = [line for line in head.rstrip(b"\r\n").split(b"\r\n")
             if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"
