"""Token-level rendering: marker positions, replacements and read offsets in real token ids.

The reference PRMs' tokenizers cannot be downloaded here, so their specs are rendered with the
mini tokenizer extended with the tokens they need (the same kind of special tokens: the chat
headers, <extra_0>, the RLHFlow placeholder, Skywork's separator, Math-Shepherd's ки).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ttscale.errors import ConfigError
from ttscale.mini.models import load_tokenizer
from ttscale.rewards.rendering import RenderError, render, render_text, spec_token_ids
from ttscale.rewards.specs import (
    MATH_SHEPHERD,
    MINI_PRM,
    QWEN_PRM_7B,
    RLHFLOW_MISTRAL,
    SKYWORK_1_5B,
    PRMSpec,
)

Q = "Ann has 23 coins. She finds 15 more. How many coins does she have?"
STEPS = ("Step 1: 23 + 15 = 38", "Step 2: 38 - 0 = 38", "The answer is \\boxed{38}.")
# Math-Shepherd pins its Mistral token ids; with this tokenizer they come from encode() instead.
SHEPHERD = replace(MATH_SHEPHERD, pinned_ids=())
SPECIALS = [
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
    "<|reserved_special_token_0|>", "<extra_0>", "<|vision_start|>",
]


@pytest.fixture(scope="module")
def mini() -> Any:
    return load_tokenizer()


@pytest.fixture(scope="module")
def extended() -> Any:
    tok = load_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": SPECIALS})
    tok.add_tokens(["ки"])
    return tok


def original_tokens(tokenizer: Any, spec: PRMSpec, rendered_ids: tuple[int, ...]) -> list[str]:
    """The text's own tokens (before any marker replacement), decoded one by one."""
    text = render_text(spec, Q, STEPS, bos_token=tokenizer.bos_token or "").text
    ids = tokenizer(text, add_special_tokens=spec.bos == "by_tokenizer")["input_ids"]
    assert len(ids) == len(rendered_ids)
    return [tokenizer.decode([i]) for i in ids]


@pytest.mark.parametrize("spec", [MINI_PRM, SHEPHERD, RLHFLOW_MISTRAL, SKYWORK_1_5B,
                                  QWEN_PRM_7B], ids=lambda s: s.name)
def test_one_marker_token_per_step_at_the_reported_positions(extended, spec):
    rendered = render(spec, extended, Q, STEPS)
    tokens = original_tokens(extended, spec, rendered.input_ids)
    assert len(rendered.marker_positions) == len(STEPS)
    assert [tokens[p] for p in rendered.marker_positions] == [spec.marker] * len(STEPS)
    assert tokens.count(spec.marker) == len(STEPS)


@pytest.mark.parametrize(
    ("spec", "seen"),
    [(RLHFLOW_MISTRAL, "+"), (SKYWORK_1_5B, "\n"), (MINI_PRM, "\n")],
    ids=["rlhflow", "skywork", "mini"],
)
def test_markers_are_overwritten_with_the_token_the_model_was_trained_on(extended, spec, seen):
    rendered = render(spec, extended, Q, STEPS)
    text = render_text(spec, Q, STEPS).text
    assert extended.decode(list(rendered.input_ids)) == text.replace(spec.marker, seen)
    assert {rendered.input_ids[p] for p in rendered.marker_positions} == {
        extended.convert_tokens_to_ids(seen if seen != "\n" else "Ċ")
    }


def test_rlhflow_reads_the_position_that_predicts_the_assistant_plus(extended):
    rendered = render(RLHFLOW_MISTRAL, extended, Q, STEPS)
    assert rendered.read_positions == tuple(p - 1 for p in rendered.marker_positions)
    # the token before each "+" closes the assistant header ("<|end_header_id|>\n\n")
    assert {extended.decode([rendered.input_ids[p]]) for p in rendered.read_positions} == {"\n"}


@pytest.mark.parametrize("spec", [MINI_PRM, QWEN_PRM_7B, SKYWORK_1_5B], ids=lambda s: s.name)
def test_other_specs_read_at_the_marker_itself(extended, spec):
    rendered = render(spec, extended, Q, STEPS)
    assert rendered.read_positions == rendered.marker_positions


