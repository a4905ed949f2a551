"""``ttscale run --ray``: problems sharded over Ray actors on a local 2-CPU cluster."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ttscale.cli import app
from ttscale.config import RunConfig, load_config
from ttscale.errors import ConfigError
from ttscale.runs.ray_runner import RayOptions, actor_name, run_ray
from ttscale.runs.runner import run
from ttscale.runs.store import RunStore

requires_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="Ray is not installed (pip install -e '.[ray]')",
)
COT_ONLY = "strategies=[{name: cot}]"


def mini_config(limit: int) -> RunConfig:
    return load_config("mini", [f"data.limit={limit}", COT_ONLY, "batch_problems=2"])


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def stored(run_dir: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(run_dir / "results.sqlite") as db:
        return list(db.execute("SELECT strategy, problem_id FROM results"))


@requires_ray
def test_sharded_run_stores_every_problem_once_with_the_local_answers(
    cluster: None, tmp_path: Path
) -> None:
    config = mini_config(6)
    report = run_ray(config, options=RayOptions("local", actors=2), output_dir=tmp_path / "ray",
                     progress=False)
    local = run(config, output_dir=tmp_path / "local", progress=False)
    rows = stored(report.run_dir)
    assert len(rows) == len(set(rows)) == 6
    by_id = {r.problem_id: r.answer for r in RunStore(report.run_dir / "results.sqlite")
             .records("cot")}
    expected = {r.problem_id: r.answer for r in RunStore(local.run_dir / "results.sqlite")
                .records("cot")}
    assert by_id == expected
    assert report.summaries[0].accuracy == local.summaries[0].accuracy


@requires_ray
def test_prm_strategies_on_ray_score_with_the_runs_prm_and_match_the_local_run(
    cluster: None, tmp_path: Path
) -> None:
    config = load_config("mini", [
        "data.limit=4", "batch_problems=2", "prm=mini-oracle",
        "strategies=[{name: best_of_n, n: 4}]",
    ])
    report = run_ray(config, options=RayOptions("local", actors=2), output_dir=tmp_path / "ray",
                     progress=False)
    local = run(config, output_dir=tmp_path / "local", progress=False)
    label = report.summaries[0].strategy

    def records(run_dir: Path) -> list:
        rows = RunStore(run_dir / "results.sqlite").records(label)
        return sorted(rows, key=lambda r: r.problem_id)

    on_ray, here = records(report.run_dir), records(local.run_dir)
    assert [(r.problem_id, r.answer) for r in on_ray] == [(r.problem_id, r.answer) for r in here]
    # the actors scored every candidate with the oracle PRM, as the local run did
    assert [[c.score for c in r.candidates] for r in on_ray] == [
        [c.score for c in r.candidates] for r in here
    ]
    assert all(c.score is not None for r in on_ray for c in r.candidates)


@requires_ray
def test_killing_an_actor_mid_run_loses_no_problem_and_a_rerun_adds_nothing(
    cluster: None, tmp_path: Path
) -> None:
    import ray

    # majority@16 on 24 problems in batches of 2: long enough (12 batches of 32 samples) that the
    # watcher sees a stored batch before the run ends (CoT on 12 problems sometimes finished first)
    config = load_config("mini", [
        "data.limit=24", "strategies=[{name: majority, n: 16}]", "batch_problems=2",
    ])
    run_dir, label = tmp_path / "run", "majority@16"
    killed_at: list[int] = []

    def kill_actor_once_a_batch_is_stored() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if (run_dir / "results.sqlite").exists() and len(stored(run_dir)) >= 2:
                seen = len(stored(run_dir))
                ray.kill(ray.get_actor(actor_name(config, 0)), no_restart=False)
                killed_at.append(seen)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_actor_once_a_batch_is_stored)
    killer.start()
    run_ray(config, options=RayOptions("local", actors=2), output_dir=run_dir, progress=False)
    killer.join()
    rows = stored(run_dir)
    assert killed_at and killed_at[0] < 24  # the kill landed mid-run
    assert len(rows) == len(set(rows)) == 24
    before = RunStore(run_dir / "results.sqlite").records(label)
    began = time.monotonic()
    run_ray(config, options=RayOptions("local", actors=1), output_dir=run_dir, progress=False)
    assert RunStore(run_dir / "results.sqlite").records(label) == before
    assert time.monotonic() - began < 20  # nothing left: no actor, no engine was started


@requires_ray
def test_cli_run_with_ray_local(cluster: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "run", "mini", "--ray", "local", "--ray-actors", "1", "--limit", "2", "--set", COT_ONLY,
        "--output-dir", str(tmp_path / "cli"), "--no-progress",
    ])
    assert result.exit_code == 0, result.output
    assert "cot" in result.output and len(stored(tmp_path / "cli")) == 2


def test_missing_ray_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"ttscale\[ray\]"):
        run_ray(mini_config(1), options=RayOptions(), output_dir=tmp_path / "run")
