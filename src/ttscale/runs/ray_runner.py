"""``ttscale run --ray ADDRESS``: problems sharded over Ray actors, each with its own engine.

Design: actors only solve; the driver grades and writes. The run store is one SQLite file in WAL
mode on the driver's disk: actors on other machines cannot reach it, SQLite over a network
filesystem is unsafe, and one writer keeps "a problem is stored once" a primary-key fact. So an
actor returns a batch's SearchResults as a Ray object and the driver commits the batch in one
transaction as soon as it arrives. Killing an actor mid-run therefore loses at most the batch it
was solving: Ray restarts the actor (its engine reloads) and retries the batch, or the driver
re-queues it; finished batches are already committed. Resume is the runner's: problems already
in the store are never sent, and seeds derive from (run seed, problem id, sample), so which
actor solves a problem does not change its samples.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ttscale.config import RunConfig, StrategyConfig
from ttscale.errors import ConfigError, EngineError
from ttscale.runs import runner
from ttscale.runs.judge import judge, selection_rule
from ttscale.runs.store import RunStore
from ttscale.types import Problem, SearchResult

_BATCH_TRIES = 3
"""Driver-side tries of one batch after Ray's own actor restarts and task retries ran out."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run."""

    address: str = "local"
    """A Ray cluster address ("auto", "host:6379", "ray://host:10001") or "local"."""
    actors: int | None = None
    """Actors (engines); None: one per GPU when the cluster has GPUs, else one per CPU."""


@dataclass(frozen=True)
class _ModelInfo:
    """What the manifest records of the policy and PRM (the driver holds no model)."""

    name: str
    num_parameters: int


class Solver:
    """A Ray actor's body: one engine, solving batches of problems with a strategy."""

    def __init__(self, config: RunConfig) -> None:
        self._config = config
        self._policy = runner.build_policy(config.policy)
        prm_cfg = runner.run_prm_config(config)
        self._prm = runner.build_prm(prm_cfg) if prm_cfg is not None else None

    def describe(self) -> tuple[_ModelInfo, _ModelInfo | None]:
        prm = self._prm
        return (
            _ModelInfo(self._policy.name, self._policy.num_parameters),
            None if prm is None else _ModelInfo(prm.name, prm.num_parameters),
        )

    def solve(self, batch: Sequence[Problem], cfg: StrategyConfig) -> list[SearchResult]:
        return runner.solve_batch(
            batch, cfg, policy=self._policy, prm=self._prm, config=self._config
        )


def actor_name(config: RunConfig, index: int) -> str:
    """The name of solver ``index`` of a run (named actors can be found with ray.get_actor)."""
    return f"ttscale-{config.config_hash()}-{index}"


