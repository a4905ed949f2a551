import pytest

from ttscale.analysis.optimal import (
    Outcome,
    Point,
    best_within,
    bootstrap_ci,
    chosen_correct,
    efficiency_gain,
    frontier,
    optimal_curve,
    optimal_per_bin,
    points,
)
from ttscale.errors import DataError


def _outcomes():
    # easy problems e1,e2: cheap "maj@1" already solves them; hard h1,h2 need "beam@4"
    rows = [
        ("e1", "maj@1", True, 1.0), ("e2", "maj@1", True, 1.0),
        ("h1", "maj@1", False, 1.0), ("h2", "maj@1", False, 1.0),
        ("e1", "beam@4", True, 4.0), ("e2", "beam@4", False, 4.0),
        ("h1", "beam@4", True, 4.0), ("h2", "beam@4", True, 4.0),
    ]  # fmt: skip
    return [Outcome(*r) for r in rows]


BINS = {"e1": "easy", "e2": "easy", "h1": "hard", "h2": "hard"}


def test_points_average_accuracy_and_flops_per_configuration():
    got = {p.config: p for p in points(_outcomes())}
    assert got["maj@1"].accuracy == 0.5 and got["maj@1"].flops == 1.0
    assert got["beam@4"].accuracy == 0.75 and got["beam@4"].flops == 4.0


def test_best_within_respects_the_budget():
    pts = points(_outcomes())
    assert best_within(pts, 2.0).config == "maj@1"
    assert best_within(pts, 4.0).config == "beam@4"
    assert best_within(pts, 0.5) is None


def test_frontier_drops_points_that_cost_more_without_gaining():
    pts = [Point("a", 0.5, 1, 4), Point("b", 0.4, 2, 4), Point("c", 0.7, 3, 4)]
    assert [p.config for p in frontier(pts)] == ["a", "c"]


def test_optimal_per_bin_picks_cheap_for_easy_and_search_for_hard():
    choices = {
        (c.bin, c.budget): c.choice.config for c in optimal_per_bin(_outcomes(), BINS, [4.0])
    }
    assert choices == {("easy", 4.0): "maj@1", ("hard", 4.0): "beam@4"}


def test_optimal_curve_beats_every_single_configuration_at_the_same_budget():
    curve = optimal_curve(_outcomes(), BINS, [4.0])
    assert curve[0].accuracy == 1.0 and curve[0].flops == 2.5
    assert all(p.accuracy < 1.0 for p in points(_outcomes()))


@pytest.mark.parametrize(
    ("optimal", "expected"),
    [
        ([Point("o1", 0.5, 1, 1), Point("o2", 0.9, 2, 1)], 8 / 1.5),  # 0.7 reached at 1.5 FLOPs
        ([Point("o1", 0.7, 2, 1)], 4.0),
        ([Point("o1", 0.6, 1, 1)], None),  # never reaches the majority's best
    ],
)
def test_efficiency_gain_interpolates_where_the_optimal_curve_reaches_majoritys_best(
    optimal, expected
):
    majority = [Point("m1", 0.6, 2, 1), Point("m8", 0.7, 8, 1), Point("m16", 0.7, 16, 1)]
    gain = efficiency_gain(majority, optimal)
    assert gain == pytest.approx(expected) if expected is not None else gain is None


def test_efficiency_gain_needs_both_curves():
    with pytest.raises(DataError, match="majority curve"):
        efficiency_gain([], [Point("o", 1, 1, 1)])


def test_chosen_correct_follows_each_bins_choice_per_problem():
    # easy -> maj@1 (e1, e2 right), hard -> beam@4 (h1, h2 right)
    assert chosen_correct(_outcomes(), BINS, 4.0) == [True, True, True, True]
    # at budget 1 only maj@1 is affordable: the hard problems are wrong
    assert chosen_correct(_outcomes(), BINS, 1.0) == [True, True, False, False]


def test_bootstrap_ci_brackets_the_mean_and_collapses_when_all_agree():
    low, high = bootstrap_ci([True] * 30 + [False] * 70)
    assert low < 0.3 < high and high - low < 0.25
    assert bootstrap_ci([True] * 10) == (1.0, 1.0)
    with pytest.raises(DataError):
        bootstrap_ci([])
