import itertools
import random

import pytest

from ttscale.analysis.curves import CurveSpec, curve_points, pass_at_k
from ttscale.errors import ConfigError
from ttscale.runs.store import ProblemRecord
from ttscale.search.selection import RULES, Ballot, select
from ttscale.types import Candidate


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(n, c, k) for n in (1, 3, 5, 8) for c in range(n + 1) for k in range(1, n + 1)],
)
def test_pass_at_k_equals_brute_force_enumeration_of_k_subsets(n, c, k):
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(samples, k))
    assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_pass_at_k_rejects_k_above_n():
    with pytest.raises(ConfigError, match="1 <= k <= n"):
        pass_at_k(4, 1, 5)


def random_record(rng: random.Random, pid: str, n: int, *, level: int = 1) -> ProblemRecord:
    """n candidates (group i), 3 answer classes, some unanswered/unfinished/unscored."""
    classes, cands = [], []
    right = rng.randrange(3)
    for i in range(n):
        k = rng.choice([-1, 0, 1, 2, 2])
        finished = rng.random() > 0.15
        scores = None if rng.random() < 0.1 else tuple(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0])
                                                       for _ in range(rng.randint(1, 3)))
        cands.append(Candidate("s", None if k < 0 else str(k), "stop" if finished else "length",
                               None, scores, group=i))
        classes.append(k)
    verdicts = tuple(k == right for k in classes)
    return ProblemRecord("bon", pid, level, str(right), None, False, any(verdicts), 1, 1, 10.0,
                         0.0, tuple(cands), 0, 2.0, tuple(classes), verdicts)


def selected_right(record: ProblemRecord, keep: set[int], rule) -> bool:
    """What select() picks among the candidates of the kept groups."""
    idx = [i for i, c in enumerate(record.candidates) if c.group in keep]
    ballots = [
        Ballot(record.classes[i] if record.classes[i] >= 0
               and record.candidates[i].finish_reason == "stop" else None,
               record.candidates[i].step_scores)
        for i in idx
    ]
    chosen = select(ballots, rule)
    return chosen is not None and record.verdicts[idx[chosen]]


def spec(n: int, budgets: tuple[int, ...]) -> CurveSpec:
    return CurveSpec("bon", "bon", n, budgets, 1, RULES, "prm_last_vote", True)


def test_full_budget_point_is_the_selection_of_every_rule_over_all_candidates():
    rng = random.Random(0)
    records = [random_record(rng, f"p{i}", 6) for i in range(40)]
    points = curve_points(records, spec(6, (6,)), resamples=50, seed=0)
    for p in (p for p in points if p.level == "all"):
        expected = sum(selected_right(r, set(range(6)), p.rule) for r in records) / len(records)
        assert p.accuracy == pytest.approx(expected), p.rule


def test_subsampled_point_matches_exhaustive_enumeration_of_subsets():
    rng = random.Random(1)
    records = [random_record(rng, f"p{i}", 4) for i in range(30)]
    points = curve_points(records, spec(4, (2,)), resamples=3000, seed=0)
    subsets = [set(s) for s in itertools.combinations(range(4), 2)]
    for p in (p for p in points if p.level == "all"):
        exact = sum(selected_right(r, s, p.rule) for r in records for s in subsets) / (
            len(records) * len(subsets))
        assert p.accuracy == pytest.approx(exact, abs=0.02), p.rule


def test_points_carry_a_ci_around_the_accuracy_flops_and_pass_at_k():
    rng = random.Random(2)
    records = [random_record(rng, f"p{i}", 4, level=1 + i % 2) for i in range(40)]
    points = curve_points(records, spec(4, (1, 4)), resamples=200, seed=0)
    for p in points:
        assert p.ci_low <= p.accuracy <= p.ci_high
        assert p.flops == pytest.approx(12.0 * p.n / 4)  # (10 policy + 2 PRM) x budget / N
    good = [
        sum(v and c.finish_reason == "stop"
            for c, v in zip(r.candidates, r.verdicts, strict=True))
        for r in records
    ]
    at1 = next(p for p in points if p.n == 1 and p.level == "all")
    assert at1.pass_at_k == pytest.approx(sum(pass_at_k(4, g, 1) for g in good) / 40)
    assert {p.level for p in points} == {"all", "1", "2"}
    assert {p.rule for p in points if p.level != "all"} == {"prm_last_vote"}


def test_same_seed_gives_the_same_curve():
    rng = random.Random(3)
    records = [random_record(rng, f"p{i}", 8) for i in range(10)]
    first = curve_points(records, spec(8, (2, 8)), resamples=20, seed=5)
    assert curve_points(records, spec(8, (2, 8)), resamples=20, seed=5) == first


@pytest.mark.parametrize(("budgets", "group_size"), [((16,), 1), ((6,), 4)])
def test_budgets_beyond_what_the_run_generated_are_a_config_error(budgets, group_size):
    bad = CurveSpec("dvts", "dvts", 8, budgets, group_size, RULES, "prm_last_vote", False)
    with pytest.raises(ConfigError, match="only subsample what the run generated"):
        curve_points([], bad, resamples=10, seed=0)
