"""Accuracy vs N and vs FLOPs, one line per strategy family, one panel per difficulty level.

matplotlib with the Agg backend (no display needed); imported only when plots are written.
Shaded bands are the 95% bootstrap intervals of ``analysis.curves``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ttscale.analysis.curves import CurvePoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PLOTS = {"accuracy_vs_n.png": "n", "accuracy_vs_flops.png": "flops"}


def plot_curves(points: Sequence[CurvePoint], out_dir: Path) -> list[Path]:
    """Write both figures; ``points`` are each strategy's headline-rule points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = ["all", *sorted({p.level for p in points} - {"all"})]
    written = []
    for filename, x in PLOTS.items():
        cols = min(3, len(levels))
        rows = -(-len(levels) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
        for ax, level in zip(axes.flat, levels, strict=False):
            _panel(ax, [p for p in points if p.level == level], x=x)
            ax.set_title("all levels" if level == "all" else f"level {level}")
        for ax in list(axes.flat)[len(levels) :]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / filename
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _panel(ax: Axes, points: Sequence[CurvePoint], *, x: str) -> None:
    families: dict[str, list[CurvePoint]] = defaultdict(list)
    for p in points:
        families[p.family].append(p)
    for family, line in sorted(families.items()):
        line.sort(key=lambda p: p.n)
        xs = [p.n if x == "n" else max(p.flops, 1.0) for p in line]
        ax.plot(xs, [100 * p.accuracy for p in line], marker="o", label=family)
        ax.fill_between(
            xs, [100 * p.ci_low for p in line], [100 * p.ci_high for p in line], alpha=0.2
        )
    ax.set_xscale("log", base=2 if x == "n" else 10)
    ax.set_xlabel("N (generations per problem)" if x == "n" else "FLOPs per problem")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
