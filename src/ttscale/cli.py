"""The ``ttscale`` command line: thin commands that build a config and call the library."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

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
    what: Annotated[
        str, typer.Argument(help="strategies, engines, datasets, processbench, recipes or models")
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
    if what == "datasets":
        from ttscale.data.datasets import datasets

        return datasets.names()
    if what == "processbench":
        from ttscale.data.processbench import processbench_sets

        return processbench_sets.names()
    listing = {"recipes": recipe_names, "models": shipped_models}
    if what not in listing:
        raise ConfigError(
            f"cannot list {what!r}: allowed are strategies, engines, datasets, processbench, "
            "recipes, models"
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


@app.command()
def label(
    out: Annotated[Path, typer.Option(help="Labels JSONL to write (appended; reruns resume).")],
    overrides: SetOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Roll out a policy, estimate Monte-Carlo values per step, write RPE and hard labels.

    Keys (`--set key=value`): policy.model, data.dataset, data.limit, samples_per_problem,
    paths_per_problem, k_schedule, epsilon, continuation, seed ... (see LabelConfig).
    """
    from ttscale.config import apply_override, validate_as
    from ttscale.labeling.config import LabelConfig
    from ttscale.labeling.rollouts import label as run_label

    def build() -> LabelConfig:
        data: dict[str, Any] = LabelConfig().model_dump(mode="json")
        for assignment in overrides or []:
            apply_override(data, assignment)
        return validate_as(LabelConfig, data)

    cfg = _guard(build)
    report = _guard(lambda: run_label(cfg, out_path=out, progress=progress))
    typer.echo(
        f"{report.problems} problems, {report.solutions} labeled solutions "
        f"in {report.wall_s:.0f} s: {report.path}"
    )


@train_app.command("prm")
def train_prm(
    labels: Annotated[Path, typer.Option(help="Labels JSONL written by `ttscale label`.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the package's mini-prm).")
    ] = None,
    label_kind: Annotated[
        Literal["rpe", "hard"], typer.Option("--labels-kind", help="rpe or hard.")
    ] = "rpe",
    init: Annotated[str, typer.Option(help="Model to start from.")] = "mini-policy-s",
    epochs: Annotated[int, typer.Option(help="Passes over the labeled solutions.")] = 2,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
) -> None:
    """Train the miniature classifier PRM (P(Yes) at each <|step|> marker) from step labels."""
    from ttscale.mini.models import model_path
    from ttscale.training.prm import PRMTrainSettings
    from ttscale.training.prm import train_prm as train

    target = out or model_path("mini-prm")
    settings = _guard(lambda: PRMTrainSettings(label_kind=label_kind, epochs=epochs, seed=seed))
    info = _guard(
        lambda: train(labels, target, init=init, settings=settings, progress=sys.stderr.isatty())
    )
    typer.echo(json.dumps(info, indent=2))
    typer.echo(f"saved: {target}")


@app.command()
def synthesize(
    labels: Annotated[Path, typer.Option(help="Labels JSONL written by `ttscale label`.")],
    out: Annotated[Path, typer.Option(help="SFT conversations JSONL to write.")],
    sandbox: Annotated[str, typer.Option(help="Sandbox backend (bwrap, rlimits-only).")] = "bwrap",
) -> None:
    """Teacher rationales with executed code per step, consensus filter vs RPE, SFT export."""
    from ttscale.labeling.rationales import synthesize_file
    from ttscale.sandbox import SandboxConfig

    report = _guard(
        lambda: synthesize_file(labels, out, sandbox_cfg=SandboxConfig(backend=sandbox))
    )
    typer.echo(
        f"{report.solutions} solutions, kept {report.kept} ({100 * report.kept_share:.1f}%) "
        f"by consensus: {report.out_path}"
    )


@train_app.command("genprm")
def train_genprm(
    sft: Annotated[Path, typer.Option(help="Conversations JSONL written by `ttscale synthesize`.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the package's mini-genprm).")
    ] = None,
    init: Annotated[str, typer.Option(help="Model to start from.")] = "mini-policy-s",
    epochs: Annotated[int, typer.Option(help="Passes over the conversations.")] = 4,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    decision_only: Annotated[
        bool, typer.Option(help="Loss only on the <output> judgement blocks.")
    ] = False,
) -> None:
    """Train the miniature GenPRM: SFT on assistant tokens of the rationale conversations."""
    from ttscale.mini.models import model_path
    from ttscale.training.genprm import GenPRMTrainSettings
    from ttscale.training.genprm import train_genprm as train

    target = out or model_path("mini-genprm")
    settings = _guard(
        lambda: GenPRMTrainSettings(epochs=epochs, seed=seed, decision_only=decision_only)
    )
    info = _guard(
        lambda: train(sft, target, init=init, settings=settings, progress=sys.stderr.isatty())
    )
    typer.echo(json.dumps(info, indent=2))
    typer.echo(f"saved: {target}")


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


@mini_app.command("build-processbench")
def build_processbench(
    out: Annotated[
        Path | None, typer.Option(help="Output .jsonl (default: the package's shipped file).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling and selection seed.")] = 0,
    per_class: Annotated[int, typer.Option(help="Right and wrong solutions per level.")] = 50,
) -> None:
    """Sample the mini policies and write mini-processbench with exact first-error labels."""
    from dataclasses import asdict

    from ttscale.mini.processbench import DEFAULT_PATH, BuildSettings, build, write_jsonl

    settings = BuildSettings(seed=seed, per_class=per_class)
    report = _guard(lambda: build(settings, progress=sys.stderr.isatty()))
    path = write_jsonl(report.solutions, out or DEFAULT_PATH)
    pools = {name: asdict(pool) for name, pool in report.pools.items()}
    typer.echo(json.dumps({"pools": pools, "left_out": report.left_out}, indent=1))
    typer.echo(f"kept {len(report.solutions)} solutions")
    typer.echo(f"saved: {path}")
