"""Compute-optimal TTS over finished runs: per-bin best configuration at each FLOPs budget.

Input is one :class:`Outcome` per (problem, configuration), where a configuration is a
strategy, N and selection rule (e.g. ``beam@16 min/prm-vote``). The compute-optimal choice of
the paper (Eq. 3, reward-aware) is realised as the paper does in practice: a lookup table, here
measured per difficulty bin rather than fixed by model size (reference/tts-frameworks.md §1.2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ttscale.errors import DataError


@dataclass(frozen=True)
class Outcome:
    """How one configuration did on one problem, and what it cost."""

    problem_id: str
    config: str
    correct: bool
    flops: float


@dataclass(frozen=True)
class Point:
    """A configuration's accuracy and mean FLOPs per problem over a set of problems."""

    config: str
    accuracy: float
    flops: float
    problems: int
    ci: tuple[float, float] | None = None
    """95% bootstrap interval of ``accuracy`` over problems, where it was computed."""


def bootstrap_ci(
    correct: Sequence[bool], *, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile interval of the mean of ``correct``, resampling problems.

    A chosen configuration is held fixed across resamples: the interval is the evaluation noise
    of that choice on these problems, not the noise of choosing it.
    """
    import numpy as np

    if not correct:
        raise DataError("a confidence interval needs at least one problem")
    values = np.asarray(correct, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def chosen_correct(
    outcomes: Sequence[Outcome], bins: Mapping[str, str], budget: float
) -> list[bool]:
    """Per problem, whether its bin's best configuration within ``budget`` got it right."""
    table = {c.bin: c.choice for c in optimal_per_bin(outcomes, bins, [budget])}
    by_key = {(o.problem_id, o.config): o.correct for o in outcomes}
    return [
        by_key.get((pid, choice.config), False) if (choice := table.get(b)) else False
        for pid, b in bins.items()
    ]


def points(outcomes: Iterable[Outcome], problem_ids: set[str] | None = None) -> list[Point]:
    """One point per configuration, over ``problem_ids`` (default: all problems)."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if problem_ids is None or o.problem_id in problem_ids:
            groups[o.config].append(o)
    return sorted(
        (
            Point(c, sum(o.correct for o in g) / len(g), sum(o.flops for o in g) / len(g), len(g))
            for c, g in groups.items()
        ),
        key=lambda p: (p.flops, -p.accuracy, p.config),
    )


def best_within(candidates: Sequence[Point], budget: float) -> Point | None:
    """The most accurate point that costs at most ``budget`` (ties: the cheaper one)."""
    affordable = [p for p in candidates if p.flops <= budget]
    return max(affordable, key=lambda p: (p.accuracy, -p.flops), default=None)


def frontier(candidates: Sequence[Point]) -> list[Point]:
    """Points that are more accurate than every cheaper point (the Pareto frontier)."""
    out: list[Point] = []
    for p in sorted(candidates, key=lambda p: (p.flops, -p.accuracy)):
        if not out or p.accuracy > out[-1].accuracy:
            out.append(p)
    return out


@dataclass(frozen=True)
class BinChoice:
    bin: str
    budget: float
    choice: Point | None


def optimal_per_bin(
    outcomes: Sequence[Outcome], bins: Mapping[str, str], budgets: Sequence[float]
) -> list[BinChoice]:
    """For each bin and budget, the best configuration measured on that bin's problems."""
    members: dict[str, set[str]] = defaultdict(set)
    for pid, b in bins.items():
        members[b].add(pid)
    out = []
    for b in sorted(members):
        candidates = points(outcomes, members[b])
        out += [BinChoice(b, budget, best_within(candidates, budget)) for budget in budgets]
    return out


def optimal_curve(
    outcomes: Sequence[Outcome], bins: Mapping[str, str], budgets: Sequence[float]
) -> list[Point]:
    """Accuracy of choosing per bin at each budget: the compute-optimal curve."""
    return list(curve_by_budget(optimal_per_bin(outcomes, bins, budgets), bins).values())


def curve_by_budget(choices: Sequence[BinChoice], bins: Mapping[str, str]) -> dict[float, Point]:
    """Budget -> the point of choosing per bin within it, from :func:`optimal_per_bin`.

    Each bin spends at most the budget per problem, so the mixture does too; its accuracy and
    FLOPs are the problem-weighted means over bins. A budget where some bin has no affordable
    configuration is skipped.
    """
    sizes: dict[str, int] = defaultdict(int)
    for b in bins.values():
        sizes[b] += 1
    total = sum(sizes.values())
    by_budget: dict[float, list[BinChoice]] = defaultdict(list)
    for c in choices:
        by_budget[c.budget].append(c)
    curve = {}
    for budget in sorted(by_budget):
        chosen = by_budget[budget]
        if any(c.choice is None for c in chosen):
            continue
        acc = sum(c.choice.accuracy * sizes[c.bin] for c in chosen if c.choice) / total
        flops = sum(c.choice.flops * sizes[c.bin] for c in chosen if c.choice) / total
        curve[budget] = Point(f"optimal@{budget:.3g}", acc, flops, total)
    return curve


def _flops_reaching(curve: Sequence[Point], accuracy: float) -> float | None:
    """FLOPs where a curve (sorted by FLOPs) first reaches ``accuracy``, linearly interpolated."""
    ordered = sorted(curve, key=lambda p: p.flops)
    for prev, cur in zip([None, *ordered], ordered, strict=False):
        if cur.accuracy >= accuracy:
            if prev is None or cur.accuracy == prev.accuracy:
                return cur.flops
            t = (accuracy - prev.accuracy) / (cur.accuracy - prev.accuracy)
            return prev.flops + t * (cur.flops - prev.flops)
    return None


def efficiency_gain(majority: Sequence[Point], optimal: Sequence[Point]) -> float | None:
    """Budget at the majority curve's best point / budget where the optimal curve matches it.

    The author's definition (compute-optimal-tts issue #11). None when the optimal curve never
    reaches the majority curve's best accuracy (the paper then reports ">" with its largest N).
    """
    if not majority or not optimal:
        raise DataError("efficiency gain needs a majority curve and a compute-optimal curve")
    best = max(majority, key=lambda p: (p.accuracy, -p.flops))
    reach = _flops_reaching(optimal, best.accuracy)
    return None if reach is None or reach <= 0 else best.flops / reach
