"""Step-score reductions (reference/tts-frameworks.md §2.5): last, min, avg, prod."""

from __future__ import annotations

import pytest

from ttscale.errors import ConfigError, DataError
from ttscale.rewards.aggregation import AGGREGATIONS, aggregate

REWARDS = [0.9, 0.5, 0.8]


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("last", 0.8),
        ("min", 0.5),
        ("avg", (0.9 + 0.5 + 0.8) / 3),
        ("prod", 0.9 * 0.5 * 0.8),
    ],
)
def test_each_reduction_of_three_step_rewards(how, expected):
    assert aggregate(REWARDS, how) == pytest.approx(expected)


@pytest.mark.parametrize("how", AGGREGATIONS)
def test_a_single_step_reduces_to_its_reward(how):
    assert aggregate([0.37], how) == pytest.approx(0.37)


def test_the_four_reductions_are_offered_by_name():
    assert set(AGGREGATIONS) == {"last", "min", "avg", "prod"}


def test_unknown_reduction_names_the_value_and_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"'mean' is unknown; allowed: last, min, avg, prod"):
        aggregate(REWARDS, "mean")


@pytest.mark.parametrize("how", AGGREGATIONS)
def test_empty_reward_list_is_refused(how):
    with pytest.raises(DataError, match="empty list of step rewards"):
        aggregate([], how)


def test_a_tuple_of_rewards_works_like_a_list():
    assert aggregate(tuple(REWARDS), "min") == 0.5
