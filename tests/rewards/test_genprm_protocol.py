"""GenPRM's exact conversation, decision parsing and reward formula (reference/genprm.md §3)."""

from __future__ import annotations

import math

import pytest

from ttscale.rewards.genprm_protocol import (
    RewardTokens,
    conversation,
    decision_position,
    parse_decision,
    step_reward,
)
from ttscale.types import ChatMessage, TokenLogprobs, TopLogprob

YES, NO, OTHER = 10, 11, 12
TOKENS = RewardTokens(YES, NO)


def test_conversation_renders_system_question_steps_and_earlier_rationales_exactly() -> None:
    chat = conversation("What is 1+1?", ("Step 1: 1 + 1 = 2", "The answer is 2."), ("R1",))
    assert chat == (
        ChatMessage(
            "system",
            "You are a math teacher. Your task is to review and critique the paragraphs in "
            "solution step by step.",
        ),
        ChatMessage("user", "Question: What is 1+1?\n\nStep 1: 1 + 1 = 2"),
        ChatMessage("assistant", "R1"),
        ChatMessage("user", "The answer is 2."),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<output>\n**Judgement**: $\\boxed{Yes}$\n</output>\n", True),
        ("<output>\n**Judgement**: $\\boxed{No}$\n</output>\n", False),
        # a Yes} inside the rationale must not decide (§3.6): only the final <output> counts
        (
            "<verify>print('Yes}')</verify>\n<output>\n**Judgement**: $\\boxed{No}$\n</output>",
            False,
        ),
        ("<output>first {No}</output> then <output>\n$\\boxed{Yes}$\n</output>", True),
        ("<analyze>looks right: \\boxed{Yes}</analyze>", None),
        ("<output>\n**Judgement**: $\\boxed{Maybe}$\n</output>", None),
    ],
)
def test_decision_is_parsed_from_the_final_output_block_only(
    text: str, expected: bool | None
) -> None:
    assert parse_decision(text) is expected


def _position(token: int, top: dict[int, float]) -> TokenLogprobs:
    return TokenLogprobs(
        token, top[token], tuple(TopLogprob(t, str(t), lp) for t, lp in top.items())
    )


@pytest.mark.parametrize(
    ("top", "decision", "mode", "expected"),
    [
        ({YES: math.log(0.6), NO: math.log(0.2), OTHER: math.log(0.2)}, True, "calibrated", 0.75),
        ({NO: math.log(0.9), YES: math.log(0.1)}, False, "calibrated", 0.1),
        # No missing from the top: the smallest returned logprob stands in (§3.5)
        ({YES: math.log(0.7), OTHER: math.log(0.1)}, True, "calibrated", 0.7 / 0.8),
        # official_like: T=0.6 and top-p 0.95 mask the loser, so the reward is hard
        (
            {YES: math.log(0.9), NO: math.log(0.05), OTHER: math.log(0.05)},
            True,
            "official_like",
            1.0,
        ),
        ({YES: math.log(0.55), NO: math.log(0.45)}, True, "official_like", None),
        ({YES: math.log(0.6), NO: math.log(0.4)}, True, "hard", 1.0),
        ({YES: math.log(0.6), NO: math.log(0.4)}, False, "hard", 0.0),
    ],
)
def test_reward_formula_from_top_logprobs(
    top: dict[int, float], decision: bool, mode: str, expected: float | None
) -> None:
    position = _position(YES if decision else NO, top)
    got = step_reward(position, TOKENS, decision=decision, mode=mode)  # type: ignore[arg-type]
    if expected is None:  # both kept by top-p: the tempered two-way softmax
        a, b = math.log(0.55) / 0.6, math.log(0.45) / 0.6
        expected = math.exp(a) / (math.exp(a) + math.exp(b))
    assert got == pytest.approx(expected)


def test_no_decision_gives_half() -> None:
    assert step_reward(None, TOKENS, decision=None, mode="calibrated") == 0.5


def test_decision_position_is_the_last_occurrence_of_the_decided_token() -> None:
    first = _position(YES, {YES: -0.1, NO: -3.0})
    last = _position(YES, {YES: -0.5, NO: -1.0})
    other = _position(OTHER, {OTHER: -0.1})
    assert decision_position((first, last, other), TOKENS, True) is last
    assert decision_position((first, other), TOKENS, False) is None
