"""ClassifierPRM end to end on tiny randomly initialised Llama models (real model code).

The trained mini-prm does not exist yet, so these check shapes, counts, batching and the three
heads against an independent computation (a plain full forward of the same weights). Weights are
drawn with a wide init so rewards differ clearly between steps and solutions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from ttscale.errors import ConfigError, EngineError
from ttscale.mini import task
from ttscale.mini.models import load_tokenizer
from ttscale.rewards import load_prm
from ttscale.rewards.base import ProcessRewardModel, ScoreRequest
from ttscale.rewards.classifier import ClassifierPRM, token_batches
from ttscale.rewards.rendering import render
from ttscale.rewards.specs import MINI_PRM, QWEN_PRM_7B, SKYWORK_1_5B
from ttscale.rewards.surprise import SurpriseHead

torch.set_num_threads(1)
PROBLEMS = task.benchmark_set(per_level=2)
REQUESTS = [ScoreRequest(p.text, tuple(p.solution().split("\n\n"))) for p in PROBLEMS]


def tiny_config(tokenizer: Any, **extra: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
        initializer_range=0.5, tie_word_embeddings=True, bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **extra,
    )


def save(model: Any, tokenizer: Any, folder: Path) -> Path:
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def save_copy(folder: Path, tmp_path: Path, head: SurpriseHead | None) -> Path:
    """A copy of a model folder with another surprise head (None: without one)."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "prm_head.json").unlink()
    if head is not None:
        head.save(copy)
    return copy


@pytest.fixture(scope="module")
def mini_dir(tmp_path_factory) -> Path:
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    tok = load_tokenizer()
    folder = save(LlamaForCausalLM(tiny_config(tok)), tok, tmp_path_factory.mktemp("mini"))
    SurpriseHead(weight=0.01, bias=-0.2).save(folder)  # logits here are large
    return folder


@pytest.fixture(scope="module")
def prm(mini_dir) -> ClassifierPRM:
    return ClassifierPRM(MINI_PRM, mini_dir, device="cpu", token_budget=1024)


def reference_token_pair(
    folder: Path, request: ScoreRequest, head: SurpriseHead | None = None
) -> list[float]:
    """sigmoid(Yes - No + weight x least step-token log-prob + bias) from the full LM logits of
    an unbatched forward (no head: P(Yes) over {Yes, No})."""
    from transformers import AutoModelForCausalLM

    tok = load_tokenizer(folder)
    rendered = render(MINI_PRM, tok, request.question, request.steps)
    model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    ids = rendered.input_ids
    with torch.no_grad():
        logp = model(torch.tensor([ids])).logits[0].log_softmax(-1)
    yes, no = tok.convert_tokens_to_ids("Yes"), tok.convert_tokens_to_ids("No")
    head = head or SurpriseHead()
    rewards = []
    for read, (start, end) in zip(rendered.read_positions, rendered.step_spans, strict=True):
        least = min(float(logp[t - 1, ids[t]]) for t in range(start, end))
        margin = float(logp[read, yes] - logp[read, no])
        rewards.append(float(torch.sigmoid(torch.tensor(margin + head.weight * least + head.bias))))
    return rewards


def test_classifier_prm_satisfies_the_protocol(prm, mini_dir):
    assert isinstance(prm, ProcessRewardModel)
    assert prm.name == mini_dir.name
    assert prm.num_parameters == sum(p.numel() for p in prm.model.parameters())


def test_one_reward_in_unit_interval_per_step_in_request_order(prm):
    scores = prm.score(REQUESTS)
    assert [len(s.rewards) for s in scores] == [len(r.steps) for r in REQUESTS]
    assert all(0.0 <= x <= 1.0 for s in scores for x in s.rewards)
    assert all(s.error is None and s.scored is None for s in scores)
    assert len({round(x, 3) for s in scores for x in s.rewards}) > len(REQUESTS)


def test_rewards_equal_an_unbatched_full_logits_forward(prm, mini_dir):
    head = SurpriseHead.load(mini_dir)
    for request, scores in zip(REQUESTS[::3], prm.score(REQUESTS[::3]), strict=True):
        expected = reference_token_pair(mini_dir, request, head)
        assert scores.rewards == pytest.approx(expected, abs=1e-5)


def test_without_surprise_the_reward_is_p_yes_over_yes_and_no(mini_dir):
    plain = ClassifierPRM(replace(MINI_PRM, surprise=False), mini_dir, device="cpu")
    for request, scores in zip(REQUESTS[::3], plain.score(REQUESTS[::3]), strict=True):
        assert scores.rewards == pytest.approx(reference_token_pair(mini_dir, request), abs=1e-5)


