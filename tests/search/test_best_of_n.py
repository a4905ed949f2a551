"""Best-of-N on the real mini-policy-s and the real oracle PRM."""

import pytest

from ttscale.config import BestOfNConfig, PolicyConfig
from ttscale.errors import EngineError
from ttscale.rewards.base import StepScores
from ttscale.search import strategies
from ttscale.search.best_of_n import best_of_n

SAMPLING = PolicyConfig(max_tokens=96)


def test_bon_makes_one_generate_and_one_prm_call_for_the_whole_batch(
    policy_spy, prm_spy, mixed_problems
):
    cfg = BestOfNConfig(n=4)
    results = best_of_n(mixed_problems, policy=policy_spy, prm=prm_spy, cfg=cfg,
                        sampling=SAMPLING, seed=0)
    assert len(policy_spy.calls) == 1 and len(prm_spy.calls) == 1
    assert [r.n for r in policy_spy.calls[0]] == [4] * len(mixed_problems)
    finished = sum(c.finish_reason == "stop" for r in results for c in r.candidates)
    assert len(prm_spy.calls[0]) == finished
    for r in results:
        assert [c.group for c in r.candidates] == [0, 1, 2, 3]
        for c in r.candidates:
            assert (c.step_scores is not None) == (c.finish_reason == "stop")
            assert c.score is None or c.score == c.step_scores[-1]  # prm_last_vote reduces last


def test_bon_is_registered_and_its_samples_do_not_depend_on_the_batch(mini_policy, prm_spy,
                                                                        mixed_problems):
    bon = strategies.get("best_of_n")
    cfg = BestOfNConfig(n=2)
    alone = bon(mixed_problems[-1:], policy=mini_policy, prm=prm_spy, cfg=cfg,
                sampling=SAMPLING, seed=3)
    batch = bon(mixed_problems, policy=mini_policy, prm=prm_spy, cfg=cfg,
                sampling=SAMPLING, seed=3)
    assert alone[0].candidates == batch[-1].candidates


def test_bon_truncated_samples_are_kept_unscored_and_reported_when_none_finished(
    mini_policy, prm_spy, mixed_problems
):
    results = best_of_n(mixed_problems[:2], policy=mini_policy, prm=prm_spy,
                        cfg=BestOfNConfig(n=3), sampling=PolicyConfig(max_tokens=4), seed=0)
    for r in results:
        assert all(c.finish_reason == "length" and c.step_scores is None for c in r.candidates)
        assert r.failure == "no finished candidate: all 3 truncated at max_tokens"
    assert prm_spy.calls == []  # nothing finished, nothing to score


class ShortPRM:
    """Fault injection: the real oracle, minus the last reward of every other solution."""

    def __init__(self, prm, *, drop_results: bool = False):
        self.prm, self.drop_results = prm, drop_results
        self.name, self.num_parameters = "short", 0

    def score(self, requests):
        out = self.prm.score(requests)
        if self.drop_results:
            return out[:-1]
        return [StepScores(s.rewards[:-1]) if i % 2 else s for i, s in enumerate(out)]


def test_bon_records_solutions_whose_rewards_do_not_match_their_steps(
    mini_policy, prm_spy, mixed_problems
):
    results = best_of_n(mixed_problems[:2], policy=mini_policy, prm=ShortPRM(prm_spy),
                        cfg=BestOfNConfig(n=4), sampling=SAMPLING, seed=0)
    unscored = [c for r in results for c in r.candidates
                if c.finish_reason == "stop" and c.step_scores is None]
    assert unscored
    assert all(r.failure and "unscored" in r.failure and "rewards for" in r.failure
               for r in results if any(c in unscored for c in r.candidates))


def test_bon_prm_returning_too_few_results_is_a_clear_error(mini_policy, prm_spy,
                                                           mixed_problems):
    with pytest.raises(EngineError, match=r"returned \d+ results for \d+ solutions"):
        best_of_n(mixed_problems[:2], policy=mini_policy,
                  prm=ShortPRM(prm_spy, drop_results=True), cfg=BestOfNConfig(n=2),
                  sampling=SAMPLING, seed=0)
