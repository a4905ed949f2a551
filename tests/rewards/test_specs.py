"""Golden renderings: the exact text each classifier PRM spec produces, and its marker spans.

Each expected text is written out from the recipe it must follow (reference/tts-frameworks.md
§2.6, the model cards), as pieces with MARK where a step marker goes, so both the text and the
character span of every marker are checked.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ttscale.errors import ConfigError
from ttscale.rewards import prms
from ttscale.rewards.rendering import RenderError, render_text
from ttscale.rewards.specs import (
    MATH_SHEPHERD,
    MINI_PRM,
    QWEN_PRM_7B,
    QWEN_PRM_72B,
    RLHFLOW_DEEPSEEK,
    RLHFLOW_MISTRAL,
    SKYWORK_1_5B,
    SKYWORK_7B,
    SPECS,
    PRMSpec,
)

Q = "Ann has 23 coins. She finds 15 more. How many coins does she have?"
S1 = "Step 1: 23 + 15 = 38"
S2 = "The answer is \\boxed{38}."
STEPS = (S1, S2)
MARK = object()

LLAMA_HEAD = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
)
RESERVED = "<|reserved_special_token_0|>"


def golden(marker: str, *pieces: object) -> tuple[str, list[tuple[int, int]]]:
    """Join pieces into the expected text; MARK stands for the marker, whose spans are kept."""
    text, spans = "", []
    for piece in pieces:
        if piece is MARK:
            spans.append((len(text), len(text) + len(marker)))
            text += marker
        else:
            assert isinstance(piece, str)
            text += piece
    return text, spans


def check(spec: PRMSpec, expected: tuple[str, list[tuple[int, int]]], steps=STEPS,
          *, question: str = Q, bos: str = "") -> None:
    rendered = render_text(spec, question, steps, bos_token=bos)
    assert rendered.text == expected[0]
    assert list(rendered.marker_spans) == expected[1]
    assert all(rendered.text[a:b] == spec.marker for a, b in rendered.marker_spans)


def test_mini_prm_is_chatml_with_a_step_token_then_a_newline_after_each_step():
    # the marker is written over the first "\n" of the policy's "\n\n" (test_rendering.py)
    check(MINI_PRM, golden(
        "<|step|>",
        f"<|im_start|>user\n{Q}<|im_end|>\n<|im_start|>assistant\n{S1}", MARK,
        f"\n{S2}", MARK, "<|im_end|>\n",
    ))


def test_mini_prm_keeps_steps_exactly_as_given():
    check(MINI_PRM, golden(
        "<|step|>",
        f"<|im_start|>user\n{Q}<|im_end|>\n<|im_start|>assistant\n {S1}\n", MARK, "<|im_end|>\n",
    ), steps=(f" {S1}\n",))


def test_math_shepherd_is_question_space_then_step_tag_lines():
    # compute-optimal-tts: "{question} {answer}", each step .strip() + " ки\n"
    check(MATH_SHEPHERD, golden(
        "ки", f"{Q} {S1} ", MARK, f"\n{S2} ", MARK, "\n",
    ), steps=(f"  {S1}\n", S2))


@pytest.mark.parametrize("spec", [RLHFLOW_MISTRAL, RLHFLOW_DEEPSEEK])
def test_rlhflow_is_one_llama31_user_turn_per_step_answered_by_the_placeholder(spec):
    check(spec, golden(
        RESERVED,
        LLAMA_HEAD,
        f"<|start_header_id|>user<|end_header_id|>\n\n{Q} {S1}<|eot_id|>",
        "<|start_header_id|>assistant<|end_header_id|>\n\n", MARK, "<|eot_id|>",
        f"<|start_header_id|>user<|end_header_id|>\n\n{S2}<|eot_id|>",
        "<|start_header_id|>assistant<|end_header_id|>\n\n", MARK, "<|eot_id|>",
    ), bos="<|begin_of_text|>")


def test_rlhflow_trims_each_turn_as_the_llama31_template_does():
    check(RLHFLOW_DEEPSEEK, golden(
        RESERVED,
        LLAMA_HEAD,
        f"<|start_header_id|>user<|end_header_id|>\n\n{Q} {S1}<|eot_id|>",
        "<|start_header_id|>assistant<|end_header_id|>\n\n", MARK, "<|eot_id|>",
    ), steps=(f"\n{S1}  \n",), bos="<|begin_of_text|>")


@pytest.mark.parametrize("spec", [SKYWORK_1_5B, SKYWORK_7B])
def test_skywork_is_bos_question_newline_then_steps_each_ended_by_the_separator(spec):
    check(spec, golden(
        "<|vision_start|>", f"<|endoftext|>{Q}\n{S1}", MARK, S2, MARK,
    ), bos="<|endoftext|>")


def test_skywork_turns_newlines_inside_a_step_into_spaces():
    check(SKYWORK_1_5B, golden(
        "<|vision_start|>", f"{Q}\nfirst line second line", MARK,
    ), steps=(" first line\nsecond line\n",))


@pytest.mark.parametrize("spec", [QWEN_PRM_7B, QWEN_PRM_72B])
def test_qwen_prm_is_the_model_card_chat_with_extra_0_after_each_step(spec):
    check(spec, golden(
        "<extra_0>",
        "<|im_start|>system\nPlease reason step by step, and put your final answer within "
        "\\boxed{}.<|im_end|>\n",
        f"<|im_start|>user\n{Q}<|im_end|>\n<|im_start|>assistant\n{S1}", MARK, S2, MARK,
        "<|im_end|>\n",
    ))


def test_markers_written_by_the_model_are_not_mistaken_for_step_markers():
    question = "Что такое ки? 2 + 2"
    check(MATH_SHEPHERD, golden("ки", f"{question} 2 + 2 = 4 (ки) ", MARK, "\n"),
          steps=("2 + 2 = 4 (ки)",), question=question)


def test_no_steps_is_a_render_error():
    with pytest.raises(RenderError, match="no steps"):
        render_text(MINI_PRM, Q, ())


def test_every_reference_prm_and_the_mini_prm_has_a_spec():
    assert set(SPECS) == {
        "mini-prm", "math-shepherd", "rlhflow-mistral", "rlhflow-deepseek", "skywork-1.5b",
        "skywork-7b", "qwen2.5-math-prm-7b", "qwen2.5-math-prm-72b",
    }


@pytest.mark.parametrize("name", sorted(SPECS))
def test_registry_gives_the_spec_of_each_name(name):
    assert prms.get(name) is SPECS[name]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"chat_template": ""}, "needs a chat_template"),
        ({"compare_tokens": ("Yes",)}, "needs two compare_tokens"),
        ({"positive_index": 2}, "positive_index=2 must be 0 or 1"),
        ({"read_offset": 1}, "read_offset=1 must be 0 or -1"),
        ({"surprise": True, "head": "value_head"}, "surprise needs head 'token_pair'"),
        ({"surprise": True, "step_template": "{marker}{step}"}, "surprise needs"),
    ],
)
def test_inconsistent_specs_are_refused_naming_the_field(change, message):
    with pytest.raises(ConfigError, match=message):
        replace(MINI_PRM, **change)
