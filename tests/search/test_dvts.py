"""DVTS on the real mini-policy-s and the real oracle PRM."""

from ttscale.config import DVTSConfig, PolicyConfig
from ttscale.search import strategies

SAMPLING = PolicyConfig(max_tokens=120)


def test_dvts_grows_n_over_m_subtrees_of_width_m_in_lockstep(policy_spy, prm_spy,
                                                             mixed_problems):
    dvts = strategies.get("dvts")
    cfg = DVTSConfig(n=12, beam_width=3, max_steps=10, step_max_tokens=40)
    results = dvts(mixed_problems, policy=policy_spy, prm=prm_spy, cfg=cfg, sampling=SAMPLING,
                   seed=0)
    assert len(policy_spy.calls) == len(prm_spy.calls)
    first, *rest = policy_spy.calls
    assert [r.n for r in first] == [3] * (4 * len(mixed_problems))  # 4 subtrees per problem
    for call in rest:
        per_problem: dict[str, int] = {}
        for request in call:
            assert request.n == 3  # one kept beam per subtree, M children
            key = request.prompt[0].content
            per_problem[key] = per_problem.get(key, 0) + 1
        assert max(per_problem.values()) <= 4
    for r in results:
        groups = [c.group for c in r.candidates]
        assert len(groups) == len(set(groups)) <= 4  # at most one solution per subtree
        assert set(groups) <= {0, 1, 2, 3}
        assert all(c.finish_reason == "stop" and c.step_scores for c in r.candidates)


def test_dvts_subtrees_differ(mini_policy, prm_spy, mixed_problems):
    dvts = strategies.get("dvts")
    cfg = DVTSConfig(n=8, beam_width=2, max_steps=10, step_max_tokens=40)
    hot = PolicyConfig(max_tokens=120, temperature=1.0)  # level 3: where samples can differ
    results = dvts(mixed_problems[4:6], policy=mini_policy, prm=prm_spy, cfg=cfg,
                   sampling=hot, seed=0)
    streams = {c.text for r in results for c in r.candidates}
    assert len(streams) > len(results)  # independent subtrees, not copies of one
