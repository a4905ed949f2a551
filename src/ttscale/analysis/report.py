"""A run's outputs people read: metrics.json, summary.md and plots, all from the run store.

Everything here is recomputed from ``results.sqlite`` (answer classes and verdicts are stored),
so ``ttscale report RUN`` rewrites it for a finished or an interrupted run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ttscale.analysis.curves import CurvePoint, CurveSpec, curve_points
from ttscale.analysis.metrics import StrategySummary, summarize
from ttscale.config import (
    BeamSearchConfig,
    CoTConfig,
    DVTSConfig,
    MajorityConfig,
    RefineConfig,
    RunConfig,
    StrategyConfig,
    curve_budgets,
    strategy_label,
)
from ttscale.runs.judge import selection_rule
from ttscale.runs.store import RunStore
from ttscale.search.selection import RULES


@dataclass(frozen=True)
class StrategyReport:
    summary: StrategySummary
    rule: str
    """The headline selection rule."""
    points: tuple[CurvePoint, ...]


def curve_spec(cfg: StrategyConfig) -> CurveSpec:
    """How a strategy's records subsample: units, budgets, which rules apply.

    A subsampled strategy is its own curve; beam searches at several N share one line.
    """
    label, rule = strategy_label(cfg), selection_rule(cfg)
    if isinstance(cfg, (CoTConfig, RefineConfig)):
        return CurveSpec(label, cfg.name, 1, (1,), 1, ("majority",), rule, False)
    if isinstance(cfg, MajorityConfig):
        return CurveSpec(label, label, cfg.n, curve_budgets(cfg), 1, ("majority",), rule, True)
    if isinstance(cfg, BeamSearchConfig):
        family = cfg.name + ("-refill" if cfg.semantics == "refill" else "")
        return CurveSpec(label, family, cfg.n, (cfg.n,), cfg.n, RULES, rule, False)
    unit = cfg.beam_width if isinstance(cfg, DVTSConfig) else 1
    independent = not isinstance(cfg, DVTSConfig)
    return CurveSpec(label, label, cfg.n, curve_budgets(cfg), unit, RULES, rule, independent)


def build_reports(config: RunConfig, store: RunStore) -> list[StrategyReport]:
    """Summary and curve points of every strategy of ``config`` that has stored results."""
    reports = []
    for cfg in config.strategies:
        spec = curve_spec(cfg)
        records = store.records(spec.label)
        points = curve_points(
            records, spec, resamples=config.analysis.resamples, seed=config.seed
        )
        reports.append(StrategyReport(summarize(spec.label, records), spec.headline, tuple(points)))
    return reports


def write_outputs(run_dir: Path, config: RunConfig, reports: Sequence[StrategyReport]) -> None:
    """metrics.json, summary.md and (if configured) the PNG plots, into ``run_dir``."""
    metrics = [
        {
            **asdict(r.summary),
            "selection": r.rule,
            "rules": {p.rule: p.accuracy for p in r.points if p.level == "all" and p.n == _n(r)},
            "curve": [asdict(p) for p in r.points],
        }
        for r in reports
    ]
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", "utf-8")
    (run_dir / "summary.md").write_text(summary_markdown(config, reports), "utf-8")
    if config.analysis.plots:
        from ttscale.analysis.plots import plot_curves

        plot_curves([p for r in reports for p in r.points if p.rule == r.rule], run_dir)


def _n(report: StrategyReport) -> int:
    return max((p.n for p in report.points), default=0)


def _headline(report: StrategyReport, level: str = "all") -> CurvePoint | None:
    n = _n(report)
    found = [p for p in report.points if p.n == n and p.rule == report.rule and p.level == level]
    return found[0] if found else None


def _pct(p: CurvePoint | None, ci: bool = True) -> str:
    if p is None:
        return "-"
    return f"{100 * p.accuracy:.1f}" + (
        f" [{100 * p.ci_low:.1f}, {100 * p.ci_high:.1f}]" if ci else ""
    )


def summary_markdown(config: RunConfig, reports: Sequence[StrategyReport]) -> str:
    """The run's results as markdown: headline table, scaling table, every selection rule."""
    levels = sorted({p.level for r in reports for p in r.points if p.level != "all"})
    prm = config.prm.name if config.prm else "none"
    lines = [
        f"# {config.name}: {config.data.dataset}, policy {config.policy.model}, PRM {prm}",
        "",
        "Accuracy in % with 95% bootstrap intervals; FLOPs = 2 x parameters x tokens.",
        "",
        "| strategy | rule | " + " | ".join(f"L{lv}" for lv in levels)
        + (" | " if levels else "") + "overall | pass@n | policy FLOPs | PRM FLOPs | failures |",
        "|---|---|" + "---|" * len(levels) + "---|---|---|---|---|",
    ]
    for r in reports:
        s = r.summary
        cells = [_pct(_headline(r, lv), ci=False) for lv in levels]
        lines.append(
            f"| {s.strategy} | {r.rule} | " + "".join(f"{c} | " for c in cells)
            + f"{_pct(_headline(r))} | {100 * s.any_correct:.1f} | {s.flops:.3g} | "
            f"{s.prm_flops:.3g} | {s.failures} |"
        )
    lines += ["", "## Accuracy vs N", "", "| strategy | N | accuracy | pass@N | FLOPs/problem |",
              "|---|---|---|---|---|"]
    for r in reports:
        for p in r.points:
            if p.rule == r.rule and p.level == "all":
                pak = "-" if p.pass_at_k is None else f"{100 * p.pass_at_k:.1f}"
                lines.append(f"| {p.strategy} | {p.n} | {_pct(p)} | {pak} | {p.flops:.3g} |")
    ruled = [r for r in reports if len({p.rule for p in r.points}) > 1]
    if ruled:
        lines += ["", "## Every selection rule at the largest N", "",
                  "| strategy | " + " | ".join(RULES) + " |", "|---|" + "---|" * len(RULES)]
        for r in ruled:
            acc = {p.rule: p for p in r.points if p.level == "all" and p.n == _n(r)}
            lines.append(f"| {r.summary.strategy} | "
                         + " | ".join(_pct(acc.get(rule), ci=False) for rule in RULES) + " |")
    return "\n".join(lines) + "\n"
