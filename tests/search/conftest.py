"""The real shipped policy and the real oracle PRM, wrapped in spies that record each call."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ttscale.data.datasets import load_dataset
from ttscale.mini.models import model_path
from ttscale.rewards.base import ScoreRequest, StepScores
from ttscale.rewards.mini_oracle import MiniOraclePRM
from ttscale.types import Completion, GenerationRequest, Problem


class PolicySpy:
    """Delegates to a real engine; records every generate call's requests."""

    def __init__(self, engine):
        self.engine = engine
        self.calls: list[list[GenerationRequest]] = []
        self.name = engine.name
        self.num_parameters = engine.num_parameters

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.calls.append(list(requests))
        return self.engine.generate(requests)

    def count_tokens(self, text: str) -> int:
        return self.engine.count_tokens(text)


class PRMSpy:
    """Delegates to a real PRM; records every score call's requests."""

    def __init__(self, prm):
        self.prm = prm
        self.calls: list[list[ScoreRequest]] = []
        self.name = prm.name
        self.num_parameters = prm.num_parameters

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        self.calls.append(list(requests))
        return self.prm.score(requests)


@pytest.fixture(scope="session")
def mini_policy():
    from ttscale.engines.transformers_engine import TransformersEngine

    return TransformersEngine(model_path("mini-policy-s"))


@pytest.fixture
def policy_spy(mini_policy) -> PolicySpy:
    return PolicySpy(mini_policy)


@pytest.fixture
def prm_spy() -> PRMSpy:
    return PRMSpy(MiniOraclePRM())


@pytest.fixture(scope="session")
def mixed_problems() -> list[Problem]:
    """Two problems each of levels 1-3 (the policy solves some, not all)."""
    problems = load_dataset("mini-500")
    return [problems[i] for i in (0, 1, 100, 101, 200, 201)]
