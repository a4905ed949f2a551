"""``ttscale`` commands that train models and build their data (registered on the apps of
:mod:`ttscale.cli` when it imports this module; split out to keep both modules small)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ttscale.cli import SetOpt, _guard, app, mini_app, train_app
from ttscale.errors import ConfigError


@mini_app.command("train-policy")
def train_policy(
    size: Annotated[str, typer.Option(help="s (small, 0.30M params) or l (large, 3.03M).")] = "s",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the package's shipped model).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Training seed (default: the shipped model's, s 0, l 1).")
    ] = None,
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
    init: Annotated[str, typer.Option(help="Model to start from.")] = "mini-policy-l",
    epochs: Annotated[int, typer.Option(help="Passes over the labeled solutions.")] = 1,
    lr: Annotated[
        float, typer.Option(help="Peak learning rate of the model (cosine decay); 0 freezes it.")
    ] = 2e-5,
    balance: Annotated[
        bool, typer.Option(help="Weight good and bad steps equally in the loss.")
    ] = False,
    through_first_error: Annotated[
        bool,
        typer.Option(
            "--through-first-error/--all-steps",
            help="Train on steps up to each solution's first bad one, or on all steps.",
        ),
    ] = True,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
) -> None:
    """Train the miniature classifier PRM (Yes/No at each step marker plus the surprise term)
    from step labels."""
    from ttscale.mini.models import model_path
    from ttscale.training.prm import PRMTrainSettings
    from ttscale.training.prm import train_prm as train

    target = out or model_path("mini-prm")
    settings = _guard(
        lambda: PRMTrainSettings(
            label_kind=label_kind,
            epochs=epochs,
            lr=lr,
            balance=balance,
            through_first_error=through_first_error,
            seed=seed,
        )
    )
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


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(
            f"{option} must be comma-separated integers (e.g. 1,1,2), got {text!r}"
        ) from None


@train_app.command("genprm")
def train_genprm(
    sft: Annotated[Path, typer.Option(help="Conversations JSONL written by `ttscale synthesize`.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the package's mini-genprm).")
    ] = None,
    init: Annotated[str, typer.Option(help="Model to start from.")] = "mini-policy-l",
    epochs: Annotated[int, typer.Option(help="Passes over the conversations.")] = 2,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine schedule).")] = 1e-3,
    repeat_by_steps: Annotated[
        str,
        typer.Option(
            help="Repeats per epoch by judged steps, comma-separated (entry k for k steps, "
            "the last for longer), e.g. 1,1,1,2,4; empty: each once."
        ),
    ] = "1,1,1,2,4",
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
        lambda: GenPRMTrainSettings(
            epochs=epochs, lr=lr, seed=seed, decision_only=decision_only,
            repeat_by_steps=_int_list(repeat_by_steps, "--repeat-by-steps"),
        )
    )  # fmt: skip
    info = _guard(
        lambda: train(sft, target, init=init, settings=settings, progress=sys.stderr.isatty())
    )
    typer.echo(json.dumps(info, indent=2))
    typer.echo(f"saved: {target}")


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
