"""TransformersEngine on the shipped mini-policy-s (a real trained model, no fakes)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from ttscale.engines import LLMEngine
from ttscale.engines._sampling import BatchParams, IncrementalText, find_stop, sample_next
from ttscale.engines.transformers_engine import TransformersEngine
from ttscale.errors import EngineError
from ttscale.mini import task
from ttscale.mini.models import load_tokenizer, model_path
from ttscale.types import ChatMessage, GenerationRequest

MODEL = model_path("mini-policy-s")
PROBLEMS = task.benchmark_set(per_level=2)  # levels 1-5, two each


def chat(problem: task.MiniProblem) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", problem.text),)


def greedy(problem: task.MiniProblem, **kwargs: Any) -> GenerationRequest:
    return replace(GenerationRequest(chat(problem), max_tokens=16), **kwargs)


def sampled(problem: task.MiniProblem, **kwargs: Any) -> GenerationRequest:
    base = GenerationRequest(chat(problem), temperature=1.0, max_tokens=16, seed=7)
    return replace(base, **kwargs)


@pytest.fixture(scope="module")
def engine() -> TransformersEngine:
    if not (MODEL / "model.safetensors").exists():
        pytest.skip(f"{MODEL} is missing: train it with `ttscale mini train-policy --size s`")
    return TransformersEngine(MODEL, device="cpu")


def test_engine_satisfies_llm_engine_protocol(engine: TransformersEngine) -> None:
    assert isinstance(engine, LLMEngine)
    assert engine.name == "mini-policy-s"
    assert 100_000 < engine.num_parameters < 5_000_000


def test_count_tokens_matches_prompt_tokens_of_a_raw_prompt(engine: TransformersEngine) -> None:
    prompt = "Step 1: 13 - 3 = 10"
    [[completion]] = engine.generate([GenerationRequest(prompt, max_tokens=1)])
    assert completion.prompt_tokens == engine.count_tokens(prompt) > 0


def test_no_requests_give_no_outputs(engine: TransformersEngine) -> None:
    assert engine.generate([]) == []


def test_returns_n_completions_per_request_in_order(engine: TransformersEngine) -> None:
    prompts = ["Step 1:", "Step 1: 75 - 16 = 59\n\nStep 2:", "The answer is"]
    counts = (2, 1, 3)
    requests = [
        GenerationRequest(p, n=n, max_tokens=3) for p, n in zip(prompts, counts, strict=True)
    ]
    outputs = engine.generate(requests)
    assert [len(out) for out in outputs] == [2, 1, 3]
    for prompt, out in zip(prompts, outputs, strict=True):
        assert all(c.prompt_tokens == engine.count_tokens(prompt) for c in out)


def test_greedy_is_deterministic_and_matches_single_row_runs(engine: TransformersEngine) -> None:
    requests = [greedy(p) for p in PROBLEMS[::3]]  # different prompt lengths: left padding
    batched = engine.generate(requests)
    assert engine.generate(requests) == batched
    for request, out in zip(requests, batched, strict=True):
        assert engine.generate([request])[0] == out


def test_greedy_samples_of_one_request_are_identical(engine: TransformersEngine) -> None:
    [[single]] = engine.generate([greedy(PROBLEMS[5])])
    [copies] = engine.generate([greedy(PROBLEMS[5], n=4)])
    assert all(c == single for c in copies)


def test_micro_batches_give_the_same_greedy_text(engine: TransformersEngine) -> None:
    small = TransformersEngine(MODEL, device="cpu", max_batch_size=2)
    requests = [greedy(p, n=2) for p in PROBLEMS[:3]]
    expected = [[c.text for c in out] for out in engine.generate(requests)]
    assert [[c.text for c in out] for out in small.generate(requests)] == expected


@pytest.mark.parametrize("filters", [{}, {"top_k": 20, "top_p": 0.9}], ids=["plain", "top-k-p"])
def test_same_seed_gives_same_text_alone_and_inside_a_batch(
    engine: TransformersEngine, filters: dict[str, Any]
) -> None:
    # Exact equality relies on padding being masked exactly; a batch only changes float
    # rounding, which could flip a sample only if a uniform lands within ~1e-7 of a CDF edge.
    request = sampled(PROBLEMS[4], n=3, **filters)
    [alone] = engine.generate([request])
    batch = [
        sampled(PROBLEMS[0], n=2, seed=1),
        request,
        greedy(PROBLEMS[9]),
        sampled(PROBLEMS[5], top_k=5, top_p=0.5, seed=3),
    ]
    inside = engine.generate(batch)[1]
    assert [c.text for c in inside] == [c.text for c in alone]


def test_different_seeds_give_different_texts(engine: TransformersEngine) -> None:
    [samples] = engine.generate([sampled(PROBLEMS[8], n=4, temperature=1.5)])
    assert len({c.text for c in samples}) > 1  # seeds 7, 8, 9, 10
    [[other]] = engine.generate([sampled(PROBLEMS[8], seed=1000, temperature=1.5)])
    assert other.text != samples[0].text


def test_unseeded_sampling_works(engine: TransformersEngine) -> None:
    [out] = engine.generate([sampled(PROBLEMS[0], seed=None, n=2, max_tokens=4)])
    assert len(out) == 2 and all(c.completion_tokens >= 1 for c in out)


def test_top_k_1_sampling_equals_greedy(engine: TransformersEngine) -> None:
    [[expected]] = engine.generate([greedy(PROBLEMS[6])])
    [out] = engine.generate([sampled(PROBLEMS[6], top_k=1, n=2, temperature=2.0)])
    assert [c.token_ids for c in out] == [expected.token_ids] * 2


def test_tiny_top_p_sampling_equals_greedy(engine: TransformersEngine) -> None:
    [[expected]] = engine.generate([greedy(PROBLEMS[7])])
    [[out]] = engine.generate([sampled(PROBLEMS[7], top_p=1e-6, temperature=2.0)])
    assert out.token_ids == expected.token_ids


def test_stop_string_cuts_text_and_sets_stop_reason(engine: TransformersEngine) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[2], max_tokens=40, stop=("\n\n", "zzz"))])
    assert out.finish_reason == "stop" and out.stop_reason == "\n\n"
    assert out.text.startswith("Step 1:") and "\n" not in out.text
    assert out.completion_tokens < 40


def test_include_stop_keeps_the_stop_string(engine: TransformersEngine) -> None:
    request = greedy(PROBLEMS[2], max_tokens=40, stop=("\n\n",))
    [[cut]] = engine.generate([request])
    [[kept]] = engine.generate([replace(request, include_stop=True)])
    assert kept.text == cut.text + "\n\n" and kept.stop_reason == "\n\n"
    assert kept.token_ids == cut.token_ids


def test_stop_string_spanning_several_tokens(engine: TransformersEngine) -> None:
    request = greedy(PROBLEMS[2], max_tokens=40, stop=("Step 2",))  # "Step", " ", "2"
    [[cut], [kept]] = engine.generate([request, replace(request, include_stop=True)])
    assert cut.text.endswith("\n\n") and kept.text == cut.text + "Step 2"
    assert cut.stop_reason == kept.stop_reason == "Step 2"


def test_stop_string_completed_on_the_last_allowed_token_is_stop(
    engine: TransformersEngine,
) -> None:
    request = greedy(PROBLEMS[2], max_tokens=40, stop=("\n\n",))
    [[first]] = engine.generate([request])
    [[out]] = engine.generate([replace(request, max_tokens=first.completion_tokens)])
    assert (out.finish_reason, out.stop_reason, out.text) == ("stop", "\n\n", first.text)


def test_max_tokens_gives_length_and_exactly_max_tokens_tokens(
    engine: TransformersEngine,
) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[9], max_tokens=5)])
    assert out.finish_reason == "length" and out.stop_reason is None
    assert out.completion_tokens == 5


def test_eos_gives_stop_without_stop_reason(engine: TransformersEngine) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[0], max_tokens=120)])
    assert (out.finish_reason, out.stop_reason) == ("stop", None)
    assert out.text.endswith("}.") and "<|im_end|>" not in out.text
    assert load_tokenizer().eos_token_id not in out.token_ids


def test_greedy_writes_mini_solutions_ending_in_a_boxed_answer(
    engine: TransformersEngine,
) -> None:
    # Format only: how often the small policy is right is the strategies' business.
    outputs = engine.generate([greedy(p, max_tokens=120) for p in PROBLEMS[:6]])
    for out in outputs:
        assert out[0].text.startswith("Step 1:") and "\\boxed{" in out[0].text
        assert out[0].finish_reason == "stop"


def test_greedy_matches_transformers_generate(engine: TransformersEngine) -> None:
    from transformers import AutoModelForCausalLM

    tokenizer, model = load_tokenizer(), AutoModelForCausalLM.from_pretrained(str(MODEL))
    problems = PROBLEMS[1::3]
    outputs = engine.generate([greedy(p, max_tokens=40) for p in problems])
    for problem, out in zip(problems, outputs, strict=True):
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": problem.text}], tokenize=False, add_generation_prompt=True
        )
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            generated = model.generate(ids, max_new_tokens=40, do_sample=False)[0, ids.shape[1] :]
        expected = [t for t in generated.tolist() if t != tokenizer.eos_token_id]
        assert list(out[0].token_ids) == expected


def test_logprobs_are_k_sorted_entries_and_match_the_raw_log_softmax(
    engine: TransformersEngine,
) -> None:
    from transformers import AutoModelForCausalLM

    request = greedy(PROBLEMS[3], max_tokens=6, logprobs=3)
    [[out]] = engine.generate([request])
    assert out.logprobs is not None and len(out.logprobs) == out.completion_tokens
    for token_id, entry in zip(out.token_ids, out.logprobs, strict=True):
        values = [t.logprob for t in entry.top]
        assert len(entry.top) == 3 and values == sorted(values, reverse=True)
        assert entry.token_id == token_id == entry.top[0].token_id  # greedy picks the argmax
        assert entry.logprob == pytest.approx(values[0])
    # Recompute from one forward over prompt + completion.
    [[plain]] = engine.generate([replace(request, max_tokens=1, logprobs=0)])
    tokenizer = load_tokenizer()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROBLEMS[3].text}], tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert len(prompt_ids) == plain.prompt_tokens
    ids = torch.tensor([[*prompt_ids, *out.token_ids]])
    with torch.inference_mode():
        logits = AutoModelForCausalLM.from_pretrained(str(MODEL))(ids).logits[0].log_softmax(-1)
    start = plain.prompt_tokens - 1
    expected = [logits[start + i, t].item() for i, t in enumerate(out.token_ids)]
    assert [e.logprob for e in out.logprobs] == pytest.approx(expected, abs=1e-4)


def test_sampled_logprobs_are_raw_not_tempered(engine: TransformersEngine) -> None:
    [[hot]] = engine.generate([sampled(PROBLEMS[3], top_k=1, temperature=5.0, logprobs=1)])
    [[cold]] = engine.generate([greedy(PROBLEMS[3], logprobs=1)])
    assert hot.logprobs is not None and cold.logprobs is not None
    assert [e.logprob for e in hot.logprobs] == pytest.approx([e.logprob for e in cold.logprobs])


def test_no_logprobs_when_not_asked(engine: TransformersEngine) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[0], max_tokens=2)])
    assert out.logprobs is None


def test_continue_final_continues_an_assistant_turn(engine: TransformersEngine) -> None:
    problem = PROBLEMS[4]
    first_step = task.solution_steps(problem)[0] + "\n\n"
    messages = (*chat(problem), ChatMessage("assistant", first_step))
    [[out]] = engine.generate([GenerationRequest(messages, max_tokens=8, continue_final=True)])
    assert out.text.startswith("Step 2:")


def test_continue_final_needs_an_assistant_last_message(engine: TransformersEngine) -> None:
    with pytest.raises(EngineError, match="continue_final"):
        engine.generate([GenerationRequest(chat(PROBLEMS[0]), continue_final=True)])


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 0), ("temperature", -0.5), ("top_p", 0.0), ("top_p", 1.5), ("top_k", -1),
     ("max_tokens", 0), ("logprobs", -2), ("stop", ("",))],
)
def test_invalid_parameter_raises_engine_error_naming_it(
    engine: TransformersEngine, field: str, value: object
) -> None:
    request = replace(greedy(PROBLEMS[0]), **{field: value})
    with pytest.raises(EngineError, match=re.escape(f"{field}={value!r}")):
        engine.generate([request])


def test_empty_prompt_raises_engine_error(engine: TransformersEngine) -> None:
    with pytest.raises(EngineError, match="empty"):
        engine.generate([GenerationRequest("")])


@pytest.mark.requires_gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_engine_samples_and_writes_solutions() -> None:
    if not (MODEL / "model.safetensors").exists():
        pytest.skip(f"{MODEL} is missing: train it with `ttscale mini train-policy --size s`")
    cuda = TransformersEngine(MODEL, device="cuda")
    assert cuda.device.type == "cuda"
    requests = [
        greedy(PROBLEMS[0], max_tokens=120),
        sampled(PROBLEMS[1], n=3, top_k=20, logprobs=2),
    ]
    [[solution], samples] = cuda.generate(requests)
    assert solution.text.startswith("Step 1:") and "\\boxed{" in solution.text
    assert [c.text for c in samples] == [c.text for c in cuda.generate(requests[1:])[0]]


def test_missing_model_folder_raises_engine_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(EngineError, match="no-such-model") as info:
        TransformersEngine(missing)
    assert "\n" not in str(info.value) and "local" in str(info.value)


def test_invalid_device_raises_engine_error() -> None:
    with pytest.raises(EngineError, match="device="):
        TransformersEngine(MODEL, device="tpu")


def test_incremental_text_matches_a_full_decode() -> None:
    tokenizer = load_tokenizer()
    text = PROBLEMS[9].solution() + " ünïcödé ✓"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    detok = IncrementalText(tokenizer, tokenizer("prompt", add_special_tokens=False)["input_ids"])
    for token_id in ids:
        detok.push(token_id)
    detok.flush()
    assert detok.text == text


def test_top_k_and_top_p_sample_only_inside_the_kept_set() -> None:
    logits = torch.tensor([0.4, 0.3, 0.2, 0.1]).log().repeat(4, 1)
    settings = [(2, 1.0), (0, 0.5), (0, 0.75), (0, 1.0)]  # (top_k, top_p) per row
    requests = [GenerationRequest("x", temperature=1.0, top_k=k, top_p=p) for k, p in settings]
    params = BatchParams(
        temperature=torch.ones(4), top_k=torch.tensor([k for k, _ in settings]),
        top_p=torch.tensor([p for _, p in settings]),
        generators=[torch.Generator().manual_seed(i) for i in range(4)], requests=requests,
    )
    draws = torch.stack([sample_next(logits, params) for _ in range(400)])
    seen = [set(draws[:, row].tolist()) for row in range(4)]
    assert seen == [{0, 1}, {0, 1}, {0, 1, 2}, {0, 1, 2, 3}]
    assert (draws[:, 3] == 0).float().mean().item() == pytest.approx(0.4, abs=0.08)


def test_find_stop_picks_the_earliest_match() -> None:
    assert find_stop("abc STOP x END", ("END", "STOP"), since=0) == (4, "STOP")
    assert find_stop("abc STOP", ("STOP",), since=6) == (4, "STOP")  # straddles the old text
    assert find_stop("abc", ("STOP",), since=0) is None
