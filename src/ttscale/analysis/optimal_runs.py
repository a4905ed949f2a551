"""``ttscale optimal``: compute-optimal TTS over finished runs, and an online selector.

Every stored (strategy, problem) result of every run becomes an :class:`Outcome` named
``<policy>/<strategy>``; difficulty bins come from pass@1 estimated by the run with the most
independent samples per problem (oracle bins, as in the paper §1.3). The online selector instead
estimates difficulty from a cheap probe, the agreement of the first ``probe`` samples of that
run, and picks per estimated bin the configuration a held-out half of the problems found best
(2-fold cross-fitting, so no problem chooses its own configuration).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ttscale.analysis.difficulty import absolute_bins
from ttscale.analysis.optimal import (
    BinChoice,
    Outcome,
    Point,
    bootstrap_ci,
    chosen_correct,
    curve_by_budget,
    efficiency_gain,
    optimal_per_bin,
    points,
)  # fmt: skip
from ttscale.errors import DataError
from ttscale.runs.store import ProblemRecord, RunStore


@dataclass(frozen=True)
class Probe:
    """What the cheap probe saw of one problem: agreement of its first samples, and its cost."""

    agreement: float
    flops: float


@dataclass(frozen=True)
class OptimalReport:
    configs: list[Point]
    bin_sizes: dict[str, int]
    choices: list[BinChoice]
    majority: list[Point]
    optimal: list[Point]
    efficiency_gain: float | None
    budget: float
    online: Point
    oracle: Point | None
    best_single: Point | None


def load_runs(
    run_dirs: Sequence[Path], *, probe: int = 4
) -> tuple[list[Outcome], dict[str, float], dict[str, Probe]]:
    """Outcomes of every run, pass@1 per problem, and the probe of each problem."""
    outcomes: list[Outcome] = []
    sampled: list[ProblemRecord] = []
    for folder in run_dirs:
        if not (folder / "results.sqlite").is_file():
            raise DataError(
                f"{folder} is not a run folder (no results.sqlite): give `ttscale run` folders"
            )
        names = _config_names(folder)
        store = RunStore(folder / "results.sqlite")
        for label in store.strategies():
            records = store.records(label)
            name = names.get(label, label)
            outcomes += [
                Outcome(r.problem_id, name, r.correct, r.flops + r.prm_flops) for r in records
            ]
            if label.startswith("majority") and len(records[0].verdicts) > (
                len(sampled[0].verdicts) if sampled else 0
            ):
                sampled = records
        store.close()
    if not sampled:
        raise DataError("no majority run among the folders: pass@1 and the probe need one")
    pass1 = {r.problem_id: sum(r.verdicts) / max(1, len(r.verdicts)) for r in sampled}
    probes = {r.problem_id: _probe(r, probe) for r in sampled}
    return outcomes, pass1, probes


def _config_names(folder: Path) -> dict[str, str]:
    """Strategy label -> configuration name: ``<policy>/<label>``, and ``/<prm>`` where a PRM
    steered it, so the same search with two verifiers stays two configurations."""
    from ttscale.config import PRM_STRATEGIES, strategy_label
    from ttscale.runs.runner import saved_config

    config = saved_config(folder)
    policy, prm = config.policy.model, config.prm.name if config.prm else None
    return {
        strategy_label(s): f"{policy}/{strategy_label(s)}"
        + (f"/{prm}" if isinstance(s, PRM_STRATEGIES) and prm else "")
        for s in config.strategies
    }


def _probe(record: ProblemRecord, k: int) -> Probe:
    first = [c for c in record.classes[:k] if c >= 0]
    top = Counter(first).most_common(1)[0][1] if first else 0
    return Probe(top / k, record.flops * k / max(1, len(record.classes)))


def probe_bin(agreement: float) -> str:
    """Difficulty from agreement: all probe samples agree → easy; a majority → medium."""
    return "easy" if agreement >= 1.0 else "medium" if agreement >= 0.5 else "hard"


def _fold(pid: str) -> int:
    return hashlib.sha256(pid.encode()).digest()[0] % 2


def online_selector(outcomes: Sequence[Outcome], probes: dict[str, Probe], budget: float) -> Point:
    """Accuracy and FLOPs of choosing per problem from its probe (tables from the other fold)."""
    estimated = {pid: probe_bin(p.agreement) for pid, p in probes.items()}
    by_key = {(o.problem_id, o.config): o for o in outcomes}
    # a bin with nothing affordable falls back to the cheapest configuration overall, so every
    # problem counts (skipping them would flatter the selector)
    cheapest = min(points(outcomes), key=lambda p: p.flops).config
    correct, flops = [], []
    for fold in (0, 1):
        train = {pid: b for pid, b in estimated.items() if _fold(pid) != fold}
        table = {c.bin: c.choice for c in optimal_per_bin(outcomes, train, [budget])}
        for pid, b in estimated.items():
            if _fold(pid) != fold:
                continue
            choice = table.get(b)
            config = choice.config if choice is not None else cheapest
            o = by_key.get((pid, config)) or by_key.get((pid, cheapest))
            correct.append(bool(o and o.correct))
            flops.append((o.flops if o else 0.0) + probes[pid].flops)
    n = max(1, len(correct))
    ci = bootstrap_ci(correct) if correct else None
    return Point("online-selector", sum(correct) / n, sum(flops) / n, len(correct), ci)


def optimal_report(
    outcomes: list[Outcome], pass1: dict[str, float], probes: dict[str, Probe]
) -> OptimalReport:
    bins = absolute_bins(pass1)
    configs = points(outcomes, set(bins))
    budgets = sorted({p.flops for p in configs})
    majority = [p for p in configs if "/majority" in p.config]
    choices = optimal_per_bin(outcomes, bins, budgets)
    by_budget = curve_by_budget(choices, bins)
    optimal = list(by_budget.values())
    best = max(configs, key=lambda p: (p.accuracy, -p.flops))
    best = replace(best, ci=bootstrap_ci([o.correct for o in outcomes if o.config == best.config]))
    oracle = _oracle(outcomes, bins, by_budget, best.flops)
    return OptimalReport(
        configs, dict(Counter(bins.values())), choices, majority, optimal,
        efficiency_gain(majority, optimal) if majority and optimal else None,
        best.flops, online_selector(outcomes, probes, best.flops), oracle, best,
    )  # fmt: skip


def _oracle(
    outcomes: list[Outcome], bins: dict[str, str], by_budget: dict[float, Point], limit: float
) -> Point | None:
    """The most accurate per-bin choice whose mean FLOPs per problem stay within ``limit``.

    A per-bin budget above ``limit`` can still average below it (cheap easy problems pay for
    dearer hard ones), so every budget counts; the interval comes from the chosen budget's
    per-problem choices.
    """
    affordable = {b: p for b, p in by_budget.items() if p.flops <= limit}
    if not affordable:
        return None
    budget = max(affordable, key=lambda b: (affordable[b].accuracy, -affordable[b].flops))
    return replace(affordable[budget], ci=bootstrap_ci(chosen_correct(outcomes, bins, budget)))


def plot_bins(outcomes: list[Outcome], pass1: dict[str, float], out: Path) -> Path:
    """Accuracy vs FLOPs per difficulty bin, every configuration and the frontier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ttscale.analysis.optimal import frontier

    bins = absolute_bins(pass1)
    names = sorted(set(bins.values()))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        pts = points(outcomes, {p for p, b in bins.items() if b == name})
        ax.scatter([p.flops for p in pts], [100 * p.accuracy for p in pts], s=12)
        edge = frontier(pts)
        ax.plot([p.flops for p in edge], [100 * p.accuracy for p in edge], "r-", label="frontier")
        ax.set(xscale="log", title=f"{name} ({sum(b == name for b in bins.values())} problems)",
               xlabel="FLOPs per problem", ylabel="accuracy %")  # fmt: skip
        ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "optimal_by_bin.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def print_report(report: OptimalReport) -> None:
    """The tables and figures `ttscale optimal` prints."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"configurations (bins: {report.bin_sizes})")
    for column in ("configuration", "accuracy", "FLOPs/problem"):
        table.add_column(column)
    for p in report.configs:
        table.add_row(p.config, f"{100 * p.accuracy:.1f}", f"{p.flops:.3g}")
    Console().print(table)
    choices = Table(title="compute-optimal choice per bin and budget")
    for column in ("bin", "budget", "choice", "accuracy"):
        choices.add_column(column)
    for c in report.choices:
        name, acc = (c.choice.config, f"{100 * c.choice.accuracy:.1f}") if c.choice else ("-", "-")
        choices.add_row(c.bin, f"{c.budget:.3g}", name, acc)
    Console().print(choices)
    gain = report.efficiency_gain
    print(f"efficiency gain over majority: {'n/a' if gain is None else f'{gain:.1f}x'}")
    rows: list[tuple[str, Point | None]] = [
        ("online selector", report.online),
        ("oracle per-bin", report.oracle),
        ("best single", report.best_single),
    ]
    for label, q in rows:
        if q is not None:
            ci = f" [{100 * q.ci[0]:.1f}, {100 * q.ci[1]:.1f}]" if q.ci else ""
            print(
                f"{label:16s} at budget {report.budget:.3g}: {100 * q.accuracy:.1f}%{ci} "
                f"({q.flops:.3g} FLOPs/problem)"
            )
