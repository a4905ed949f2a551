"""The GenPRM critic loop on the shipped mini policy and mini GenPRM."""

from __future__ import annotations

import os

import pytest

from ttscale.config import PolicyConfig, RefineConfig
from ttscale.engines.transformers_engine import TransformersEngine
from ttscale.errors import ConfigError
from ttscale.mini import task
from ttscale.mini.models import resolve_model
from ttscale.rewards.genprm import mini_genprm
from ttscale.search.refine import accuracy_per_turn, critique_of, refine, refine_messages
from ttscale.types import Problem

os.environ.setdefault("OMP_NUM_THREADS", "1")


def test_critique_is_the_analysis_after_its_first_colon() -> None:
    rationale = (
        "<analyze>\nLet's analyze the Paragraph 2 step by step: The step claims 3 + 4 = 8: "
        "odd.\n</analyze>\n<verify>\n...</verify>"
    )
    assert critique_of(rationale) == "The step claims 3 + 4 = 8: odd."


def test_refinement_chat_follows_policy_refine() -> None:
    problem = Problem("p", "Ann has 2 pens.", "3")
    chat = refine_messages(
        problem, ["Step 1: 2 + 1 = 4", "The answer is 4."], 0, "Wrong sum.",
        cfg=RefineConfig(), system_prompt="sys",
    )  # fmt: skip
    assert [m.role for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[1].content.endswith("put your final answer within \\boxed{}.")
    assert chat[2].content == "Step 1: 2 + 1 = 4\n\nThe answer is 4."
    assert chat[3].content == (
        "There might be some problem in this paragraph of your reasoning, please rethink and "
        "refine your answer:\n>Step 1: 2 + 1 = 4\n\nWrong sum."
    )


def test_refine_needs_a_generative_critic() -> None:
    with pytest.raises(ConfigError, match="generative PRM"):
        refine([], policy=None, prm=None, cfg=RefineConfig(), sampling=PolicyConfig(), seed=0)  # type: ignore[arg-type]


def test_refine_keeps_one_candidate_per_turn_and_reports_accuracy_per_turn() -> None:
    problems = [task.generate(level, 5, split="test").to_problem() for level in (3, 4)]
    policy = TransformersEngine(resolve_model("mini-policy-s"), device="cpu")
    prm = mini_genprm()
    results = refine(problems, policy=policy, prm=prm, cfg=RefineConfig(turns=1),
                     sampling=PolicyConfig(), seed=0)  # fmt: skip
    for r in results:
        assert len(r.candidates) == 2 and r.answer == r.candidates[-1].answer
        assert r.usage.completion_tokens > 0
    acc = accuracy_per_turn(results, lambda p, a: a == p.answer)
    assert len(acc) == 2 and all(0.0 <= a <= 1.0 for a in acc)
