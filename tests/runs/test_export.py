import json

import pytest

from ttscale.errors import ConfigError
from ttscale.runs.export import export_run
from ttscale.runs.store import ProblemRecord, RunStore
from ttscale.types import Candidate

RECORD = ProblemRecord(
    "best_of_n@2", "p1", 2, "5", "5", True, True, 10, 20, 3.0, 0.5,
    (Candidate("x \\boxed{5}", "5", "stop", 0.9, (1.0, 0.9), group=0),
     Candidate("y", None, "length", None, None, group=1)),
    4, 1.0, (0, -1), (True, False), None,
)


@pytest.fixture
def run_dir(tmp_path):
    store = RunStore(tmp_path / "results.sqlite")
    store.write([RECORD])
    store.close()
    return tmp_path


def test_jsonl_export_has_one_row_per_problem_with_candidates_nested(run_dir):
    path = export_run(run_dir, fmt="jsonl")
    (row,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert row["strategy"] == "best_of_n@2" and row["prm_flops"] == 1.0
    assert row["candidates"][0] == {
        "text": "x \\boxed{5}", "answer": "5", "finish_reason": "stop", "score": 0.9,
        "step_scores": [1.0, 0.9], "group": 0, "answer_class": 0, "correct": True,
    }
    assert row["candidates"][1]["answer_class"] == -1


def test_parquet_export_reads_back_the_same_rows(run_dir):
    import pyarrow.parquet as pq

    jsonl = [json.loads(line) for line in export_run(run_dir, fmt="jsonl").read_text().splitlines()]
    table = pq.read_table(export_run(run_dir, fmt="parquet"))
    assert table.to_pylist() == jsonl


@pytest.mark.parametrize(("fmt", "message"), [("csv", "allowed: jsonl, parquet")])
def test_unknown_format_is_a_config_error(run_dir, fmt, message):
    with pytest.raises(ConfigError, match=message):
        export_run(run_dir, fmt=fmt)


def test_a_folder_without_a_store_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not a run folder"):
        export_run(tmp_path, fmt="jsonl")
