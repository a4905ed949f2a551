"""The LLMEngine results contract, run against every engine on the same model (mini-policy-l).

transformers always; vllm (in-process ``vllm.LLM``) and openai (a real ``vllm serve``) where
vLLM is installed. The reference is plain Hugging Face: ``model.generate`` for greedy text and
one forward pass for logprobs, so no engine is checked against itself.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
import torch

from ttscale.engines import LLMEngine
from ttscale.errors import EngineError
from ttscale.mini import task
from ttscale.mini.models import load_tokenizer, model_path
from ttscale.types import ChatMessage, GenerationRequest

VLLM_MODEL = model_path("mini-policy-l")  # vLLM on CPU needs head size >= 32 (s has 24)
PROBLEMS = task.benchmark_set(per_level=2)
ENGINES = ["transformers", "vllm", "openai"]
FIXTURES = {"transformers": "transformers_engine", "vllm": "vllm_engine", "openai": "openai_engine"}


@pytest.fixture(scope="module")
def transformers_engine(reference_engine: Any) -> Any:
    return reference_engine


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(FIXTURES[request.param])


class HFReference:
    """Plain transformers: greedy ``generate`` and a forward pass, the ground truth."""

    def __init__(self) -> None:
        from transformers import AutoModelForCausalLM

        self.tokenizer = load_tokenizer(VLLM_MODEL)
        self.model = AutoModelForCausalLM.from_pretrained(str(VLLM_MODEL)).eval()

    def prompt_ids(self, messages: tuple[ChatMessage, ...], *, continue_final: bool = False
                   ) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages], tokenize=False,
            add_generation_prompt=not continue_final, continue_final_message=continue_final,
        )
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def greedy(self, prompt_ids: list[int], max_tokens: int) -> list[int]:
        """Greedy ids up to and including EOS (if reached)."""
        ids = torch.tensor([prompt_ids])
        with torch.inference_mode():
            out = self.model.generate(ids, max_new_tokens=max_tokens, do_sample=False)
        return list(out[0, len(prompt_ids):].tolist())

    def logprobs(self, prompt_ids: list[int], completion: tuple[int, ...]) -> torch.Tensor:
        ids = torch.tensor([[*prompt_ids, *completion]])
        with torch.inference_mode():
            logp = self.model(ids).logits[0].float().log_softmax(-1)
        return logp[len(prompt_ids) - 1: len(prompt_ids) - 1 + len(completion)]


@pytest.fixture(scope="module")
def hf() -> HFReference:
    if not (VLLM_MODEL / "model.safetensors").exists():
        pytest.skip(f"{VLLM_MODEL} is missing: train it with `ttscale mini train-policy --size l`")
    return HFReference()


def chat(problem: task.MiniProblem) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", problem.text),)


def greedy(problem: task.MiniProblem, **kwargs: Any) -> GenerationRequest:
    return replace(GenerationRequest(chat(problem), max_tokens=40), **kwargs)


def sampled(**kwargs: Any) -> GenerationRequest:
    # A raw prompt at a high temperature: the trained chat prompts are too confident to vary.
    return replace(GenerationRequest("Step 1:", temperature=1.5, max_tokens=12, seed=7), **kwargs)


def test_satisfies_the_protocol_and_counts_parameters(engine: Any, hf: HFReference) -> None:
    assert isinstance(engine, LLMEngine)
    assert engine.num_parameters == sum(p.numel() for p in hf.model.parameters())


def test_no_requests_give_no_outputs(engine: LLMEngine) -> None:
    assert engine.generate([]) == []


def test_n_completions_per_request_in_order_with_prompt_tokens(
    engine: LLMEngine, hf: HFReference
) -> None:
    prompts, counts = ["Step 1:", "Step 1: 75 - 16 = 59\n\nStep 2:", "The answer is"], (2, 1, 3)
    outputs = engine.generate(
        [GenerationRequest(p, n=n, max_tokens=3) for p, n in zip(prompts, counts, strict=True)]
    )
    assert [len(out) for out in outputs] == list(counts)
    for prompt, out in zip(prompts, outputs, strict=True):
        expected = len(hf.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert engine.count_tokens(prompt) == expected
        assert all(c.prompt_tokens == expected for c in out)


def test_greedy_equals_hugging_face_generate(engine: LLMEngine, hf: HFReference) -> None:
    problems = PROBLEMS[::2]
    outputs = engine.generate([greedy(p) for p in problems])
    for problem, [out] in zip(problems, outputs, strict=True):
        prompt_ids = hf.prompt_ids(chat(problem))
        ids = hf.greedy(prompt_ids, 40)
        ended = ids[-1] == hf.tokenizer.eos_token_id
        expected = ids[:-1] if ended else ids
        assert list(out.token_ids) == expected
        assert out.text == hf.tokenizer.decode(expected, skip_special_tokens=True)
        assert out.finish_reason == ("stop" if ended else "length")
        assert out.prompt_tokens == len(prompt_ids)


def test_greedy_samples_of_one_request_are_identical(engine: LLMEngine) -> None:
    [[single]] = engine.generate([greedy(PROBLEMS[5])])
    [copies] = engine.generate([greedy(PROBLEMS[5], n=3)])
    assert copies == [single] * 3


def test_same_seed_gives_same_samples_alone_and_in_a_batch(engine: LLMEngine) -> None:
    request = sampled(n=3)
    [alone] = engine.generate([request])
    batch = engine.generate([sampled(seed=100), request, greedy(PROBLEMS[1])])
    assert [c.text for c in batch[1]] == [c.text for c in alone]


def test_sample_i_uses_seed_plus_i(engine: LLMEngine) -> None:
    [samples] = engine.generate([sampled(n=3, seed=20)])
    [[third]] = engine.generate([sampled(seed=22)])
    assert samples[2].token_ids == third.token_ids


def test_different_seeds_give_different_samples(engine: LLMEngine) -> None:
    [samples] = engine.generate([sampled(n=4)])
    assert len({c.text for c in samples}) > 1


def test_stop_string_cuts_and_include_stop_keeps_it(engine: LLMEngine) -> None:
    request = greedy(PROBLEMS[2], stop=("\n\n", "zzz"))
    [[cut], [kept]] = engine.generate([request, replace(request, include_stop=True)])
    assert cut.finish_reason == kept.finish_reason == "stop"
    assert cut.stop_reason == kept.stop_reason == "\n\n"
    assert cut.text.startswith("Step 1:") and "\n" not in cut.text
    assert kept.text == cut.text + "\n\n" and kept.token_ids == cut.token_ids


def test_stop_string_on_the_last_allowed_token_is_stop(engine: LLMEngine) -> None:
    request = greedy(PROBLEMS[2], stop=("\n\n",))
    [[first]] = engine.generate([request])
    [[out]] = engine.generate([replace(request, max_tokens=first.completion_tokens)])
    assert (out.finish_reason, out.stop_reason, out.text) == ("stop", "\n\n", first.text)


def test_max_tokens_gives_length_with_exactly_max_tokens_tokens(engine: LLMEngine) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[9], max_tokens=5)])
    assert (out.finish_reason, out.stop_reason, out.completion_tokens) == ("length", None, 5)


def test_eos_gives_stop_without_stop_reason_or_eos_token(engine: LLMEngine) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[0], max_tokens=120)])
    assert (out.finish_reason, out.stop_reason) == ("stop", None)
    assert out.text.endswith("}.") and "<|im_end|>" not in out.text
    assert load_tokenizer().eos_token_id not in out.token_ids


def test_logprobs_are_top_k_sorted_and_match_a_forward_pass(
    engine: LLMEngine, hf: HFReference
) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[3], max_tokens=8, logprobs=3)])
    assert out.logprobs is not None and len(out.logprobs) == out.completion_tokens == 8
    logp = hf.logprobs(hf.prompt_ids(chat(PROBLEMS[3])), out.token_ids)
    for position, (token_id, entry) in enumerate(zip(out.token_ids, out.logprobs, strict=True)):
        values = [t.logprob for t in entry.top]
        assert len(entry.top) == 3 and values == sorted(values, reverse=True)
        assert entry.token_id == token_id == entry.top[0].token_id  # greedy takes the argmax
        top_values, top_ids = logp[position].topk(3)
        assert [t.token_id for t in entry.top] == top_ids.tolist()
        assert values == pytest.approx(top_values.tolist(), abs=1e-3)
        assert entry.logprob == pytest.approx(logp[position, token_id].item(), abs=1e-3)


def test_no_logprobs_when_not_asked(engine: LLMEngine) -> None:
    [[out]] = engine.generate([greedy(PROBLEMS[0], max_tokens=2)])
    assert out.logprobs is None


def test_continue_final_continues_the_assistant_turn(engine: LLMEngine, hf: HFReference) -> None:
    problem = PROBLEMS[4]
    messages = (*chat(problem), ChatMessage("assistant", task.solution_steps(problem)[0] + "\n\n"))
    [[out]] = engine.generate([GenerationRequest(messages, max_tokens=8, continue_final=True)])
    assert out.text.startswith("Step 2:")
    assert list(out.token_ids) == hf.greedy(hf.prompt_ids(messages, continue_final=True), 8)


def test_continue_final_needs_a_final_assistant_message(engine: LLMEngine) -> None:
    with pytest.raises(EngineError, match="continue_final"):
        engine.generate([GenerationRequest(chat(PROBLEMS[0]), continue_final=True)])


@pytest.mark.parametrize(("field", "value"), [("n", 0), ("temperature", -0.5), ("top_p", 1.5)])
def test_invalid_parameter_raises_engine_error_naming_it(
    engine: LLMEngine, field: str, value: object
) -> None:
    with pytest.raises(EngineError, match=re.escape(f"{field}={value!r}")):
        engine.generate([replace(greedy(PROBLEMS[0]), **{field: value})])
