"""``ttscale.run(config)``: the one path from a config to graded, stored, summarised results.

The CLI and Python users both call :func:`run`. Problems go to each strategy in batches of
``batch_problems`` (they advance in lockstep); as soon as a batch is graded each problem is
committed to the run store on its own, so re-running the same command resumes where it
stopped, and a crash loses at most the batch in flight.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ttscale.analysis.metrics import StrategySummary
from ttscale.config import (
    PRM_STRATEGIES,
    PolicyConfig,
    PRMConfig,
    RunConfig,
    StrategyConfig,
    strategy_label,
)
from ttscale.errors import ConfigError
from ttscale.runs.judge import judge, selection_rule
from ttscale.runs.store import RunStore
from ttscale.types import Problem, SearchResult

if TYPE_CHECKING:
    from ttscale.analysis.report import StrategyReport

__all__ = [
    "RunReport",
    "build_policy",
    "build_prm",
    "report",
    "run",
    "saved_config",
    "solve_batch",
    "strategy_label",
]


@dataclass(frozen=True)
class RunReport:
    run_dir: Path
    config: RunConfig
    problems: int
    summaries: tuple[StrategySummary, ...]


def run(config: RunConfig, *, output_dir: Path | None = None, progress: bool = True) -> RunReport:
    """Solve, grade and store every problem with every strategy of ``config``; resume if asked.

    Writes ``metrics.json``, ``summary.md`` and the plots into the run folder at the end.

    Raises:
        ConfigError: ``output_dir`` already holds a run of a different config.
        DataError, EngineError: the dataset or a model cannot be loaded.
    """
    from ttscale.analysis.report import build_reports, write_outputs
    from ttscale.data.datasets import load_dataset
    from ttscale.data.grading import Grader
    from ttscale.rewards import prms

    run_dir = output_dir or Path("runs") / f"{config.name}-{config.config_hash()}"
    _check_run_dir(run_dir, config)
    data = config.data
    problems = load_dataset(
        data.dataset, limit=data.limit, data_dir=Path(data.data_dir) if data.data_dir else None
    )
    prm_cfg = run_prm_config(config)
    if prm_cfg is not None:
        prms.get(prm_cfg.name)  # a misspelt PRM fails before any model loads
    policy = build_policy(config.policy)
    prm = build_prm(prm_cfg) if prm_cfg is not None else None
    _save_config(run_dir, config)  # only once inputs load, so a typo leaves no empty run folder
    _write_manifest(run_dir, config, policy, prm, len(problems))
    store = RunStore(run_dir / "results.sqlite")
    try:
        with Grader(config.grading_timeout_s) as grader:
            for cfg in config.strategies:
                _run_strategy(
                    cfg,
                    problems,
                    policy=policy,
                    prm=prm,
                    store=store,
                    grader=grader,
                    config=config,
                    progress=progress,
                )
        reports = build_reports(config, store)
    finally:
        store.close()
    write_outputs(run_dir, config, reports)
    return RunReport(run_dir, config, len(problems), tuple(r.summary for r in reports))


def report(run_dir: Path) -> list[StrategyReport]:
    """Rewrite a run folder's metrics.json, summary.md and plots from its store (finished or
    interrupted).

    Raises:
        ConfigError: ``run_dir`` holds no run.
    """
    from ttscale.analysis.report import build_reports, write_outputs

    config = saved_config(run_dir)
    if not (run_dir / "results.sqlite").is_file():
        raise ConfigError(f"{run_dir} has no results.sqlite yet: nothing to report")
    store = RunStore(run_dir / "results.sqlite")
    try:
        reports = build_reports(config, store)
    finally:
        store.close()
    write_outputs(run_dir, config, reports)
    return reports


def saved_config(run_dir: Path) -> RunConfig:
    """The config a run folder was made with.

    Raises:
        ConfigError: ``run_dir`` has no config.yaml.
    """
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.yaml)")
    return RunConfig.model_validate(yaml.safe_load(saved.read_text(encoding="utf-8")))


def build_policy(cfg: PolicyConfig) -> Any:
    """The policy engine, from the registry; shipped mini model names resolve to their folder."""
    from ttscale.engines import build_engine
    from ttscale.mini.models import resolve_model

    return build_engine(resolve_model(cfg.model), cfg.engine)


def solve_batch(
    batch: Sequence[Problem], cfg: StrategyConfig, *, policy: Any, prm: Any, config: RunConfig
) -> list[SearchResult]:
    """One batch of problems through one strategy: the unit of work (also of a Ray actor)."""
    from ttscale.search import strategies

    return strategies.get(cfg.name)(
        batch, policy=policy, prm=prm, cfg=cfg, sampling=config.policy, seed=config.seed
    )


def run_prm_config(config: RunConfig) -> PRMConfig | None:
    """The ``prm`` section when some strategy of the run needs it, else None."""
    if any(isinstance(s, PRM_STRATEGIES) for s in config.strategies):
        return config.prm
    return None


def build_prm(cfg: PRMConfig | None) -> Any:
    """The run's PRM through the ``prms`` registry (a factory taking the ``prm`` section).

    Raises:
        ConfigError: no ``prm`` section, or an unknown PRM name.
    """
    from ttscale.rewards import load_prm

    if cfg is None:
        raise ConfigError("this run needs a PRM: add a prm section (e.g. prm: mini-oracle)")
    if cfg.model is not None:
        return load_prm(cfg.model, spec=cfg.name, device=cfg.engine.device, dtype=cfg.engine.dtype)
    return load_prm(cfg.name, device=cfg.engine.device, dtype=cfg.engine.dtype, cfg=cfg)


def _run_strategy(
    cfg: StrategyConfig,
    problems: Sequence[Problem],
    *,
    policy: Any,
    prm: Any,
    store: RunStore,
    grader: Any,
    config: RunConfig,
    progress: bool,
) -> None:
    from tqdm import tqdm

    label = strategy_label(cfg)
    done = store.done_ids(label)
    todo = [p for p in problems if p.id not in done]
    bar = tqdm(
        total=len(problems),
        initial=len(problems) - len(todo),
        desc=label,
        unit="problem",
        disable=not progress,
    )
    began, tokens = time.perf_counter(), 0
    for start in range(0, len(todo), config.batch_problems):
        batch = todo[start : start + config.batch_problems]
        batch_began = time.perf_counter()
        results = solve_batch(batch, cfg, policy=policy, prm=prm, config=config)
        wall = (time.perf_counter() - batch_began) / len(batch)
        for record in judge(
            label, results, grader, rule=selection_rule(cfg), wall_per_problem=wall
        ):
            store.write([record])  # one commit per problem
            tokens += record.completion_tokens + record.prm_tokens
            bar.update(1)
            bar.set_postfix(tok_per_s=f"{tokens / max(time.perf_counter() - began, 1e-9):.0f}")
    bar.close()


def _check_run_dir(run_dir: Path, config: RunConfig) -> None:
    """An existing run folder may only be resumed with the same config."""
    saved = run_dir / "config.yaml"
    if not saved.exists():
        return
    if saved_config(run_dir).config_hash() != config.config_hash():
        raise ConfigError(
            f"output dir {run_dir} holds a run with a different config; "
            "choose another --output-dir or delete it"
        )


def _save_config(run_dir: Path, config: RunConfig) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / "config.yaml"
    if not saved.exists():
        saved.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), "utf-8")


def _write_manifest(run_dir: Path, config: RunConfig, policy: Any, prm: Any, problems: int) -> None:
    import torch
    import transformers

    import ttscale

    path = run_dir / "manifest.json"
    if path.exists():  # a resumed run keeps the manifest of its first start
        return
    manifest = {
        "config_hash": config.config_hash(),
        "seed": config.seed,
        "problems": problems,
        "policy": {"name": policy.name, "parameters": policy.num_parameters},
        "prm": None if prm is None else {"name": prm.name, "parameters": prm.num_parameters},
        "versions": {
            "ttscale": ttscale.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
