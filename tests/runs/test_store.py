from ttscale.runs.store import ProblemRecord, RunStore
from ttscale.types import Candidate


def record(pid: str, correct: bool = True) -> ProblemRecord:
    return ProblemRecord(
        "cot",
        pid,
        2,
        "5",
        "5" if correct else "4",
        correct,
        correct,
        10,
        20,
        3.0,
        0.5,
        (Candidate("The answer is \\boxed{5}.", "5", "stop", None),),
    )


def test_written_records_read_back_equal(tmp_path):
    store = RunStore(tmp_path / "r.sqlite")
    store.write([record("a"), record("b", correct=False)])
    assert store.records("cot") == [record("a"), record("b", correct=False)]


def test_done_ids_are_per_strategy(tmp_path):
    store = RunStore(tmp_path / "r.sqlite")
    store.write([record("a")])
    assert store.done_ids("cot") == {"a"}
    assert store.done_ids("majority@8") == set()


def test_writing_a_problem_twice_keeps_one_row(tmp_path):
    store = RunStore(tmp_path / "r.sqlite")
    store.write([record("a")])
    store.write([record("a", correct=False)])
    assert store.records("cot") == [record("a")]


def test_records_survive_reopening(tmp_path):
    RunStore(tmp_path / "r.sqlite").write([record("a")])
    assert RunStore(tmp_path / "r.sqlite").done_ids("cot") == {"a"}


def searched(pid: str) -> ProblemRecord:
    cands = (
        Candidate("a\n\nThe answer is \\boxed{5}.", "5", "stop", 0.5, (1.0, 0.5), group=0),
        Candidate("b", None, "length", None, None, group=1),
    )
    return ProblemRecord("beam_search@4", pid, 3, "5", "5", True, True, 10, 20, 3.0, 0.5, cands,
                         prm_tokens=7, prm_flops=1.5, classes=(0, -1), verdicts=(True, False),
                         failure="prm: 1 of 2 solutions unscored (x)")


def test_search_records_keep_scores_classes_verdicts_prm_usage_and_failure(tmp_path):
    store = RunStore(tmp_path / "r.sqlite")
    store.write([searched("a"), record("b")])
    assert store.records("beam_search@4") == [searched("a")]
    assert store.strategies() == ["beam_search@4", "cot"]


def test_each_problem_is_committed_on_its_own(tmp_path):
    import sqlite3

    store = RunStore(tmp_path / "r.sqlite")
    store.write([record("a"), record("b")])
    other = sqlite3.connect(tmp_path / "r.sqlite")  # another reader sees both, committed
    assert other.execute("SELECT COUNT(*) FROM results").fetchone() == (2,)


def test_a_store_of_another_layout_is_refused_with_a_clear_error(tmp_path):
    import sqlite3

    import pytest

    from ttscale.errors import DataError

    db = sqlite3.connect(tmp_path / "old.sqlite")
    db.execute("CREATE TABLE results (strategy TEXT, problem_id TEXT)")
    db.commit()
    with pytest.raises(DataError, match="another ttscale version"):
        RunStore(tmp_path / "old.sqlite")