def test_mini_prm_input_is_the_policys_own_tokens_of_the_solution(mini):
    # the surprise term reads the policy's log-probabilities: no token it never saw
    rendered = render(MINI_PRM, mini, Q, STEPS)
    prompt = mini.apply_chat_template(
        [{"role": "user", "content": Q}], tokenize=False, add_generation_prompt=True
    )
    policy = mini(prompt + "\n\n".join(STEPS) + "\n", add_special_tokens=False)["input_ids"]
    assert list(rendered.input_ids[: len(policy)]) == policy
    newline = mini.encode("\n", add_special_tokens=False)
    assert [rendered.input_ids[p] for p in rendered.marker_positions] == newline * len(STEPS)


def test_mini_prm_compares_yes_with_no(mini):
    tokens = spec_token_ids(MINI_PRM, mini)
    assert [mini.decode([i]) for i in tokens.compare] == ["Yes", "No"]
    assert tokens.replacement == mini.encode("\n", add_special_tokens=False)[0]


def test_marker_text_inside_a_step_is_not_a_marker_position(extended):
    steps = ("Step 1: ки is not a marker here", "Step 2: 1 + 1 = 2")
    rendered = render(SHEPHERD, extended, Q, steps)
    ki = extended.convert_tokens_to_ids("ки")
    assert sum(t == ki for t in rendered.input_ids) == 3
    assert len(rendered.marker_positions) == 2
    assert rendered.marker_positions[0] > rendered.input_ids.index(ki)


@pytest.mark.parametrize("spec", [MATH_SHEPHERD, RLHFLOW_MISTRAL, SKYWORK_1_5B, QWEN_PRM_7B],
                         ids=lambda s: s.name)
def test_a_tokenizer_without_the_marker_is_a_config_error_naming_spec_and_token(mini, spec):
    with pytest.raises(ConfigError, match=rf"prm spec '{spec.name}'.*{spec.marker!r}"):
        render(spec, mini, Q, STEPS)


def test_pinned_ids_are_used_instead_of_encoding_the_token(mini):
    spaced_plus = mini.convert_tokens_to_ids("Ġ+")  # " +", as Mistral's "▁+"
    spec = replace(MINI_PRM, compare_tokens=("+", "-"), pinned_ids=(("+", spaced_plus),))
    tokens = spec_token_ids(spec, mini)
    assert tokens.compare == (spaced_plus, mini.encode("-", add_special_tokens=False)[-1])
    assert spaced_plus != mini.encode("+", add_special_tokens=False)[-1]


def test_a_pinned_id_of_another_token_is_a_config_error(mini):
    spec = replace(MINI_PRM, compare_tokens=("+", "-"), pinned_ids=(("+", 5),))
    with pytest.raises(ConfigError, match=r"compare token '\+'.*the pinned id 5 is not it"):
        spec_token_ids(spec, mini)


def test_math_shepherd_refuses_a_tokenizer_where_its_pinned_ids_are_other_tokens(extended):
    with pytest.raises(ConfigError, match=r"'math-shepherd'.*'ки'.*pinned id 12902"):
        spec_token_ids(MATH_SHEPHERD, extended)


def test_a_missing_compare_token_is_a_config_error(mini):
    spec = replace(MINI_PRM, compare_tokens=("Yes", "Perhaps"))
    with pytest.raises(ConfigError, match=r"compare token 'Perhaps'"):
        spec_token_ids(spec, mini)


def test_a_marker_merged_into_its_neighbour_is_a_render_error(mini):
    spec = replace(MINI_PRM, marker="e")  # "Th" + "e" tokenises as the single token "The"
    with pytest.raises(RenderError, match="merged with neighbouring text"):
        render(spec, mini, Q, ("Th",))


def test_empty_steps_are_a_render_error(mini):
    with pytest.raises(RenderError, match="no steps"):
        render(MINI_PRM, mini, Q, [])


def test_mini_prm_step_spans_hold_exactly_each_steps_tokens(mini):
    rendered = render(MINI_PRM, mini, Q, STEPS)
    texts = [mini.decode(list(rendered.input_ids[a:b])) for a, b in rendered.step_spans]
    assert texts == list(STEPS)
    assert all(b <= m for (_, b), m in zip(rendered.step_spans, rendered.marker_positions,
                                           strict=True))  # fmt: skip


@pytest.mark.parametrize("spec", [SHEPHERD, QWEN_PRM_7B], ids=lambda s: s.name)
def test_specs_without_surprise_get_no_step_spans(extended, spec):
    assert render(spec, extended, Q, STEPS).step_spans == ()
