"""Answer selection: step-reward reductions and the voting rules of the compute-optimal paper.

A solution's step rewards reduce to one score by ``last``, ``min``, ``avg`` (the paper's
PRM-Last/Min/Avg) or ``prod`` (search-and-learn). Rules (reference/tts-frameworks.md §1.1, §2.5):

- ``majority``: the largest answer class;
- ``prm_<reduction>_max``: the answer of the highest-scored solution;
- ``prm_<reduction>_vote``: the answer class with the largest sum of scores.

That is the paper's seven rules plus ``prm_prod_max`` and ``prm_prod_vote``. Answers are grouped
by the equivalence classes the grader computed (``Grader.cluster``: math-verify), never by
string as the public code does. Only a finished solution with an answer votes; a PRM rule also
needs its step rewards. Ties go to the candidate (or class) seen first, so selection is
deterministic.

The reductions themselves are :func:`ttscale.rewards.aggregation.aggregate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from ttscale.errors import ConfigError
from ttscale.rewards.aggregation import Aggregation, aggregate

Reduction = Aggregation
SelectionRule = Literal[
    "majority",
    "prm_min_max",
    "prm_min_vote",
    "prm_last_max",
    "prm_last_vote",
    "prm_avg_max",
    "prm_avg_vote",
    "prm_prod_max",
    "prm_prod_vote",
]
REDUCTIONS: tuple[Reduction, ...] = get_args(Reduction)
RULES: tuple[SelectionRule, ...] = get_args(SelectionRule)


def reduce_rewards(rewards: Sequence[float], how: Reduction) -> float:
    """One score from a solution's step rewards; a solution with no step scores 0.

    Example:
        >>> reduce_rewards([0.9, 0.5, 0.8], "min")
        0.5
    """
    if not rewards and how in REDUCTIONS:
        return 0.0  # a candidate the PRM never scored ranks last instead of failing the batch
    return aggregate(rewards, how)


def rule_parts(rule: SelectionRule) -> tuple[Reduction | None, Literal["max", "vote"]]:
    """(reduction, "max" | "vote") of a rule; majority is (None, "vote")."""
    if rule == "majority":
        return None, "vote"
    if rule not in RULES:
        raise ConfigError(f"selection rule {rule!r} is unknown; allowed: {', '.join(RULES)}")
    _, how, mode = rule.split("_")
    return how, mode  # type: ignore[return-value]


@dataclass(frozen=True)
class Ballot:
    """What one candidate brings to a vote."""

    answer_class: int | None
    """Its answer's equivalence class; None when it has no answer or did not finish."""
    rewards: tuple[float, ...] | None = None
    """Its step rewards; None when no PRM scored it (it then takes no part in PRM rules)."""


def select(ballots: Sequence[Ballot], rule: SelectionRule) -> int | None:
    """Index of the chosen candidate (the first of the winning class); None if none can vote.

    Example:
        >>> b = [Ballot(0, (0.9,)), Ballot(1, (0.2,)), Ballot(1, (0.3,))]
        >>> select(b, "majority"), select(b, "prm_last_max"), select(b, "prm_last_vote")
        (1, 0, 0)
    """
    how, mode = rule_parts(rule)
    voters = [
        (i, b.answer_class, 1.0 if how is None else reduce_rewards(b.rewards or (), how))
        for i, b in enumerate(ballots)
        if b.answer_class is not None and (how is None or b.rewards is not None)
    ]
    if not voters:
        return None
    if mode == "max":
        return max(voters, key=lambda v: (v[2], -v[0]))[0]
    totals: dict[int, float] = {}
    first: dict[int, int] = {}
    for i, cls, score in voters:
        totals[cls] = totals.get(cls, 0.0) + score
        first.setdefault(cls, i)
    best = max(totals, key=lambda c: (totals[c], -first[c]))
    return first[best]
