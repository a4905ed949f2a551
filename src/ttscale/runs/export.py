"""Export a run's stored results: one row per (strategy, problem), candidates nested.

JSONL needs nothing; parquet needs pyarrow (``pip install 'ttscale[parquet]'``). Each candidate
carries its text, answer, finish reason, step rewards, score, group, answer class and verdict.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from ttscale.errors import ConfigError
from ttscale.runs.store import ProblemRecord, RunStore

ExportFormat = Literal["jsonl", "parquet"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "parquet")


def export_rows(store: RunStore) -> list[dict[str, Any]]:
    """Every stored record of every strategy as a plain row."""
    return [_row(r) for label in store.strategies() for r in store.records(label)]


def _row(r: ProblemRecord) -> dict[str, Any]:
    row = asdict(r)
    row["candidates"] = [
        {**asdict(c), "answer_class": k, "correct": v}
        for c, k, v in zip(r.candidates, r.classes, r.verdicts, strict=True)
    ]
    del row["classes"], row["verdicts"]
    return row


def export_run(run_dir: Path, *, fmt: str, out: Path | None = None) -> Path:
    """Write ``results.<fmt>`` (or ``out``) from a run folder's store; returns the path.

    Raises:
        ConfigError: not a run folder, an unknown format, or parquet without pyarrow.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"export format {fmt!r} is unknown; allowed: {', '.join(FORMATS)}")
    db = run_dir / "results.sqlite"
    if not db.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no results.sqlite)")
    target = out or run_dir / f"results.{fmt}"
    store = RunStore(db)
    try:
        rows = export_rows(store)
    finally:
        store.close()
    if fmt == "jsonl":
        with target.open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
    else:
        _write_parquet(rows, target)
    return target


def _write_parquet(rows: list[dict[str, Any]], target: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ConfigError(
            "--format parquet needs pyarrow: pip install 'ttscale[parquet]' (or use jsonl)"
        ) from e
    pq.write_table(pa.Table.from_pylist(rows), target)
