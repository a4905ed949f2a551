"""Dataset loading: the shared sets, mini-500, generic JSONL files and the error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from ttscale.data import load_dataset
from ttscale.data.datasets import DATA_DIR_ENV, datasets, find_data_dir
from ttscale.errors import ConfigError, DataError

# (name, count, first id, first answer, first level)
SHARED = [
    ("math500", 500, "test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)", 2),
    ("aime24", 30, "aime24-60", "204", None),
    ("amc23", 40, "amc23-0", "27", None),
    ("gsm8k", 1319, "gsm8k-0", "18", None),
    ("minerva_math", 272, "minerva_math-0", "1.6", None),
    ("olympiadbench", 675, "olympiadbench-1606", "2", None),
]


@pytest.mark.parametrize(("name", "count", "first_id", "first_answer", "level"), SHARED)
def test_shared_set_loads_with_its_size_and_first_answer(
    shared_data_dir: Path,
    name: str,
    count: int,
    first_id: str,
    first_answer: str,
    level: int | None,
) -> None:
    problems = load_dataset(name, data_dir=shared_data_dir)
    assert len(problems) == count
    assert len({p.id for p in problems}) == count
    assert all(p.dataset == name and p.question.strip() and p.answer for p in problems)
    first = problems[0]
    assert (first.id, first.answer, first.level) == (first_id, first_answer, level)


# (name, index, expected answer): the per-set answer rules on chosen rows
ANSWER_RULES = [
    ("gsm8k", 2, "70000"),  # text after ####, commas removed
    ("amc23", 15, "-1"),  # float -1.0 rendered as an integer
    ("aime24", 7, "025"),  # zero padding kept; grading handles it
    ("olympiadbench", 1, "\\frac{1}{2 n+2}"),  # final_answer[0] without the $
    ("minerva_math", 1, "4.5e33"),  # last \boxed{...} of the solution
]


@pytest.mark.parametrize(("name", "index", "expected"), ANSWER_RULES)
def test_shared_set_answer_rule(
    shared_data_dir: Path, name: str, index: int, expected: str
) -> None:
    assert load_dataset(name, data_dir=shared_data_dir)[index].answer == expected


def test_math500_keeps_levels_one_to_five(shared_data_dir: Path) -> None:
    levels = Counter(p.level for p in load_dataset("math500", data_dir=shared_data_dir))
    assert levels == {1: 43, 2: 90, 3: 105, 4: 128, 5: 134}


def test_data_dir_env_var_is_used(monkeypatch: pytest.MonkeyPatch, shared_data_dir: Path) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(shared_data_dir))
    assert find_data_dir() == shared_data_dir
    assert len(load_dataset("aime24")) == 30


def test_shared_data_is_found_above_the_current_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo" / "sub").mkdir(parents=True)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path / "repo" / "sub")
    assert find_data_dir() == tmp_path / "shared" / "data"


def test_missing_data_dir_names_dataset_env_var_and_option(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"'gsm8k'.*{DATA_DIR_ENV}.*data_dir"):
        load_dataset("gsm8k", data_dir=tmp_path)


def test_mini_500_has_100_problems_per_level() -> None:
    problems = load_dataset("mini-500")
    assert len(problems) == 500
    assert Counter(p.level for p in problems) == {lv: 100 for lv in range(1, 6)}
    assert len({p.id for p in problems}) == 500
    assert all(p.dataset == "mini-500" and p.answer.lstrip("-").isdigit() for p in problems)


def test_limit_keeps_the_first_n() -> None:
    assert load_dataset("mini-500", limit=7) == load_dataset("mini-500")[:7]


def test_negative_limit_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="limit"):
        load_dataset("mini-500", limit=-1)


def test_registry_lists_every_dataset() -> None:
    expected = {
        "mini-500",
        "mini-train",
        "math500",
        "aime24",
        "amc23",
        "gsm8k",
        "minerva_math",
        "olympiadbench",
    }
    assert set(datasets.names()) == expected


# ---------------------------------------------------------------------------------------------
# generic JSONL files


def _write(path: Path, rows: Sequence[object], raw_lines: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(r) for r in rows] + list(raw_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# (rows, expected (id, question, answer, level) of the first problem)
GENERIC = [
    ([{"question": "1+1?", "answer": "2"}], ("tiny-0", "1+1?", "2", None)),
    ([{"problem": "2+2?", "final_answer": 4.0, "id": 9}], ("tiny-9", "2+2?", "4", None)),
    ([{"prompt": "p", "gold": "g", "unique_id": "u/1", "level": "Level 3"}], ("u/1", "p", "g", 3)),
    ([{"input": "i", "target": ["t"]}], ("tiny-0", "i", "t", None)),
    ([{"question": "q", "expected_answer": 0.5, "level": 2}], ("tiny-0", "q", "0.5", 2)),
]


@pytest.mark.parametrize(("rows", "expected"), GENERIC)
def test_generic_jsonl_detects_columns(tmp_path: Path, rows: list[object], expected: tuple) -> None:
    problems = load_dataset(str(_write(tmp_path / "tiny.jsonl", rows)))
    first = problems[0]
    assert (first.id, first.question, first.answer, first.level) == expected
    assert first.dataset == "tiny"


def test_generic_jsonl_field_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path / "qa.jsonl", [{"q": "What?", "a": "7", "answer": "wrong"}])
    problem = load_dataset(str(path), question_field="q", answer_field="a")[0]
    assert (problem.question, problem.answer) == ("What?", "7")


def test_generic_jsonl_skips_empty_lines_and_limits(tmp_path: Path) -> None:
    rows = [{"question": f"q{i}", "answer": str(i)} for i in range(5)]
    path = _write(tmp_path / "five.jsonl", rows, raw_lines=("", "   "))
    assert len(load_dataset(str(path))) == 5
    assert [p.answer for p in load_dataset(str(path), limit=2)] == ["0", "1"]


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", [{"question": "q", "answer": "1"}], ('{"question": ',))
    with pytest.raises(DataError, match=r"bad\.jsonl:2: malformed JSON") as info:
        load_dataset(str(path))
    assert "\n" not in str(info.value)


def test_non_object_line_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "list.jsonl", [{"question": "q", "answer": "1"}, [1, 2]])
    with pytest.raises(DataError, match=r"list\.jsonl:2: expected a JSON object"):
        load_dataset(str(path))


def test_missing_answer_column_lists_columns_found_and_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path / "noans.jsonl", [{"question": "q", "solution": "s"}])
    with pytest.raises(DataError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert "noans.jsonl:1" in message
    assert "columns found: question, solution" in message
    assert "answer, final_answer, gold, target, expected_answer" in message


def test_duplicate_ids_are_a_data_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "dup.jsonl", [{"id": "a", "question": "q", "answer": "1"}] * 2)
    with pytest.raises(DataError, match=r"dup\.jsonl:2: duplicate id 'a'"):
        load_dataset(str(path))


def test_missing_jsonl_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "nope.jsonl"))


# ---------------------------------------------------------------------------------------------
# names that are not datasets


def test_unknown_name_suggests_a_close_match() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'math500'") as info:
        load_dataset("math50")
    message = str(info.value)
    assert "aime24" in message and ".jsonl" in message and "hf:" in message


def test_hf_dataset_without_the_library_says_how_to_install() -> None:
    if _module_available("datasets"):
        pytest.skip("the HF datasets library is installed here")
    with pytest.raises(DataError, match="pip install datasets"):
        load_dataset("hf:openai/gsm8k:test")


def _module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_importing_ttscale_data_does_not_import_math_verify() -> None:
    code = "import sys, ttscale.data; sys.exit('math_verify' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
