"""The ``ttscale`` command line: thin commands that build a config and call the library."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ttscale.errors import TTScaleError

app = typer.Typer(
    help="Test-time scaling of LLM reasoning with process reward models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
mini_app = typer.Typer(help="The miniature world: train the shipped models.", no_args_is_help=True)
app.add_typer(mini_app, name="mini")
train_app = typer.Typer(help="Train reward models from labels.", no_args_is_help=True)
app.add_typer(train_app, name="train")

_state = {"debug": False}
F = TypeVar("F", bound=Callable[..., Any])

RecipeArg = Annotated[
    str, typer.Argument(help="Recipe name (`ttscale ls recipes`) or path to a YAML file.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config key: --set policy.temperature=0.8"),
]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _guard(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a TTScaleError becomes one line and exit code 2 unless --debug."""
    try:
        return fn()
    except TTScaleError as e:
        if _state["debug"]:
            raise
        _fail(str(e))


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def run(
    recipe: RecipeArg = "mini",
    overrides: SetOpt = None,
    dataset: Annotated[str | None, typer.Option(help="Shortcut for --set data.dataset=...")] = None,
    policy: Annotated[str | None, typer.Option(help="Shortcut for --set policy.model=...")] = None,
    limit: Annotated[int | None, typer.Option(help="Solve only the first N problems.")] = None,
    output_dir: Annotated[
        Path | None, typer.Option(help="Run folder (default runs/<name>-<config hash>).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Shard problems over Ray actors: a cluster address or 'local'."),
    ] = None,
    ray_actors: Annotated[
        int | None, typer.Option(help="Ray actors (default: one per GPU, else one per CPU).")
    ] = None,
) -> None:
    """Solve a benchmark with every strategy of a recipe, grade, store and summarise.

    Re-running the same command resumes: finished problems are skipped.
    """
    from ttscale.config import load_config
    from ttscale.runs.runner import run as run_config

    sets = list(overrides or [])
    sets += [f"data.dataset={dataset}"] if dataset else []
    sets += [f"policy.model={policy}"] if policy else []
    sets += [f"data.limit={limit}"] if limit else []
    config = _guard(lambda: load_config(recipe, sets))
    if ray:
        from ttscale.runs.ray_runner import RayOptions, run_ray

        options = RayOptions(ray, ray_actors)
        report = _guard(
            lambda: run_ray(config, options=options, output_dir=output_dir, progress=progress)
        )
    else:
        report = _guard(lambda: run_config(config, output_dir=output_dir, progress=progress))
    _print_report(report)


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    levels = sorted({k for s in report.summaries for k in s.by_level})
    table = Table(
        title=f"{report.config.data.dataset}: {report.problems} problems, "
        f"policy {report.config.policy.model}"
    )
    for col in [
        "strategy",
        *[f"L{k}" if k.isdigit() else k for k in levels],
        "overall",
        "pass@n",
        "tokens",
        "wall s",
    ]:
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for s in report.summaries:
        cells = [f"{100 * s.by_level[k]:.1f}" if k in s.by_level else "-" for k in levels]
        table.add_row(
            s.strategy,
            *cells,
            f"{100 * s.accuracy:.1f}",
            f"{100 * s.any_correct:.1f}",
            f"{s.prompt_tokens + s.completion_tokens:,}",
            f"{s.wall_s:.1f}",
        )
    Console(width=max(Console().width, 110)).print(table)  # never truncate the figures
    typer.echo(f"results: {report.run_dir} (summary.md has curves with 95% CIs and every rule)")


RunDirArg = Annotated[Path, typer.Argument(help="A run folder (runs/<name>-<hash>).")]


@app.command()
def report(run_dir: RunDirArg) -> None:
    """Rewrite a run's metrics.json, summary.md and plots from its store (also mid-run)."""
    from ttscale.runs.runner import report as write_report

    _guard(lambda: write_report(run_dir))
    typer.echo((run_dir / "summary.md").read_text(encoding="utf-8").rstrip())


@app.command()
def export(
    run_dir: RunDirArg,
    fmt: Annotated[str, typer.Option("--format", help="jsonl, or parquet (needs pyarrow).")] = (
        "jsonl"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Output file (default RUN/results.<format>).")
    ] = None,
) -> None:
    """Export every stored result, one row per (strategy, problem), candidates nested."""
    from ttscale.runs.export import export_run

    typer.echo(f"wrote {_guard(lambda: export_run(run_dir, fmt=fmt, out=out))}")


@app.command()
def config(
    recipe: RecipeArg = "mini",
    overrides: SetOpt = None,
    schema: Annotated[bool, typer.Option(help="Print the JSON schema instead.")] = False,
) -> None:
    """Print a recipe's resolved config (YAML), or the config's JSON schema."""
    import yaml

    from ttscale.config import RunConfig, load_config

    if schema:
        typer.echo(json.dumps(RunConfig.model_json_schema(), indent=2))
        return
    cfg = _guard(lambda: load_config(recipe, list(overrides or [])))
    typer.echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False).rstrip())


