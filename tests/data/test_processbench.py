"""ProcessBench loading: the shared subsets, the registry names, limits, malformed files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ttscale.data import find_data_dir
from ttscale.data.processbench import (
    ProcessBenchSample,
    load_processbench,
    processbench_sets,
    read_processbench,
)
from ttscale.errors import ConfigError, DataError

# (subset, samples, label -1, total steps): SOURCES.md and reference/genprm.md §4
SHARED_SUBSETS = [
    ("gsm8k", 400, 193, 2082),
    ("math", 1000, 406, 6505),
    ("olympiadbench", 1000, 339, 8819),
]


@pytest.fixture(scope="module")
def shared_root() -> Path:
    root = find_data_dir()
    if root is None or not (root / "processbench" / "gsm8k.jsonl").is_file():
        pytest.skip("shared/data/processbench is not available (set TTSCALE_DATA_DIR)")
    return root


@pytest.mark.parametrize(("subset", "count", "correct", "steps"), SHARED_SUBSETS)
def test_shared_subset_has_the_published_counts(
    shared_root: Path, subset: str, count: int, correct: int, steps: int
) -> None:
    samples = load_processbench(f"processbench:{subset}", data_dir=shared_root)
    assert len(samples) == count and len({s.id for s in samples}) == count
    assert sum(s.label == -1 for s in samples) == correct
    assert sum(len(s.steps) for s in samples) == steps
    assert {s.subset for s in samples} == {subset}


def test_processbench_loads_every_present_subset_in_paper_order(shared_root: Path) -> None:
    samples = load_processbench("processbench", data_dir=shared_root)
    assert list(Counter(s.subset for s in samples)) == ["gsm8k", "math", "olympiadbench"]
    first = samples[0]
    assert (first.id, first.label, first.steps[0][:25]) == (
        "gsm8k-0",
        1,
        "To find out how many more",
    )


def test_limit_keeps_the_first_n_of_each_subset(shared_root: Path) -> None:
    samples = load_processbench("processbench", data_dir=shared_root, limit=3)
    assert [s.id for s in samples] == [
        *(f"gsm8k-{i}" for i in range(3)),
        *(f"math-{i}" for i in range(3)),
        *(f"olympiadbench-{i}" for i in range(3)),
    ]


def test_missing_omnimath_subset_names_what_is_there(shared_root: Path) -> None:
    with pytest.raises(DataError, match=r"omnimath\.jsonl does not exist.*gsm8k, math"):
        load_processbench("processbench:omnimath", data_dir=shared_root)


def test_registry_names_every_set() -> None:
    assert set(processbench_sets.names()) == {
        "processbench",
        "processbench:gsm8k",
        "processbench:math",
        "processbench:olympiadbench",
        "processbench:omnimath",
        "mini-processbench",
    }


def test_unknown_set_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"Did you mean 'mini-processbench'.*jsonl path"):
        load_processbench("mini-procesbench")


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = {"id": "a-0", "problem": "1+1?", "steps": ["1+1=2", "\\boxed{2}"], "label": -1}


def test_a_local_file_loads_with_its_stem_as_subset(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.jsonl", [GOOD, {**GOOD, "id": "a-1", "label": 1}])
    assert load_processbench(str(path)) == [
        ProcessBenchSample("a-0", "mine", "1+1?", ("1+1=2", "\\boxed{2}"), -1),
        ProcessBenchSample("a-1", "mine", "1+1?", ("1+1=2", "\\boxed{2}"), 1),
    ]


def test_a_subset_field_overrides_the_file_stem(tmp_path: Path) -> None:
    path = _write(tmp_path / "mine.jsonl", [{**GOOD, "subset": "L3"}])
    assert read_processbench(path)[0].subset == "L3"


# (what is wrong, the row, expected message part)
MALFORMED_ROWS = [
    ("missing label", {k: v for k, v in GOOD.items() if k != "label"}, "missing field.*'label'"),
    ("empty steps", {**GOOD, "steps": []}, "steps must be a non-empty list"),
    ("steps not strings", {**GOOD, "steps": ["a", 2]}, "steps must be a non-empty list"),
    ("label past the steps", {**GOOD, "label": 2}, r"label must be -1 or a step index 0\.\.1"),
    ("label below -1", {**GOOD, "label": -2}, "label must be -1"),
    ("label a bool", {**GOOD, "label": True}, "label must be -1"),
    ("id a number", {**GOOD, "id": 7}, "id must be a non-empty string"),
    ("empty problem", {**GOOD, "problem": " "}, "problem must be a non-empty string"),
    ("flag not bool", {**GOOD, "final_answer_correct": "yes"}, "final_answer_correct must be"),
    ("not an object", [1, 2], "expected a JSON object"),
]


@pytest.mark.parametrize(
    ("what", "row", "match"), MALFORMED_ROWS, ids=[r[0] for r in MALFORMED_ROWS]
)
def test_malformed_row_is_a_data_error_naming_file_and_line(
    tmp_path: Path, what: str, row: object, match: str
) -> None:
    path = _write(tmp_path / "bad.jsonl", [GOOD, row])
    with pytest.raises(DataError, match=rf"bad\.jsonl:2: .*{match}"):
        read_processbench(path)


def test_malformed_json_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: malformed JSON"):
        read_processbench(path)


def test_duplicate_id_is_a_data_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "dup.jsonl", [GOOD, GOOD])
    with pytest.raises(DataError, match=r"dup\.jsonl:2: duplicate id 'a-0' \(first at .*:1\)"):
        read_processbench(path)


def test_empty_file_and_missing_file_are_data_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="holds no samples"):
        read_processbench(tmp_path / "empty.jsonl")
    with pytest.raises(DataError, match="does not exist"):
        load_processbench(str(tmp_path / "nope.jsonl"))


def test_negative_limit_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="limit must be >= 0"):
        load_processbench("mini-processbench", limit=-1)
