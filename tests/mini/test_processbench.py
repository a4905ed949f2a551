"""mini-processbench: labelling, balancing, the shipped file, and a real (tiny) build."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ttscale.mini import processbench as mpb
from ttscale.mini import task
from ttscale.types import Completion

PROBLEM = task.generate(3, 0, split="test")


def _completion(steps: list[str], finish: str = "stop") -> Completion:
    return Completion(task.STEP_SEPARATOR.join(steps), (), finish)  # type: ignore[arg-type]


def _wrong_at(k: int) -> list[str]:
    steps = task.solution_steps(PROBLEM)
    steps[k] = steps[k].replace("=", "= 1") if k < len(PROBLEM.ops) else "The answer is \\boxed{0}."
    return steps


@pytest.mark.parametrize("k", range(len(PROBLEM.ops) + 1))
def test_label_is_the_first_wrong_step(k: int) -> None:
    item = mpb.label_solution(PROBLEM, _completion(_wrong_at(k)), "p")
    assert isinstance(item, mpb.LabelledSolution)
    assert item.label == k
    # a corrupted middle step leaves the boxed answer right (a process error, as in ProcessBench)
    assert item.final_answer_correct is (k < len(PROBLEM.ops))


def test_reference_solution_is_labelled_all_correct() -> None:
    item = mpb.label_solution(PROBLEM, _completion(task.solution_steps(PROBLEM)), "p")
    assert isinstance(item, mpb.LabelledSolution)
    assert (item.label, item.final_answer_correct, item.generator) == (-1, True, "p")


@pytest.mark.parametrize(
    ("steps", "finish", "reason"),
    [
        (task.solution_steps(PROBLEM), "length", "length"),  # cut off: dropped even if right
        (task.solution_steps(PROBLEM)[:-1], "stop", "incomplete"),  # no wrong step to point at
    ],
)
def test_unusable_solutions_say_why(steps: list[str], finish: str, reason: str) -> None:
    assert mpb.label_solution(PROBLEM, _completion(steps, finish), "p") == reason


def _pool() -> list[mpb.LabelledSolution]:
    """Level 1: 3 problems x (4 right, 1 wrong); level 2: 2 problems x (1 right, 3 wrong)."""
    pool = []
    for level, problems, right, wrong in ((1, 3, 4, 1), (2, 2, 1, 3)):
        for seed in range(problems):
            p = task.generate(level, seed, split="test")
            for i in range(right + wrong):
                label = -1 if i < right else 0
                pool.append(mpb.LabelledSolution(p, f"g{i}", (f"s{i}",), label, label == -1))
    return pool


def test_balance_keeps_equal_right_and_wrong_per_subset() -> None:
    kept = mpb.balance(_pool(), per_class=10, seed=0)
    counts = Counter((mpb.subset_of(s.problem), s.label == -1) for s in kept)
    assert counts == {("L1", True): 3, ("L1", False): 3, ("L2", True): 2, ("L2", False): 2}


def test_balance_spreads_a_class_over_problems() -> None:
    kept = mpb.balance(_pool(), per_class=3, seed=1)
    right_l1 = [s.problem.id for s in kept if s.problem.level == 1 and s.label == -1]
    assert len(set(right_l1)) == 3


def test_balance_is_deterministic_given_the_seed() -> None:
    pool = _pool()
    assert mpb.balance(pool, per_class=2, seed=5) == mpb.balance(
        pool[::-1][::-1], per_class=2, seed=5
    )
    orders = {tuple(id(s) for s in mpb.balance(pool, per_class=2, seed=s)) for s in range(4)}
    assert len(orders) > 1


def test_written_file_reads_back_as_the_same_items(tmp_path: Path) -> None:
    solutions = mpb.balance(_pool(), per_class=2, seed=0)
    samples = mpb.read_processbench(mpb.write_jsonl(solutions, tmp_path / "pb.jsonl"))
    assert [(s.question, s.steps, s.label, s.subset) for s in samples] == [
        (x.problem.text, x.steps, x.label, mpb.subset_of(x.problem)) for x in solutions
    ]


@pytest.fixture(scope="module")
def shipped_rows() -> list[dict]:
    return [json.loads(line) for line in mpb.DEFAULT_PATH.read_text().splitlines()]


def test_shipped_file_is_balanced_per_level(shipped_rows: list[dict]) -> None:
    counts = Counter((r["subset"], r["label"] == -1) for r in shipped_rows)
    subsets = list(dict.fromkeys(r["subset"] for r in shipped_rows))
    assert len(subsets) >= 3 and subsets == sorted(subsets)
    assert set(subsets) <= {"L1", "L2", "L3", "L4", "L5"}
    least = mpb.BuildSettings().min_per_class
    assert all(counts[(s, True)] == counts[(s, False)] >= least for s in subsets)
    assert 200 <= len(shipped_rows) <= 1000


def test_shipped_labels_are_the_exact_first_errors(shipped_rows: list[dict]) -> None:
    for row in shipped_rows:
        _, split, level, seed = row["problem_id"].rsplit("-", 3)
        problem = task.generate(int(level[1:]), int(seed), split=split)
        assert row["problem"] == problem.text
        assert task.first_error(problem, task.STEP_SEPARATOR.join(row["steps"])) == row["label"]
        assert row["final_answer_correct"] == (f"\\boxed{{{problem.answer}}}" in row["steps"][-1])


def test_shipped_file_has_both_generators_and_unique_solutions(shipped_rows: list[dict]) -> None:
    assert {r["generator"] for r in shipped_rows} == {"mini-policy-s", "mini-policy-l"}
    assert len({(r["problem"], tuple(r["steps"])) for r in shipped_rows}) == len(shipped_rows)


@pytest.mark.slow
def test_build_with_a_real_policy_is_deterministic_and_exactly_labelled() -> None:
    settings = mpb.BuildSettings(
        policies=("mini-policy-s",),
        samples=3,
        chunk=4,
        max_problems=8,
        per_class=2,
        min_per_class=1,
    )
    first = mpb.build(settings, levels=(1, 2))
    assert first == mpb.build(settings, levels=(1, 2))
    assert set(first.pools) == {"L1", "L2"}
    assert all(p.problems in (4, 8) for p in first.pools.values())
    assert first.pools["L1"].right > 0
    for s in first.solutions:
        assert task.first_error(s.problem, task.STEP_SEPARATOR.join(s.steps)) == s.label
    kept = Counter((mpb.subset_of(s.problem), s.label == -1) for s in first.solutions)
    assert all(kept[(name, True)] == kept[(name, False)] for name in first.pools)


def test_level_with_no_right_solution_stops_after_one_chunk() -> None:
    # 4 tokens cannot hold a solution: every sample is cut off, so no right one can come
    settings = mpb.BuildSettings(
        policies=("mini-policy-s",), samples=1, greedy=False, max_tokens=4, chunk=3
    )
    report = mpb.build(settings, levels=(5,))
    assert report.pools["L5"] == mpb.LevelPool(3, 0, 0, {"length": 3})
    assert report.left_out == ("L5",) and report.solutions == ()