def test_the_surprise_term_lowers_the_reward_of_a_less_likely_step(mini_dir, tmp_path):
    strong = save_copy(mini_dir, tmp_path, SurpriseHead(weight=0.05, bias=0.0))
    with_head = ClassifierPRM(MINI_PRM, strong, device="cpu").score(REQUESTS[:4])
    plain = ClassifierPRM(replace(MINI_PRM, surprise=False), mini_dir, device="cpu")
    without = plain.score(REQUESTS[:4])
    # log-probabilities are <= 0, so a positive weight can only lower a reward
    pairs = [(a, b) for s, t in zip(with_head, without, strict=True)
             for a, b in zip(s.rewards, t.rewards, strict=True)]  # fmt: skip
    assert all(a <= b + 1e-6 for a, b in pairs) and any(a < b - 1e-3 for a, b in pairs)


def test_a_surprise_prm_without_its_head_file_is_an_engine_error(mini_dir, tmp_path):
    bare = save_copy(mini_dir, tmp_path, None)
    with pytest.raises(EngineError, match=r"prm_head\.json"):
        ClassifierPRM(MINI_PRM, bare, device="cpu")


@pytest.mark.parametrize("budget", [64, 300, 100_000])
def test_rewards_do_not_depend_on_batching(mini_dir, budget):
    batched = ClassifierPRM(MINI_PRM, mini_dir, device="cpu", token_budget=budget)
    together = batched.score(REQUESTS)
    for request, scores in zip(REQUESTS, together, strict=True):
        [alone] = batched.score([request])
        assert scores.rewards == pytest.approx(alone.rewards, abs=1e-5)


def test_every_forward_pass_stays_within_the_token_budget(mini_dir):
    shapes: list[tuple[int, int]] = []

    def record(module: torch.nn.Module, args: tuple, output: Any) -> None:
        if isinstance(module, torch.nn.Embedding) and args and args[0].dim() == 2:
            shapes.append(tuple(args[0].shape))

    prm = ClassifierPRM(MINI_PRM, mini_dir, device="cpu", token_budget=400)
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        prm.score(REQUESTS)
    finally:
        handle.remove()
    assert sum(rows for rows, _ in shapes) == len(REQUESTS)
    assert all(rows * width <= 400 for rows, width in shapes)
    assert len(shapes) < len(REQUESTS)


@pytest.mark.parametrize(
    ("lengths", "budget", "expected"),
    [
        ([5, 9, 3, 8], 18, [[1, 3], [0, 2]]),
        ([5, 9, 3, 8], 100, [[1, 3, 0, 2]]),
        ([50, 10], 20, [[0], [1]]),  # longer than the budget: alone
        ([], 10, []),
    ],
)
def test_token_batches_pack_longest_first_within_budget(lengths, budget, expected):
    assert token_batches(lengths, budget) == expected


