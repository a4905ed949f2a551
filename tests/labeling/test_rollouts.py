import json
import random

import pytest

from ttscale.config import DataConfig, PolicyConfig
from ttscale.errors import DataError
from ttscale.labeling.config import LabelConfig
from ttscale.labeling.rollouts import LabelFile, balanced_choice, label, read_labels
from ttscale.labeling.rpe import hard_labels, rpe_labels

SMALL = LabelConfig(
    data=DataConfig(dataset="mini-train", limit=6),
    policy=PolicyConfig(temperature=1.0, max_tokens=120),  # hot enough for right and wrong samples
    samples_per_problem=8,
    paths_per_problem=2,
    k_schedule=(3, 3, 3),
    batch_problems=2,
)


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "labels.jsonl"
    report = label(SMALL, out_path=path, progress=False)
    return path, report


@pytest.mark.parametrize(
    ("correct", "keep", "expected_right", "expected_wrong"),
    [
        ([True, True, False, False, False], 4, 2, 2),
        ([True, False, False, False], 4, 1, 3),  # too few right: fill with wrong
        ([True, True, True, False], 2, 1, 1),
        ([True, True], 4, 2, 0),
    ],
)
def test_balanced_choice_takes_half_of_each_class_where_it_can(
    correct, keep, expected_right, expected_wrong
):
    picked = balanced_choice(correct, keep, random.Random(0))
    assert sum(correct[i] for i in picked) == expected_right
    assert sum(not correct[i] for i in picked) == expected_wrong


def test_label_gives_one_mc_and_label_per_step_with_last_mc_the_final_correctness(labeled):
    path, report = labeled
    solutions = read_labels(path)
    assert report.solutions == len(solutions) > 0
    for s in solutions:
        assert len(s.mc) == len(s.rpe) == len(s.hard) == len(s.steps)
        assert s.mc[-1] == float(s.correct)
        assert all(v * 3 == int(v * 3) for v in s.mc)  # K = 3 rollouts per step
        assert list(s.rpe) == rpe_labels(s.mc, s.pass1)
        assert list(s.hard) == hard_labels(s.mc)


def test_kept_solutions_mix_right_and_wrong_per_problem(labeled):
    by_problem: dict[str, set[bool]] = {}
    for s in read_labels(labeled[0]):
        by_problem.setdefault(s.problem_id, set()).add(s.correct)
    assert by_problem and all(v == {True, False} for v in by_problem.values())


def test_rerun_resumes_without_appending_anything(labeled):
    path, _ = labeled
    before = path.read_text()
    label(SMALL, out_path=path, progress=False)
    assert path.read_text() == before


def test_a_torn_last_line_is_ignored_and_a_torn_middle_line_is_an_error(labeled, tmp_path):
    lines = labeled[0].read_text().splitlines()
    torn = tmp_path / "torn.jsonl"
    torn.write_text("\n".join([*lines, lines[0][:20]]) + "\n")
    assert len(read_labels(torn)) == len(read_labels(labeled[0]))
    torn.write_text("\n".join([lines[0][:20], *lines]) + "\n")
    with pytest.raises(DataError, match=":1: not a labeled solution"):
        read_labels(torn)


def test_a_batch_without_its_done_marker_is_left_out_on_reading(tmp_path, labeled):
    path = tmp_path / "labels.jsonl"
    store = LabelFile(path)
    rows = [json.loads(line) for line in labeled[0].read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # solutions, no .done
    assert store.read() == []


def test_missing_labels_file_names_the_command_that_writes_it(tmp_path):
    with pytest.raises(DataError, match="ttscale label"):
        read_labels(tmp_path / "none.jsonl")
