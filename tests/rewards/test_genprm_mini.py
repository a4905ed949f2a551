"""The shipped mini-genprm end to end: real model, real sandbox, GenPRM's exact format."""

from __future__ import annotations

import os
import re

import pytest

from ttscale.rewards.base import ScoreRequest
from ttscale.rewards.genprm import GenPRM, mini_genprm
from ttscale.rewards.genprm_protocol import (
    ANALYZE_START,
    CODE_OUTPUT_OPEN,
    OUTPUT_STOP,
    VERIFY_START,
    parse_decision,
)

os.environ.setdefault("OMP_NUM_THREADS", "1")
Q = "Dev has 19 pens. Dev buys 8 more. Dev sells 5. How many pens does Dev have now?"
RIGHT = ScoreRequest(
    Q, ("Step 1: 19 + 8 = 27", "Step 2: 27 - 5 = 22", "The answer is \\boxed{22}.")
)
WRONG = ScoreRequest(
    Q, ("Step 1: 19 + 8 = 26", "Step 2: 26 - 5 = 21", "The answer is \\boxed{21}.")
)


@pytest.fixture(scope="module")
def prm() -> GenPRM:
    return mini_genprm()


def test_rationales_have_genprm_format_with_executed_code_output(prm: GenPRM) -> None:
    for verified in prm.verify([RIGHT, WRONG]):
        assert len(verified.rationales) == 3
        for k, rationale in enumerate(verified.rationales, start=1):
            assert rationale.startswith(ANALYZE_START.format(k=k))
            assert VERIFY_START in rationale and rationale.endswith(OUTPUT_STOP)
            # the block after [Code Output] is what the sandbox printed for the model's code
            shown = re.search(re.escape(CODE_OUTPUT_OPEN) + r"(.*?)\n```\n", rationale, re.S)
            assert shown is not None and shown.group(1) in ("True", "False")
            assert parse_decision(rationale) is not None


def test_official_like_rewards_follow_the_decisions(prm: GenPRM) -> None:
    (verified,) = prm.verify([WRONG])
    for reward, rationale in zip(verified.scores.rewards, verified.rationales, strict=True):
        assert (reward >= 0.5) == parse_decision(rationale)


def test_it_finds_the_first_error_on_mini_processbench(prm: GenPRM) -> None:
    from ttscale.analysis.processbench import evaluate
    from ttscale.data.processbench import load_processbench

    # measured 98.2 Avg F1 on all 368 samples (README); the s-sized GenPRM shipped before
    # scored 23. A few samples per level can be all right or all wrong, so per-level F1 would be
    # noise here: count the samples whose first error (or -1) it names exactly.
    report = evaluate(load_processbench("mini-processbench", limit=4), prm, stop_at_gold=True)
    hits = [o.correct for o in report.outcomes]
    assert sum(hits) >= 14, [(o.id, o.label, o.predicted) for o in report.outcomes]
