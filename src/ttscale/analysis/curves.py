"""Scaling curves from one run at the largest N: subsampled budgets, bootstrap CIs, pass@k.

search-and-learn's trick (reference/tts-frameworks.md §3.4, §10.4): candidates of independent
units (BoN/majority samples, DVTS subtrees) drawn at N give every smaller budget by taking a
subset of the units. Here the subset is drawn at random, ``resamples`` times (seeded), which
estimates each problem's expected correctness at that budget, and every point has a 95% bootstrap
interval (the problems resampled with replacement), the largest N included. A beam search at N
cannot be cut down: it is one point.

Selection here is :func:`ttscale.search.selection.select` vectorised over replicates (numpy),
on the answer classes and verdicts the run stored, so no grader is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ttscale.errors import ConfigError
from ttscale.runs.store import ProblemRecord
from ttscale.search.selection import SelectionRule, reduce_rewards, rule_parts


@dataclass(frozen=True)
class CurveSpec:
    """How one strategy's stored results turn into curve points."""

    label: str
    family: str
    """Points of one family form one line (e.g. beam_search@4 and beam_search@16)."""
    n: int
    budgets: tuple[int, ...]
    group_size: int
    """Candidates' ``group`` units hold this many of the N (1 for samples, M for a subtree,
    N for a beam search)."""
    rules: tuple[SelectionRule, ...]
    headline: SelectionRule
    independent: bool
    """Candidates are independent samples, so pass@k applies."""


@dataclass(frozen=True)
class CurvePoint:
    strategy: str
    family: str
    n: int
    rule: str
    level: str
    """"all", or a difficulty level ("1".."5")."""
    problems: int
    accuracy: float
    ci_low: float
    ci_high: float
    flops: float
    """Mean FLOPs per problem (policy + PRM), scaled from N in proportion to the budget."""
    pass_at_k: float | None = None
    """Unbiased pass@n at this budget (independent samples only)."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k).

    Example:
        >>> round(pass_at_k(4, 1, 2), 3)
        0.5
    """
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ConfigError(f"pass@k needs 1 <= k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def curve_points(
    records: Sequence[ProblemRecord], spec: CurveSpec, *, resamples: int, seed: int
) -> list[CurvePoint]:
    """Every rule at every budget over all problems, and the headline rule per level.

    Raises:
        ConfigError: a budget is above what the run generated or not a whole number of units.
    """
    for b in spec.budgets:
        if not 1 <= b <= spec.n or b % spec.group_size:
            raise ConfigError(
                f"{spec.label}: budget {b} must be in 1..{spec.n} and a multiple of "
                f"{spec.group_size}: a curve can only subsample what the run generated"
            )
    if not records:
        return []
    rng = np.random.default_rng(seed)
    levels = sorted({str(r.level) for r in records if r.level is not None})
    flops = float(np.mean([r.flops + r.prm_flops for r in records]))
    points: list[CurvePoint] = []
    for b in spec.budgets:
        correct = _correct(records, spec, b, resamples=resamples, rng=rng)
        pak = _pass_at(records, spec, b) if spec.independent else None
        for rule in spec.rules:
            points.append(
                _point(spec, b, rule, "all", correct[rule], pak, flops * b / spec.n, rng,
                       resamples)
            )
        for level in levels if len(levels) > 1 else []:
            cols = np.array([str(r.level) == level for r in records])
            sub = None if pak is None else pak[cols]
            points.append(_point(spec, b, spec.headline, level, correct[spec.headline][:, cols],
                                 sub, flops * b / spec.n, rng, resamples))
    return points


def _point(
    spec: CurveSpec,
    budget: int,
    rule: str,
    level: str,
    correct: np.ndarray,
    pak: np.ndarray | None,
    flops: float,
    rng: np.random.Generator,
    resamples: int,
) -> CurvePoint:
    """Expected accuracy at this budget (each problem's correctness averaged over the
    subsample draws); its 95% CI from resampling the problems with replacement."""
    expected = correct.mean(axis=0)
    problems = correct.shape[1]
    accs = expected[rng.integers(0, problems, size=(resamples, problems))].mean(axis=1)
    low, high = np.percentile(accs, [2.5, 97.5])
    return CurvePoint(
        spec.label, spec.family, budget, rule, level, problems, float(correct.mean()),
        float(low), float(high), flops, None if pak is None else float(pak.mean()),
    )


