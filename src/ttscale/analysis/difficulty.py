"""Difficulty of a problem for a policy, from its pass@1 estimated with many samples.

Two binnings (reference/tts-frameworks.md §1.3): the compute-optimal-TTS paper's absolute
thresholds (easy >= 50%, medium 10-50%, hard < 10%), and search-and-learn's five quantile levels
(``compute_level``: level 1 holds the problems with the highest pass@1).
"""

from __future__ import annotations

from collections.abc import Mapping

from ttscale.errors import ConfigError

BINS = ("easy", "medium", "hard")
EASY_AT, HARD_BELOW = 0.5, 0.1


def absolute_bin(pass1: float) -> str:
    """The paper's bin of one problem: easy [50%, 100%], medium [10%, 50%), hard [0%, 10%)."""
    if not 0.0 <= pass1 <= 1.0:
        raise ConfigError(f"pass@1 must be in [0, 1], got {pass1!r}")
    if pass1 >= EASY_AT:
        return "easy"
    return "medium" if pass1 >= HARD_BELOW else "hard"


def absolute_bins(pass1: Mapping[str, float]) -> dict[str, str]:
    return {pid: absolute_bin(p) for pid, p in pass1.items()}


def quantile_levels(pass1: Mapping[str, float], levels: int = 5) -> dict[str, int]:
    """search-and-learn's levels: equal-count quantiles of pass@1, 1 = easiest.

    Ties are kept together by ranking on (pass@1, id), so the split is deterministic.
    """
    if levels < 1:
        raise ConfigError(f"levels must be >= 1, got {levels}")
    order = sorted(pass1, key=lambda pid: (-pass1[pid], pid))
    return {pid: 1 + (rank * levels) // max(1, len(order)) for rank, pid in enumerate(order)}
