import pytest

from ttscale.errors import ConfigError
from ttscale.search.selection import RULES, Ballot, reduce_rewards, rule_parts, select


@pytest.mark.parametrize(
    ("how", "rewards", "expected"),
    [
        ("last", (0.9, 0.2, 0.7), 0.7),
        ("min", (0.9, 0.2, 0.7), 0.2),
        ("avg", (0.9, 0.3, 0.6), 0.6),
        ("prod", (0.5, 0.5, 0.8), 0.2),
        ("min", (), 0.0),  # no step, no credit
    ],
)
def test_reductions(how, rewards, expected):
    assert reduce_rewards(rewards, how) == pytest.approx(expected)


def test_unknown_reduction_and_rule_are_config_errors():
    with pytest.raises(ConfigError, match="allowed: last, min, avg, prod"):
        reduce_rewards((1.0,), "max")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="allowed: majority"):
        rule_parts("prm_max")  # type: ignore[arg-type]


def test_there_are_the_papers_seven_rules_plus_prod():
    assert len(RULES) == 9 and "majority" in RULES
    assert {rule_parts(r) for r in RULES if r != "majority"} == {
        (how, mode) for how in ("last", "min", "avg", "prod") for mode in ("max", "vote")
    }


# Five candidates, answers grouped into classes 0 and 1 (class 1 is the majority), step rewards
# chosen so that each reduction and each of max/vote disagree somewhere.
TABLE = [
    Ballot(0, (0.9, 0.9, 0.95)),  # 0: class 0, strong everywhere
    Ballot(1, (0.2, 0.9, 0.99)),  # 1: class 1, weak start, best last
    Ballot(1, (0.6, 0.6, 0.6)),  # 2
    Ballot(1, (0.5, 0.6, 0.5)),  # 3
    Ballot(None, (1.0, 1.0, 1.0)),  # 4: no answer (or unfinished): never chosen
]


@pytest.mark.parametrize(
    ("rule", "chosen"),
    [
        ("majority", 1),  # class 1 has three votes
        ("prm_last_max", 1),  # 0.99
        ("prm_min_max", 0),  # 0.9
        ("prm_avg_max", 0),  # 0.917
        ("prm_prod_max", 0),  # 0.7695
        ("prm_last_vote", 1),  # 2.09 vs 0.95
        ("prm_min_vote", 1),  # 1.3 vs 0.9
        ("prm_avg_vote", 1),  # 1.83 vs 0.917
        ("prm_prod_vote", 0),  # 0.7695 vs 0.1782 + 0.216 + 0.15
    ],
)
def test_each_rule_picks_its_answer(rule, chosen):
    assert select(TABLE, rule) == chosen


@pytest.mark.parametrize(
    ("ballots", "rule", "chosen"),
    [
        ([], "majority", None),
        ([Ballot(None, (1.0,))], "prm_last_max", None),
        # an unscored candidate votes in majority but not in PRM rules
        ([Ballot(0, None), Ballot(1, (0.1,))], "majority", 0),
        ([Ballot(0, None), Ballot(1, (0.1,))], "prm_last_max", 1),
        # ties go to the first candidate / the class seen first
        ([Ballot(1, (0.5,)), Ballot(0, (0.5,))], "prm_last_max", 0),
        ([Ballot(1, (0.5,)), Ballot(0, (0.5,))], "prm_last_vote", 0),
        ([Ballot(1), Ballot(0), Ballot(0), Ballot(1)], "majority", 0),
        # the chosen index is the first member of the winning class
        ([Ballot(0, (0.1,)), Ballot(1, (0.3,)), Ballot(1, (0.4,))], "prm_last_vote", 1),
    ],
)
def test_selection_edge_cases(ballots, rule, chosen):
    assert select(ballots, rule) == chosen
