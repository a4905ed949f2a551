import pytest

from ttscale.errors import ConfigError
from ttscale.labeling.rpe import dynamic_k, hard_labels, rpe_labels, zero_after_first_zero


@pytest.mark.parametrize(
    ("mc", "pass1", "expected"),
    [
        ([0.5, 0.5, 1.0], 0.5, [1, 1, 1]),  # no loss of progress
        ([0.5, 0.3, 1.0], 0.5, [1, 0, 1]),  # 0.3/0.5 = 0.6 < 0.8
        ([0.5, 0.4, 1.0], 0.5, [1, 1, 1]),  # 0.4/0.5 = 0.8: the boundary counts as progress
        ([0.9, 0.0, 0.5, 1.0], 0.8, [1, 0, 0, 0]),  # everything after the first zero is 0
        ([0.25, 0.25], 0.0, [1, 1]),  # progress from an estimated pass@1 of 0
        ([0.0, 0.0], 0.0, [0, 0]),
    ],
)
def test_rpe_labels_follow_the_ratio_rule(mc, pass1, expected):
    assert rpe_labels(mc, pass1) == expected


def test_rpe_differs_from_hard_labels_where_progress_drops_but_stays_positive():
    mc, pass1 = [0.8, 0.1, 0.1], 0.8
    assert hard_labels(mc) == [1, 1, 1]
    assert rpe_labels(mc, pass1) == [1, 0, 1]


def test_hard_labels_zero_after_first_zero():
    assert hard_labels([0.5, 0.0, 0.7]) == [1, 0, 0]


def test_zero_after_first_zero_keeps_leading_values():
    assert zero_after_first_zero([0.2, 0.4, 0.0, 0.9]) == [0.2, 0.4, 0.0, 0.0]


@pytest.mark.parametrize(
    ("pass1", "k"), [(0.0, 128), (0.09, 128), (0.1, 64), (0.89, 64), (0.9, 32)]
)
def test_dynamic_k_follows_the_paper_schedule(pass1, k):
    assert dynamic_k(pass1) == k


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.2])
def test_rpe_rejects_epsilon_outside_unit_interval(bad):
    with pytest.raises(ConfigError, match="epsilon"):
        rpe_labels([0.5], 0.5, epsilon=bad)


def test_dynamic_k_rejects_a_malformed_schedule():
    with pytest.raises(ConfigError, match="k_schedule"):
        dynamic_k(0.5, (8, 4))