@app.command("ls")
def list_names(
    what: Annotated[
        str,
        typer.Argument(help="strategies, prms, engines, datasets, processbench, recipes or models"),
    ],
) -> None:
    """List what can be chosen by name."""
    typer.echo("\n".join(_guard(lambda: _names(what))))


def _names(what: str) -> list[str]:
    from ttscale.config import recipe_names
    from ttscale.errors import ConfigError
    from ttscale.mini.models import shipped_models

    if what == "strategies":
        from ttscale.search import strategies

        return strategies.names()
    if what == "engines":
        from ttscale.engines import engines

        return engines.names()
    if what == "prms":
        from ttscale.rewards import prms

        return prms.names()
    if what == "datasets":
        from ttscale.data.datasets import datasets

        return datasets.names()
    if what == "processbench":
        from ttscale.data.processbench import processbench_sets

        return processbench_sets.names()
    listing = {"recipes": recipe_names, "models": shipped_models}
    if what not in listing:
        raise ConfigError(
            f"cannot list {what!r}: allowed are strategies, prms, engines, datasets, "
            "processbench, recipes, models"
        )
    return listing[what]()


@app.command()
def processbench(
    prm: Annotated[str, typer.Option(help="A registered PRM name, e.g. mini-prm.")],
    data: Annotated[
        str,
        typer.Option(
            help="mini-processbench, processbench, processbench:<subset> or a ProcessBench .jsonl"
        ),
    ] = "mini-processbench",
    limit: Annotated[int | None, typer.Option(help="Score the first N samples per subset.")] = None,
    stop_at_gold: Annotated[
        bool, typer.Option(help="Stop scoring at the gold first-error step (same F1, fewer steps).")
    ] = False,
    output_dir: Annotated[
        Path | None, typer.Option(help="Folder for results.json (default runs/processbench-…).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    maj: Annotated[int, typer.Option(help="Maj@N for a generative PRM (N rationales/step).")] = 1,
    ablation: Annotated[
        str,
        typer.Option(help="Generative PRM ablation: full, cot_only or code_no_exec (not run)."),
    ] = "full",
    model: Annotated[
        str | None,
        typer.Option(help="Other weights (folder or Hub id) read with --prm's classifier recipe."),
    ] = None,
) -> None:
    """ProcessBench F1 of a PRM: error/correct accuracy and F1 per subset, and their mean."""
    from ttscale.analysis.processbench import run_processbench

    report, path = _guard(
        lambda: run_processbench(
            prm,
            data,
            limit=limit,
            stop_at_gold=stop_at_gold,
            output_dir=output_dir,
            progress=progress and sys.stderr.isatty(),
            maj=maj,
            ablation=ablation,
            model=model,
        )
    )
    _print_processbench(report, data)
    typer.echo(f"results: {path}")


def _print_processbench(report: Any, data: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ProcessBench F1: {report.prm} on {data}")
    for col in ("subset", "n", "error acc", "correct acc", "F1", "failed"):
        table.add_column(col, justify="left" if col == "subset" else "right")
    for s in report.subsets:
        table.add_row(
            s.subset,
            str(s.samples),
            f"{100 * s.error_acc:.1f}",
            f"{100 * s.correct_acc:.1f}",
            f"{100 * s.f1:.1f}",
            str(s.failures),
        )
    table.add_row(
        "Avg",
        str(len(report.outcomes)),
        "",
        "",
        f"{100 * report.average_f1:.1f}",
        str(report.failures),
        style="bold",
    )
    Console(width=max(Console().width, 100)).print(table)
    typer.echo(f"steps sent {report.steps_sent:,}, scored {report.steps_scored:,}")


@app.command()
def optimal(
    runs: Annotated[list[Path], typer.Argument(help="Run folders written by `ttscale run`.")],
    probe: Annotated[int, typer.Option(help="Samples the online selector's probe reads.")] = 4,
    plot_dir: Annotated[
        Path | None, typer.Option(help="Where to write optimal_by_bin.png (default: none).")
    ] = None,
) -> None:
    """Compute-optimal TTS over finished runs: per-bin choice, efficiency gain, online selector."""
    from ttscale.analysis.optimal_runs import load_runs, optimal_report, plot_bins, print_report

    outcomes, pass1, probes = _guard(lambda: load_runs(runs, probe=probe))
    report = _guard(lambda: optimal_report(outcomes, pass1, probes))
    print_report(report)
    if plot_dir is not None:
        typer.echo(f"plot: {plot_bins(outcomes, pass1, plot_dir)}")


# Training and data commands live in cli_train.py; importing it registers them on the apps.
import ttscale.cli_train  # noqa: E402, F401
