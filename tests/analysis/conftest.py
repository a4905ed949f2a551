"""A real, exact PRM for the ProcessBench tests: the miniature task's step checker.

It finds the problem by its text among the problems mini-processbench is drawn from and rewards
each step 1.0 if :func:`ttscale.mini.task.step_is_correct` holds, else 0.0. It is registered in
the PRM registry as ``test-exact-checker`` so the CLI can load it by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import pytest

from ttscale.mini import task
from ttscale.mini.processbench import BuildSettings, source_problems
from ttscale.rewards import prms
from ttscale.rewards.base import ScoreRequest, StepScores
from ttscale.types import Usage

EXACT_PRM = "test-exact-checker"


@lru_cache(maxsize=1)
def problems_by_text() -> dict[str, task.MiniProblem]:
    problems = source_problems(BuildSettings().max_problems)
    return {p.text: p for p in problems}


class ExactCheckerPRM:
    """Scores mini steps with the exact checker; counts every step it really scores."""

    def __init__(self, cfg: object = None) -> None:  # registry factories receive the prm config
        self.steps_scored = 0

    @property
    def name(self) -> str:
        return EXACT_PRM

    @property
    def num_parameters(self) -> int:
        return 0

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        return [self._one(r) for r in requests]

    def _one(self, request: ScoreRequest) -> StepScores:
        problem = problems_by_text().get(request.question)
        if problem is None:
            return StepScores((), error=f"not a mini test problem: {request.question[:40]!r}")
        steps, rewards = list(request.steps), []
        for k in range(len(steps)):
            rewards.append(1.0 if task.step_is_correct(problem, steps, k) else 0.0)
            if request.stop_below is not None and rewards[-1] < request.stop_below:
                break
        self.steps_scored += len(rewards)
        scored = len(rewards)
        padded = tuple(rewards) + (0.0,) * (len(steps) - scored)
        return StepScores(padded, Usage(prompt_tokens=scored), scored=scored)


if EXACT_PRM not in prms:
    prms.register(EXACT_PRM, ExactCheckerPRM)


@pytest.fixture
def exact_prm() -> ExactCheckerPRM:
    return ExactCheckerPRM()
