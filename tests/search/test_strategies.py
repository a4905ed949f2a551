"""CoT and majority on the real shipped mini-policy-s (no fake engine)."""

from collections.abc import Sequence

import pytest

from ttscale.config import CoTConfig, MajorityConfig, PolicyConfig
from ttscale.data.datasets import load_dataset
from ttscale.mini.models import model_path
from ttscale.search.cot import cot
from ttscale.search.majority import majority
from ttscale.types import Completion, GenerationRequest

SAMPLING = PolicyConfig(max_tokens=96)


class RecordingEngine:
    """Delegates to the real engine and records each generate call's batch size."""

    def __init__(self, engine):
        self.engine = engine
        self.calls: list[int] = []
        self.name = engine.name
        self.num_parameters = engine.num_parameters

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.calls.append(len(requests))
        return self.engine.generate(requests)

    def count_tokens(self, text: str) -> int:
        return self.engine.count_tokens(text)


@pytest.fixture(scope="module")
def policy():
    from ttscale.engines.transformers_engine import TransformersEngine

    return TransformersEngine(model_path("mini-policy-s"))


@pytest.fixture(scope="module")
def problems():
    return load_dataset("mini-500", limit=4)


def test_cot_sends_every_problem_in_one_batched_call(policy, problems):
    spy = RecordingEngine(policy)
    results = cot(problems, policy=spy, prm=None, cfg=CoTConfig(), sampling=SAMPLING, seed=0)
    assert spy.calls == [len(problems)]
    assert [r.problem for r in results] == problems
    assert all(len(r.candidates) == 1 and r.usage.completion_tokens > 0 for r in results)


def test_cot_answer_is_the_boxed_answer_of_its_solution(policy, problems):
    results = cot(problems, policy=policy, prm=None, cfg=CoTConfig(), sampling=SAMPLING, seed=0)
    for r in results:
        text = r.candidates[0].text
        assert r.answer is None or f"\\boxed{{{r.answer}}}" in text


def test_majority_draws_n_samples_per_problem_in_one_call(policy, problems):
    spy = RecordingEngine(policy)
    cfg = MajorityConfig(n=3)
    results = majority(problems, policy=spy, prm=None, cfg=cfg, sampling=SAMPLING, seed=0)
    assert spy.calls == [len(problems)]
    assert all(len(r.candidates) == 3 for r in results)


def test_majority_samples_do_not_depend_on_the_rest_of_the_batch(policy, problems):
    cfg = MajorityConfig(n=2)
    alone = majority(problems[-1:], policy=policy, prm=None, cfg=cfg, sampling=SAMPLING, seed=3)
    batch = majority(problems, policy=policy, prm=None, cfg=cfg, sampling=SAMPLING, seed=3)
    assert alone[0].candidates == batch[-1].candidates


def test_majority_usage_counts_flops_as_two_params_per_token(policy, problems):
    cfg = MajorityConfig(n=2)
    (r,) = majority(problems[:1], policy=policy, prm=None, cfg=cfg, sampling=SAMPLING, seed=0)
    tokens = r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.flops == 2.0 * policy.num_parameters * tokens
