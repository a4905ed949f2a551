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