def _pass_at(records: Sequence[ProblemRecord], spec: CurveSpec, k: int) -> np.ndarray:
    out = []
    for r in records:
        good = sum(v and c.finish_reason == "stop" for c, v in zip(r.candidates, r.verdicts,
                                                                   strict=True))
        out.append(pass_at_k(spec.n, min(good, spec.n), k))
    return np.array(out)


def _correct(
    records: Sequence[ProblemRecord],
    spec: CurveSpec,
    budget: int,
    *,
    resamples: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per rule, a (draws x problems) boolean matrix: was the selected answer right? The full
    budget is one deterministic draw."""
    units, draw = spec.n // spec.group_size, budget // spec.group_size
    reps = 1 if draw == units else resamples
    out: dict[str, np.ndarray] = {
        rule: np.zeros((reps, len(records)), dtype=bool) for rule in spec.rules
    }
    for p, record in enumerate(records):
        table = _Table.of(record, units)
        if draw == units:
            mask = np.ones((1, len(record.candidates)), dtype=bool)
        else:
            chosen = rng.random((reps, units)).argsort(axis=1)[:, :draw]
            taken = np.zeros((reps, units), dtype=bool)
            np.put_along_axis(taken, chosen, True, axis=1)
            mask = taken[:, table.group]
        for rule in spec.rules:
            out[rule][:, p] = table.selected_correct(mask, rule)
    return out


@dataclass(frozen=True)
class _Table:
    """One problem's candidates as arrays: class (-1 cannot vote), verdict, group, scores."""

    cls: np.ndarray
    verdict: np.ndarray
    group: np.ndarray
    scores: dict[str, np.ndarray]

    @classmethod
    def of(cls, record: ProblemRecord, units: int) -> _Table:
        cands = record.candidates
        groups = np.array([c.group for c in cands], dtype=int)
        if len(cands) and (groups.min() < 0 or groups.max() >= units):
            raise ConfigError(f"{record.strategy}/{record.problem_id}: candidate groups "
                              f"{sorted(set(groups.tolist()))} do not fit {units} units")
        classes = np.array(
            [k if c.finish_reason == "stop" and c.answer is not None else -1
             for c, k in zip(cands, record.classes, strict=True)], dtype=int)
        scores = {
            how: np.array([np.nan if c.step_scores is None else reduce_rewards(c.step_scores, how)
                           for c in cands], dtype=float)
            for how in ("last", "min", "avg", "prod")
        }
        return cls(classes, np.array(record.verdicts, dtype=bool), groups, scores)

    def selected_correct(self, mask: np.ndarray, rule: SelectionRule) -> np.ndarray:
        """For each replicate (row of ``mask``), is the rule's chosen candidate right?"""
        how, mode = rule_parts(rule)
        score = np.ones(len(self.cls)) if how is None else self.scores[how]
        voters = mask & (self.cls >= 0) & ~np.isnan(score)
        if not len(self.cls):
            return np.zeros(len(mask), dtype=bool)
        if mode == "max":
            best = np.where(voters, score, -np.inf).argmax(axis=1)  # ties: the first candidate
            return voters.any(axis=1) & self.verdict[best]
        # Vote: per-class sums by bincount (in candidate order, the order select() adds in, so
        # float ties are the same), then the first voter of a top class wins, which is
        # select()'s tie-break (the class whose first member comes first).
        reps, k = voters.shape
        cls = np.maximum(self.cls, 0)
        flat = np.arange(reps)[:, None] * (cls.max() + 1) + cls[None, :]
        totals = np.bincount(flat[voters], weights=np.broadcast_to(score, voters.shape)[voters],
                             minlength=reps * (cls.max() + 1))
        mine = np.where(voters, totals[flat], -np.inf)
        top = voters & (mine == mine.max(axis=1, keepdims=True))
        winner = np.where(top, np.arange(k)[None, :], k).min(axis=1)
        right = np.append(self.verdict, False)
        return voters.any(axis=1) & right[winner]
