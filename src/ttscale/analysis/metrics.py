"""Accuracy per difficulty level and overall, tokens and FLOPs (policy and PRM), failures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ttscale.runs.store import ProblemRecord


@dataclass(frozen=True)
class StrategySummary:
    """What one strategy achieved on a run's problems."""

    strategy: str
    problems: int
    accuracy: float
    any_correct: float
    """Share of problems where some candidate was right (pass@n of the samples drawn)."""
    by_level: dict[str, float]
    """Accuracy per difficulty level ("1".."5"; "all" when the dataset has no levels)."""
    prompt_tokens: int
    completion_tokens: int
    flops: float
    """The policy's FLOPs."""
    wall_s: float
    prm_tokens: int = 0
    prm_flops: float = 0.0
    """The PRM's FLOPs, apart from the policy's."""
    failures: int = 0
    """Problems with a recorded failure (no finished candidate, unscored solutions)."""
    no_answer: int = 0
    """Problems where no answer could be selected."""


def summarize(strategy: str, records: Sequence[ProblemRecord]) -> StrategySummary:
    levels: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        levels[str(r.level) if r.level is not None else "all"].append(r.correct)
    count = max(1, len(records))
    return StrategySummary(
        strategy=strategy,
        problems=len(records),
        accuracy=sum(r.correct for r in records) / count,
        any_correct=sum(r.any_correct for r in records) / count,
        by_level={k: sum(v) / len(v) for k, v in sorted(levels.items())},
        prompt_tokens=sum(r.prompt_tokens for r in records),
        completion_tokens=sum(r.completion_tokens for r in records),
        flops=sum(r.flops for r in records),
        wall_s=sum(r.wall_s for r in records),
        prm_tokens=sum(r.prm_tokens for r in records),
        prm_flops=sum(r.prm_flops for r in records),
        failures=sum(r.failure is not None for r in records),
        no_answer=sum(r.answer is None for r in records),
    )