def run_ray(
    config: RunConfig,
    *,
    options: RayOptions,
    output_dir: Path | None = None,
    progress: bool = True,
) -> runner.RunReport:
    """:func:`ttscale.run` with the solving spread over Ray actors; same run folder and store.

    Raises:
        ConfigError: Ray is not installed, or ``output_dir`` holds a different run.
        EngineError: every actor died, or a batch failed on ``_BATCH_TRIES`` actors.
    """
    from ttscale.analysis.report import build_reports, write_outputs
    from ttscale.data.datasets import load_dataset
    from ttscale.data.grading import Grader

    ray = _import_ray()
    run_dir = output_dir or Path("runs") / f"{config.name}-{config.config_hash()}"
    runner._check_run_dir(run_dir, config)
    data = config.data
    problems = load_dataset(
        data.dataset, limit=data.limit, data_dir=Path(data.data_dir) if data.data_dir else None
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(run_dir / "results.sqlite")
    started_here, actors = False, []
    try:
        todo = {
            runner.strategy_label(cfg): _unsolved(problems, store, cfg) for cfg in config.strategies
        }
        if any(todo.values()):  # a finished run resumes without starting a cluster or engines
            started_here = _connect(ray, options.address)
            actors = _start_actors(ray, config, options)
            policy, prm = ray.get(actors[0].describe.remote())
            runner._save_config(run_dir, config)
            runner._write_manifest(run_dir, config, policy, prm, len(problems))
        with Grader(config.grading_timeout_s) as grader:
            for cfg in config.strategies:
                label = runner.strategy_label(cfg)
                _shard(ray, actors, cfg, todo[label], store=store, grader=grader, config=config,
                       progress=progress, total=len(problems))
        reports = build_reports(config, store)
    finally:
        store.close()
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
    write_outputs(run_dir, config, reports)
    return runner.RunReport(run_dir, config, len(problems), tuple(r.summary for r in reports))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ConfigError("--ray needs Ray: pip install 'ttscale[ray]'") from e
    return ray


def _connect(ray: Any, address: str) -> bool:
    """Join (or start, for "local") a cluster; True when this call started the connection."""
    if ray.is_initialized():
        return False
    ray.init(address=None if address == "local" else address, log_to_driver=False)
    return True


def _start_actors(ray: Any, config: RunConfig, options: RayOptions) -> list[Any]:
    """The solver actors, one GPU each (times tensor parallel size) when the cluster has GPUs."""
    resources = ray.cluster_resources()
    gpus_each = config.policy.engine.vllm.tensor_parallel_size if resources.get("GPU") else 0
    slots = int(resources["GPU"] // gpus_each) if gpus_each else int(resources.get("CPU", 1))
    count = options.actors or max(1, slots)
    if count < 1:
        raise ConfigError(f"--ray-actors={count} is invalid; it must be >= 1")
    remote = ray.remote(num_cpus=1, num_gpus=gpus_each, max_restarts=2, max_task_retries=2)
    solver = remote(Solver)
    return [
        solver.options(name=actor_name(config, i), lifetime=None).remote(config)
        for i in range(count)
    ]


def _shard(
    ray: Any,
    actors: list[Any],
    cfg: StrategyConfig,
    todo: Sequence[Problem],
    *,
    store: RunStore,
    grader: Any,
    config: RunConfig,
    progress: bool,
    total: int,
) -> None:
    """Keep every actor busy with one batch; grade and commit each batch as it returns."""
    from tqdm import tqdm

    label = runner.strategy_label(cfg)
    size = config.batch_problems
    queue = deque((todo[i : i + size], 0) for i in range(0, len(todo), size))
    idle = list(actors)
    pending: dict[Any, tuple[Any, Sequence[Problem], int, float]] = {}
    bar = tqdm(total=total, initial=total - len(todo), desc=label, unit="problem",
               disable=not progress)
    while queue or pending:
        while queue and idle:
            actor, (batch, tries) = idle.pop(), queue.popleft()
            pending[actor.solve.remote(batch, cfg)] = (actor, batch, tries, time.perf_counter())
        [ref], _ = ray.wait(list(pending), num_returns=1)
        actor, batch, tries, began = pending.pop(ref)
        try:
            results = ray.get(ref)
        except ray.exceptions.RayError as e:
            _requeue(queue, batch, tries, e)
            if not isinstance(e, ray.exceptions.RayActorError):
                idle.append(actor)  # the actor lives; the batch failed inside it
            elif not idle and not pending:
                raise EngineError(f"every Ray actor died; last error: {e}") from e
            continue
        idle.append(actor)
        wall = (time.perf_counter() - began) / len(batch)
        store.write(judge(label, results, grader, rule=selection_rule(cfg), wall_per_problem=wall))
        bar.update(len(batch))
    bar.close()


def _unsolved(problems: Sequence[Problem], store: RunStore, cfg: StrategyConfig) -> list[Problem]:
    done = store.done_ids(runner.strategy_label(cfg))
    return [p for p in problems if p.id not in done]


def _requeue(queue: deque, batch: Sequence[Problem], tries: int, error: Exception) -> None:
    if tries + 1 >= _BATCH_TRIES:
        raise EngineError(
            f"a batch of {len(batch)} problems (first {batch[0].id!r}) failed {_BATCH_TRIES} "
            f"times on Ray actors; last error: {error}"
        ) from error
    queue.append((batch, tries + 1))
