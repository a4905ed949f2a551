"""A real `ttscale run` killed with SIGKILL mid-way resumes to the same results as a clean run."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import ttscale
from ttscale.config import load_config
from ttscale.runs.runner import run
from ttscale.runs.store import RunStore

RECIPE = {
    "name": "resume",
    "seed": 3,
    "prm": "mini-oracle",
    "data": {"dataset": "mini-500", "limit": 8},
    "policy": {"model": "mini-policy-s", "max_tokens": 96},
    "batch_problems": 2,
    "analysis": {"resamples": 10, "plots": False},
    "strategies": [
        {"name": "best_of_n", "n": 4},
        {"name": "beam_search", "n": 4, "max_steps": 8, "step_max_tokens": 40},
    ],
}
TOTAL = 8 * 2


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def start(recipe: Path, out: Path) -> subprocess.Popen:
    src = str(Path(ttscale.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    command = "from ttscale.cli import app; app()"
    return subprocess.Popen(
        [sys.executable, "-c", command, "run", str(recipe), "--output-dir", str(out),
         "--no-progress"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def records(out: Path) -> dict[str, list]:
    store = RunStore(out / "results.sqlite")
    try:
        return {
            label: sorted((dataclasses.replace(r, wall_s=0.0) for r in store.records(label)),
                          key=lambda r: r.problem_id)
            for label in store.strategies()
        }
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    recipe = tmp_path / "resume.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    killed = tmp_path / "killed"
    proc = start(recipe, killed)
    deadline = time.monotonic() + 300
    while stored(killed / "results.sqlite") < 3 and proc.poll() is None:
        assert time.monotonic() < deadline, "the run wrote nothing in 300 s"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = stored(killed / "results.sqlite")
    assert proc.returncode == -signal.SIGKILL and 3 <= at_kill < TOTAL

    resumed = start(recipe, killed)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err.decode()[-2000:]

    clean = tmp_path / "clean"
    run(load_config(str(recipe)), output_dir=clean, progress=False)

    got, want = records(killed), records(clean)
    assert list(got) == list(want) == ["best_of_n@4", "beam_search@4"]
    for label in want:
        assert [r.problem_id for r in got[label]] == [r.problem_id for r in want[label]]
        assert len(got[label]) == 8  # none lost, none twice
        assert got[label] == want[label]
    assert metrics_without_wall_time(killed) == metrics_without_wall_time(clean)


def metrics_without_wall_time(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "wall_s"}
            for m in json.loads((run_dir / "metrics.json").read_text())]
