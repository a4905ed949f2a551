"""The run store: one SQLite file of per-problem results, written as each batch finishes.

WAL mode and one transaction per batch mean a crash (even ``kill -9``) loses at most the batch
in flight, never a finished one, and a primary key on (strategy, problem) means a resumed run
cannot duplicate a problem.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

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
    PRIMARY KEY (strategy, problem_id)
)
"""


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


class RunStore:
    """Per-problem results of a run folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(str(path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def done_ids(self, strategy: str) -> set[str]:
        rows = self._db.execute("SELECT problem_id FROM results WHERE strategy = ?", (strategy,))
        return {r[0] for r in rows}

    def write(self, records: Iterable[ProblemRecord]) -> None:
        """Insert a batch atomically; a problem already stored is left as it was."""
        rows = [
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
            )
            for r in records
        ]
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows
            )

    def records(self, strategy: str) -> list[ProblemRecord]:
        rows = self._db.execute(
            "SELECT * FROM results WHERE strategy = ? ORDER BY rowid", (strategy,)
        )
        return [_record(row) for row in rows]

    def close(self) -> None:
        self._db.close()


def _record(row: tuple) -> ProblemRecord:
    cands = tuple(Candidate(**c) for c in json.loads(row[11]))
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
    )
