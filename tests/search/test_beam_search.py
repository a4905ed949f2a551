"""Step-level beam search on the real mini-policy-s and the real oracle PRM."""

from collections import Counter

import pytest

from ttscale.config import BeamSearchConfig, PolicyConfig
from ttscale.search import strategies
from ttscale.search.beam_search import beam_search

SAMPLING = PolicyConfig(max_tokens=120)


def run(problems, policy, prm, **cfg):
    config = BeamSearchConfig(**{"max_steps": 10, "step_max_tokens": 40, **cfg})
    return beam_search(problems, policy=policy, prm=prm, cfg=config, sampling=SAMPLING, seed=0)


def per_problem(call):
    """{problem question: [n of each request]} of one generate call."""
    out: dict[str, list[int]] = {}
    for request in call:
        out.setdefault(request.prompt[0].content, []).append(request.n)
    return out


def test_paper_semantics_expands_n_then_m_children_of_at_most_n_over_m_beams(
    policy_spy, prm_spy, mixed_problems
):
    results = run(mixed_problems, policy_spy, prm_spy, n=8, beam_width=4)
    assert len(policy_spy.calls) == len(prm_spy.calls)  # one generate + one score per round
    first, *rest = [per_problem(call) for call in policy_spy.calls]
    assert all(ns == [8] for ns in first.values()) and len(first) == len(mixed_problems)
    for round_ in rest:
        for ns in round_.values():
            assert set(ns) == {4} and len(ns) <= 8 // 4  # no refill: at most N/M beams
    for r in results:
        assert 1 <= len(r.candidates) <= 2  # the search ends with at most N/M solutions


def test_paper_semantics_runs_fewer_beams_as_solutions_finish(policy_spy, prm_spy,
                                                               mixed_problems):
    results = run(mixed_problems[:2], policy_spy, prm_spy, n=8, beam_width=2)
    beams = [sum(len(ns) for ns in per_problem(call).values()) for call in policy_spy.calls[1:]]
    assert beams == sorted(beams, reverse=True)  # never refilled
    assert all(len(r.candidates) <= 4 for r in results)


def test_refill_semantics_keeps_n_live_beams_every_round(policy_spy, prm_spy, mixed_problems):
    run(mixed_problems, policy_spy, prm_spy, n=8, beam_width=4, semantics="refill")
    for call in policy_spy.calls:
        for ns in per_problem(call).values():
            assert sum(ns) == 8 and len(ns) <= 8 // 4


def test_candidates_are_finished_distinct_and_scored(mini_policy, prm_spy, mixed_problems):
    for semantics in ("paper", "refill"):
        for r in run(mixed_problems, mini_policy, prm_spy, n=8, semantics=semantics):
            texts = [c.text for c in r.candidates]
            assert len(set(texts)) == len(texts)
            for c in r.candidates:
                assert c.finish_reason == "stop" and "\\boxed" in c.text
                assert c.step_scores is not None and c.score == c.step_scores[-1]
                assert len(c.step_scores) == len(c.text.split("\n\n"))


def test_a_step_truncated_by_max_tokens_is_never_finished(mini_policy, prm_spy, mixed_problems):
    config = BeamSearchConfig(n=4, max_steps=3, step_max_tokens=3)
    results = beam_search(mixed_problems[:2], policy=mini_policy, prm=prm_spy, cfg=config,
                          sampling=SAMPLING, seed=0)
    for r in results:
        assert r.candidates == ()
        assert r.failure is not None and r.failure.startswith("no finished candidate after 1")
        assert "truncated at max_tokens" in r.failure


def test_the_last_round_generates_to_the_end(mini_policy, prm_spy, mixed_problems):
    (r,) = run(mixed_problems[:1], mini_policy, prm_spy, n=4, max_steps=1)
    assert r.candidates and all(c.text.count("\n\n") >= 1 for c in r.candidates)


def test_beam_search_results_do_not_depend_on_the_batch(mini_policy, prm_spy, mixed_problems):
    alone = run(mixed_problems[-1:], mini_policy, prm_spy, n=4)
    batch = run(mixed_problems, mini_policy, prm_spy, n=4)
    assert alone[0].candidates == batch[-1].candidates
    assert alone[0].usage == batch[-1].usage


def test_beam_search_is_registered_and_counts_policy_tokens(mini_policy, prm_spy,
                                                            mixed_problems):
    search = strategies.get("beam_search")
    (r,) = search(mixed_problems[:1], policy=mini_policy, prm=prm_spy,
                  cfg=BeamSearchConfig(n=4), sampling=SAMPLING, seed=0)
    tokens = r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.completion_tokens > 0
    assert r.usage.flops == pytest.approx(2.0 * mini_policy.num_parameters * tokens)
    assert Counter(c.group for c in r.candidates) == Counter({0: len(r.candidates)})
