"""An exact process reward model for the miniature task: an oracle verifier.

Every mini step is one arithmetic fact, so ``ttscale.mini.task.step_is_correct`` decides it
exactly. The oracle reads the problem back from the question text (``parse_problem``) and gives
step ``k`` reward 1.0 when steps 0..k are all right, else 0.0: the reward of the *prefix*, as
Monte-Carlo-labelled PRMs learn it (Math-Shepherd, RPE), so PRM-Last and PRM-Min agree on a
solution that went wrong early. Upper-bound analyses use such oracle verifiers.

With ``flip_rate`` > 0 each reward is flipped with that probability, decided by a hash of
(seed, question, steps so far), so it emulates an imperfect verifier while staying a function
of the content: the same prefix gets the same reward in any batch, order or run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from ttscale.config import PRMConfig
from ttscale.errors import ConfigError, DataError
from ttscale.mini.task import MiniProblem, parse_problem, step_is_correct
from ttscale.rewards.base import ScoreRequest, StepScores


@lru_cache(maxsize=4096)
def _problem(question: str) -> MiniProblem:
    return parse_problem(question)


class MiniOraclePRM:
    """Exact step rewards for mini problems (no model: zero parameters, zero FLOPs).

    A request whose question is not a mini problem gets ``StepScores(error=...)``, a
    per-sample failure, rather than an exception.
    """

    def __init__(self, *, flip_rate: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= flip_rate <= 1.0:
            raise ConfigError(f"flip_rate={flip_rate!r} is invalid; it must be in [0, 1]")
        self.flip_rate = flip_rate
        self.seed = seed

    @property
    def name(self) -> str:
        return "mini-oracle" if self.flip_rate == 0 else f"mini-oracle(flip={self.flip_rate})"

    @property
    def num_parameters(self) -> int:
        return 0

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        """One reward per step of every request, in request order."""
        return [self._score_one(request) for request in requests]

    def _score_one(self, request: ScoreRequest) -> StepScores:
        try:
            problem = _problem(request.question)
        except DataError as e:
            return StepScores((), error=str(e))
        steps = [step.strip() for step in request.steps]
        rewards: list[float] = []
        prefix_ok = True
        for k in range(len(steps)):
            prefix_ok = prefix_ok and step_is_correct(problem, steps, k)
            reward = 1.0 if prefix_ok else 0.0
            if self.flip_rate and self._flipped(request.question, steps[: k + 1]):
                reward = 1.0 - reward
            rewards.append(reward)
            if request.stop_below is not None and reward < request.stop_below:
                padded = rewards + [0.0] * (len(steps) - len(rewards))
                return StepScores(tuple(padded), scored=len(rewards))
        return StepScores(tuple(rewards))

    def _flipped(self, question: str, prefix: list[str]) -> bool:
        key = "\x1f".join([str(self.seed), question, *prefix]).encode()
        draw = int.from_bytes(hashlib.sha256(key).digest()[:8], "little") / 2**64
        return draw < self.flip_rate


def load(cfg: PRMConfig) -> MiniOraclePRM:
    """The registry's factory: a PRM from the run's ``prm`` section."""
    return MiniOraclePRM(flip_rate=cfg.flip_rate)
