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
    typer.echo(f"results: {report.run_dir}")


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
    what: Annotated[str, typer.Argument(help="strategies, engines, datasets, recipes or models")],
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
    if what == "datasets":
        from ttscale.data.datasets import datasets

        return datasets.names()
    listing = {"recipes": recipe_names, "models": shipped_models}
    if what not in listing:
        raise ConfigError(
            f"cannot list {what!r}: allowed are strategies, engines, datasets, recipes, models"
        )
    return listing[what]()


@mini_app.command("train-policy")
def train_policy(
    size: Annotated[str, typer.Option(help="s (small, ~0.65M params) or l (large, ~6x).")] = "s",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the package's shipped model).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
) -> None:
    """Train a miniature policy from scratch on CPU and write an HF model folder."""
    from ttscale.mini.models import model_path
    from ttscale.mini.models import train_policy as train

    target = out or model_path(f"mini-policy-{size}")
    info = _guard(lambda: train(size, target, seed=seed, progress=sys.stderr.isatty()))
    typer.echo(json.dumps(info, indent=2))
    typer.echo(f"saved: {target}")