def test_stop_below_keeps_rewards_up_to_the_first_low_one_and_zeroes_the_rest(prm):
    request = max(REQUESTS, key=lambda r: len(r.steps))
    [full] = prm.score([request])
    threshold = sorted(full.rewards)[len(full.rewards) // 2] + 1e-6
    first = next(k for k, r in enumerate(full.rewards) if r < threshold)
    [stopped] = prm.score([replace(request, stop_below=threshold)])
    assert stopped.scored == (first + 1 if first + 1 < len(full.rewards) else None)
    assert stopped.rewards[: first + 1] == pytest.approx(full.rewards[: first + 1], abs=1e-6)
    assert stopped.rewards[first + 1 :] == (0.0,) * (len(full.rewards) - first - 1)


def test_usage_counts_forwarded_tokens_and_flops(prm):
    [scores] = prm.score(REQUESTS[:1])
    tokens = len(render(MINI_PRM, prm.tokenizer, REQUESTS[0].question, REQUESTS[0].steps)
                 .input_ids)
    assert scores.usage.prompt_tokens == tokens
    assert scores.usage.completion_tokens == 0
    assert scores.usage.flops == 2.0 * prm.num_parameters * tokens


def test_a_request_without_steps_fails_alone(prm):
    scores = prm.score([REQUESTS[0], ScoreRequest("question", ()), REQUESTS[1]])
    assert scores[1].rewards == () and "no steps" in (scores[1].error or "")
    assert scores[0].error is None and len(scores[0].rewards) == len(REQUESTS[0].steps)
    assert scores[2].error is None and len(scores[2].rewards) == len(REQUESTS[1].steps)


def test_a_solution_longer_than_max_length_fails_alone(mini_dir):
    prm = ClassifierPRM(MINI_PRM, mini_dir, device="cpu", max_length=100)
    long = ScoreRequest("q", ("Step 1: 1 + 1 = 2",) * 20)
    short, failed = prm.score([REQUESTS[0], long])
    assert failed.rewards == () and "longer than its max_length of 100" in (failed.error or "")
    assert short.error is None and len(short.rewards) == len(REQUESTS[0].steps)


def test_context_length_defaults_to_the_model_config(prm):
    long = ScoreRequest("q", ("Step 1: 12 + 13 = 25",) * 60)
    [failed] = prm.score([long])
    assert "max_length of 512" in (failed.error or "")


def test_no_requests_give_no_scores(prm):
    assert prm.score([]) == []


def test_a_spec_whose_marker_the_tokenizer_lacks_is_refused_at_load(mini_dir):
    with pytest.raises(ConfigError, match=r"'qwen2.5-math-prm-7b'.*'<extra_0>'"):
        ClassifierPRM(replace(QWEN_PRM_7B, trust_remote_code=False), mini_dir, device="cpu")


def test_token_budget_must_be_positive(mini_dir):
    with pytest.raises(ConfigError, match="token_budget=0"):
        ClassifierPRM(MINI_PRM, mini_dir, device="cpu", token_budget=0)


def test_a_missing_model_folder_is_an_engine_error(tmp_path):
    with pytest.raises(EngineError, match="cannot load PRM 'mini-prm'"):
        ClassifierPRM(MINI_PRM, tmp_path / "nowhere", device="cpu")


def test_two_class_head_reads_the_positive_label_at_each_marker(tmp_path):
    from transformers import LlamaForTokenClassification

    tok = load_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    torch.manual_seed(1)
    model = LlamaForTokenClassification(tiny_config(tok, num_labels=2)).eval()
    folder = save(model, tok, tmp_path / "qwen-like")
    spec = replace(QWEN_PRM_7B, auto_class="AutoModelForTokenClassification",
                   trust_remote_code=False)
    prm = ClassifierPRM(spec, folder, device="cpu", token_budget=256)
    for request, scores in zip(REQUESTS[:4], prm.score(REQUESTS[:4]), strict=True):
        rendered = render(spec, tok, request.question, request.steps)
        with torch.no_grad():
            logits = model(torch.tensor([rendered.input_ids])).logits[0]
        expected = logits[list(rendered.read_positions)].softmax(-1)[:, 1].tolist()
        assert scores.rewards == pytest.approx(expected, abs=1e-5)


def test_value_head_reads_sigmoid_of_the_checkpoints_v_head(tmp_path):
    from transformers import LlamaForCausalLM

    tok = load_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|vision_start|>"]})
    torch.manual_seed(2)
    model = LlamaForCausalLM(tiny_config(tok)).eval()
    folder = save(model, tok, tmp_path / "skywork-like")
    weight, bias = torch.randn(1, 32), torch.randn(1)
    tensors = load_file(str(folder / "model.safetensors"))
    save_file({**tensors, "v_head.summary.weight": weight, "v_head.summary.bias": bias},
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    prm = ClassifierPRM(SKYWORK_1_5B, folder, device="cpu", token_budget=256)
    assert prm.num_parameters == sum(p.numel() for p in model.model.parameters()) + 33
    for request, scores in zip(REQUESTS[:4], prm.score(REQUESTS[:4]), strict=True):
        rendered = render(SKYWORK_1_5B, tok, request.question, request.steps)
        with torch.no_grad():
            hidden = model.model(torch.tensor([rendered.input_ids])).last_hidden_state[0]
        expected = torch.sigmoid(hidden[list(rendered.read_positions)] @ weight.T + bias)
        assert scores.rewards == pytest.approx(expected.squeeze(-1).tolist(), abs=1e-5)


def test_a_checkpoint_without_v_head_is_an_engine_error(mini_dir, tmp_path):
    tok = load_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|vision_start|>"]})
    from transformers import LlamaForCausalLM

    folder = save(LlamaForCausalLM(tiny_config(tok)), tok, tmp_path / "no-head")
    with pytest.raises(EngineError, match="has no value head"):
        ClassifierPRM(SKYWORK_1_5B, folder, device="cpu")


def test_load_prm_reads_a_folder_with_a_named_spec(mini_dir):
    prm = load_prm(mini_dir, spec="mini-prm", device="cpu")
    assert prm.spec is MINI_PRM
    assert len(prm.score(REQUESTS[:1])[0].rewards) == len(REQUESTS[0].steps)


def test_load_prm_needs_a_spec_for_a_path(mini_dir):
    with pytest.raises(ConfigError, match="also give spec="):
        load_prm(mini_dir)


def test_load_prm_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="Did you mean 'math-shepherd'"):
        load_prm("math-shepard")

