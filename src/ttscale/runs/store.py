"""The run store: one SQLite file of per-problem results, each committed on its own.

WAL mode and one transaction per problem mean a crash (even ``kill -9``) loses no problem that
was written, and a primary key on (strategy, problem) means a resumed run cannot duplicate one.
Every candidate is stored with its answer class and verdict, so curves, every selection rule
and pass@k are recomputed from the store without a grader.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ttscale.errors import DataError
from ttscale.types import Candidate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    strategy TEXT NOT NULL,
    problem_id TEXT NOT NULL,
    level INTEGER,
    gold TEXT NOT NULL,
    answer TEXT,
    correct INTEGER NOT NULL,
    any_correct INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    flops REAL NOT NULL,
    wall_s REAL NOT NULL,
    candidates TEXT NOT NULL,
    prm_tokens INTEGER NOT NULL,
    prm_flops REAL NOT NULL,
    classes TEXT NOT NULL,
    verdicts TEXT NOT NULL,
    failure TEXT,
    PRIMARY KEY (strategy, problem_id)
)
"""
_COLUMNS = 17


@dataclass(frozen=True)
class ProblemRecord:
    """One graded problem of one strategy."""

    strategy: str
    problem_id: str
    level: int | None
    gold: str
    answer: str | None
    correct: bool
    any_correct: bool
    """Oracle: at least one candidate was right (pass@n)."""
    prompt_tokens: int
    completion_tokens: int
    flops: float
    wall_s: float
    """This problem's share of its batch's wall time."""
    candidates: tuple[Candidate, ...]
    prm_tokens: int = 0
    """Tokens the PRM read and wrote for this problem."""
    prm_flops: float = 0.0
    """The PRM's FLOPs (2 x its parameters x its tokens), apart from the policy's ``flops``."""
    classes: tuple[int, ...] = ()
    """Each candidate's answer equivalence class (math-verify), -1 when it has no answer."""
    verdicts: tuple[bool, ...] = ()
    """Whether each candidate's answer is right."""
    failure: str | None = None
    """What went wrong for this problem (no finished candidate, unscored solutions)."""


class RunStore:
    """Per-problem results of a run folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        columns = len(self._db.execute("PRAGMA table_info(results)").fetchall())
        if columns != _COLUMNS:
            self._db.close()
            raise DataError(
                f"{path} was written by another ttscale version ({columns} columns, expected "
                f"{_COLUMNS}); use another --output-dir or delete that run"
            )

    def done_ids(self, strategy: str) -> set[str]:
        rows = self._db.execute("SELECT problem_id FROM results WHERE strategy = ?", (strategy,))
        return {r[0] for r in rows}

    def write(self, records: Iterable[ProblemRecord]) -> None:
        """Commit each problem on its own; a problem already stored is left as it was."""
        for row in (
            (
                r.strategy,
                r.problem_id,
                r.level,
                r.gold,
                r.answer,
                int(r.correct),
                int(r.any_correct),
                r.prompt_tokens,
                r.completion_tokens,
                r.flops,
                r.wall_s,
                json.dumps([asdict(c) for c in r.candidates]),
                r.prm_tokens,
                r.prm_flops,
                json.dumps(r.classes),
                json.dumps(r.verdicts),
                r.failure,
            )
            for r in records
        ):
            with self._db:
                self._db.execute(
                    f"INSERT OR IGNORE INTO results VALUES ({','.join('?' * _COLUMNS)})", row
                )

    def strategies(self) -> list[str]:
        """Labels with at least one stored problem, in the order first written."""
        rows = self._db.execute(
            "SELECT strategy FROM results GROUP BY strategy ORDER BY MIN(rowid)"
        )
        return [r[0] for r in rows]

    def records(self, strategy: str) -> list[ProblemRecord]:
        rows = self._db.execute(
            "SELECT * FROM results WHERE strategy = ? ORDER BY rowid", (strategy,)
        )
        return [_record(row) for row in rows]

    def close(self) -> None:
        self._db.close()


def _record(row: tuple) -> ProblemRecord:
    cands = tuple(
        Candidate(**{**c, "step_scores": _floats(c["step_scores"])}) for c in json.loads(row[11])
    )
    return ProblemRecord(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        bool(row[5]),
        bool(row[6]),
        row[7],
        row[8],
        row[9],
        row[10],
        cands,
        row[12],
        row[13],
        tuple(json.loads(row[14])),
        tuple(bool(v) for v in json.loads(row[15])),
        row[16],
    )


def _floats(values: list[float] | None) -> tuple[float, ...] | None:
    """JSON gives lists back; Candidate holds tuples (so records compare equal)."""
    return None if values is None else tuple(values)
