"""``ttscale.run(config)``: the one path from a config to graded, stored, summarised results.

The CLI and Python users both call :func:`run`. Problems go to each strategy in batches of
``batch_problems``; each batch is graded and committed to the run store before the next starts,
so re-running the same command resumes where it stopped.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from ttscale.analysis.metrics import StrategySummary, summarize
from ttscale.config import MajorityConfig, PolicyConfig, RunConfig, StrategyConfig
from ttscale.errors import ConfigError
from ttscale.runs.store import ProblemRecord, RunStore
from ttscale.search.voting import majority_vote
from ttscale.types import Problem, SearchResult


@dataclass(frozen=True)
class RunReport:
    run_dir: Path
    config: RunConfig
    problems: int
    summaries: tuple[StrategySummary, ...]


def strategy_label(cfg: StrategyConfig) -> str:
    """A strategy's name in the store and the tables, e.g. ``majority@8``."""
    return f"{cfg.name}@{cfg.n}" if isinstance(cfg, MajorityConfig) else cfg.name


def run(config: RunConfig, *, output_dir: Path | None = None, progress: bool = True) -> RunReport:
    """Solve, grade and store every problem with every strategy of ``config``; resume if asked.

    Raises:
        ConfigError: ``output_dir`` already holds a run of a different config.
        DataError, EngineError: the dataset or the model cannot be loaded.
    """
    from ttscale.data.datasets import load_dataset
    from ttscale.data.grading import Grader

    run_dir = output_dir or Path("runs") / f"{config.name}-{config.config_hash()}"
    _check_run_dir(run_dir, config)
    data = config.data
    problems = load_dataset(
        data.dataset, limit=data.limit, data_dir=Path(data.data_dir) if data.data_dir else None
    )
    policy = build_policy(config.policy)
    _save_config(run_dir, config)  # only once inputs load, so a typo leaves no empty run folder
    _write_manifest(run_dir, config, policy, len(problems))
    store = RunStore(run_dir / "results.sqlite")
    summaries = []
    try:
        with Grader(config.grading_timeout_s) as grader:
            for cfg in config.strategies:
                _run_strategy(
                    cfg,
                    problems,
                    policy=policy,
                    store=store,
                    grader=grader,
                    config=config,
                    progress=progress,
                )
                label = strategy_label(cfg)
                summaries.append(summarize(label, store.records(label)))
    finally:
        store.close()
    (run_dir / "metrics.json").write_text(
        json.dumps([asdict(s) for s in summaries], indent=2) + "\n", encoding="utf-8"
    )
    return RunReport(run_dir, config, len(problems), tuple(summaries))


def build_policy(cfg: PolicyConfig) -> Any:
    """The policy engine, from the registry; shipped mini model names resolve to their folder."""
    from ttscale.engines import build_engine
    from ttscale.mini.models import resolve_model

    return build_engine(resolve_model(cfg.model), cfg.engine)


def solve_batch(
    batch: Sequence[Problem], cfg: StrategyConfig, *, policy: Any, config: RunConfig
) -> list[SearchResult]:
    """One batch of problems through one strategy: the unit of work (also of a Ray actor)."""
    from ttscale.search import strategies

    return strategies.get(cfg.name)(
        batch, policy=policy, prm=None, cfg=cfg, sampling=config.policy, seed=config.seed
    )


def _run_strategy(
    cfg: StrategyConfig,
    problems: Sequence[Problem],
    *,
    policy: Any,
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
    for start in range(0, len(todo), config.batch_problems):
        batch = todo[start : start + config.batch_problems]
        began = time.perf_counter()
        results = solve_batch(batch, cfg, policy=policy, config=config)
        wall = time.perf_counter() - began
        records = _grade(label, results, grader, wall_per_problem=wall / len(batch))
        store.write(records)
        bar.update(len(batch))
        tokens = sum(r.completion_tokens for r in records)
        bar.set_postfix(tok_per_s=f"{tokens / max(wall, 1e-9):.0f}")
    bar.close()


def _grade(
    label: str, results: list[SearchResult], grader: Any, *, wall_per_problem: float
) -> list[ProblemRecord]:
    """Select each answer (majority vote where the strategy left it open) and grade it.

    Every candidate is graded once, in one batch; the selected answer is one of them, so its
    verdict is looked up rather than sent to the grader a second time.
    """
    golds = [r.problem.answer for r in results]
    flat = [(i, c.answer) for i, r in enumerate(results) for c in r.candidates]
    verdicts: list[dict[str | None, bool]] = [{} for _ in results]
    for (i, answer), ok in zip(
        flat, grader.is_correct([a for _, a in flat], [golds[i] for i, _ in flat]), strict=True
    ):
        verdicts[i][answer] = ok
    answers = [
        r.answer if r.answer is not None else majority_vote(r.candidates, grader.cluster)
        for r in results
    ]
    unseen = [i for i, a in enumerate(answers) if a not in verdicts[i]]
    for i, ok in zip(
        unseen,
        grader.is_correct([answers[i] for i in unseen], [golds[i] for i in unseen]),
        strict=True,
    ):
        verdicts[i][answers[i]] = ok
    correct = [verdicts[i][a] for i, a in enumerate(answers)]
    any_ok = [any(v.values()) for v in verdicts]
    return [
        ProblemRecord(
            label,
            r.problem.id,
            r.problem.level,
            r.problem.answer,
            answer,
            ok,
            anyok,
            r.usage.prompt_tokens,
            r.usage.completion_tokens,
            r.usage.flops,
            wall_per_problem,
            r.candidates,
        )
        for r, answer, ok, anyok in zip(results, answers, correct, any_ok, strict=True)
    ]


def _check_run_dir(run_dir: Path, config: RunConfig) -> None:
    """An existing run folder may only be resumed with the same config."""
    saved = run_dir / "config.yaml"
    if not saved.exists():
        return
    previous = yaml.safe_load(saved.read_text(encoding="utf-8"))
    if RunConfig.model_validate(previous).config_hash() != config.config_hash():
        raise ConfigError(
            f"output dir {run_dir} holds a run with a different config; "
            "choose another --output-dir or delete it"
        )


def _save_config(run_dir: Path, config: RunConfig) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / "config.yaml"
    if not saved.exists():
        saved.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), "utf-8")


def _write_manifest(run_dir: Path, config: RunConfig, policy: Any, problems: int) -> None:
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
        "versions": {
            "ttscale": ttscale.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
