"""From a strategy's results to graded records: answer classes, verdicts and the selected answer.

Per problem, the candidates' answers are grouped into equivalence classes (``Grader.cluster``,
math-verify), one representative per class is graded against the gold answer and its verdict
is shared by the class, and the strategy's selection rule picks the answer. Classes and
verdicts are stored with the candidates, so any other rule or budget is recomputed later
without the grader (``analysis.curves``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ttscale.config import PRM_STRATEGIES, RefineConfig, StrategyConfig
from ttscale.runs.store import ProblemRecord
from ttscale.search.selection import Ballot, SelectionRule, select
from ttscale.types import SearchResult


class AnswerGrader(Protocol):
    """What judging needs from ``ttscale.data.grading.Grader``."""

    def is_correct(self, predictions: Sequence[str | None], golds: Sequence[str]) -> list[bool]: ...

    def cluster(self, answers: Sequence[str]) -> list[int]: ...


def selection_rule(cfg: StrategyConfig) -> SelectionRule:
    """The rule behind a strategy's headline answer: its ``selection``, else majority."""
    # refine has no selection field: its turns are voted on (the paper reads the last turn;
    # accuracy per turn comes from search.refine.accuracy_per_turn)
    if isinstance(cfg, PRM_STRATEGIES) and not isinstance(cfg, RefineConfig):
        return cfg.selection
    return "majority"


def judge(
    label: str,
    results: Sequence[SearchResult],
    grader: AnswerGrader,
    *,
    rule: SelectionRule,
    wall_per_problem: float,
) -> list[ProblemRecord]:
    """One record per result: classes, verdicts, the selected answer and whether it is right.

    A strategy that chose its answer itself (CoT) keeps it; otherwise ``rule`` selects among
    the finished candidates. All representatives of all problems are graded in one call.
    """
    classes = [_classes(r, grader) for r in results]
    reps = [
        (i, r.candidates[cs.index(k)].answer)
        for i, (r, cs) in enumerate(zip(results, classes, strict=True))
        for k in range(max(cs, default=-1) + 1)
    ]
    golds = [results[i].problem.answer for i, _ in reps]
    verdict_of: list[list[bool]] = [[] for _ in results]
    for (i, _), ok in zip(reps, grader.is_correct([a for _, a in reps], golds), strict=True):
        verdict_of[i].append(ok)
    return [
        _record(label, r, cs, tuple(verdict_of[i][k] if k >= 0 else False for k in cs),
                rule=rule, wall=wall_per_problem)
        for i, (r, cs) in enumerate(zip(results, classes, strict=True))
    ]


def _classes(result: SearchResult, grader: AnswerGrader) -> tuple[int, ...]:
    """Each candidate's answer class; -1 for a candidate without an answer."""
    answers = [c.answer for c in result.candidates if c.answer is not None]
    found = iter(grader.cluster(answers) if answers else [])
    return tuple(next(found) if c.answer is not None else -1 for c in result.candidates)


def _record(
    label: str,
    r: SearchResult,
    classes: tuple[int, ...],
    verdicts: tuple[bool, ...],
    *,
    rule: SelectionRule,
    wall: float,
) -> ProblemRecord:
    if r.answer is not None:  # the strategy chose (CoT): its answer is its first candidate's
        chosen: int | None = next(
            (i for i, c in enumerate(r.candidates) if c.answer == r.answer), None
        )
    else:
        ballots = [
            Ballot(k if k >= 0 and c.finish_reason == "stop" else None, c.step_scores)
            for c, k in zip(r.candidates, classes, strict=True)
        ]
        chosen = select(ballots, rule)
    answer = None if chosen is None else r.candidates[chosen].answer
    return ProblemRecord(
        label,
        r.problem.id,
        r.problem.level,
        r.problem.answer,
        answer,
        chosen is not None and verdicts[chosen],
        any(verdicts),
        r.usage.prompt_tokens,
        r.usage.completion_tokens,
        r.usage.flops,
        wall,
        r.candidates,
        r.prm_usage.prompt_tokens + r.prm_usage.completion_tokens,
        r.prm_usage.flops,
        classes,
        verdicts,
        r.failure,
    )
