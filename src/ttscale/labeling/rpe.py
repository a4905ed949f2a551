"""Step labels from Monte-Carlo estimates: Relative Progress Estimation and hard labels.

reference/genprm.md §7.1: MC(s_t, a_t) is the fraction of rollouts from step t's prefix that
reach the right answer. RPE (GenPRM Eq. 10-11) labels a step by the progress it makes relative
to the state before it, P_t = MC(s_t, a_t) / MC(s_t) with MC(s_t) = MC(s_{t-1}, a_{t-1}) and
MC(s_1) = the problem's estimated pass@1, label 1 iff P_t >= epsilon (0.8 is the paper's best).
"""

from __future__ import annotations

from collections.abc import Sequence

from ttscale.errors import ConfigError

DEFAULT_EPSILON = 0.8
DEFAULT_K_SCHEDULE = (128, 64, 32)
"""Rollouts per step when MC(s_1) < 0.1, in [0.1, 0.9), and >= 0.9 (GenPRM's dynamic K)."""


def zero_after_first_zero(mc: Sequence[float]) -> list[float]:
    """Once a step's MC is 0, every later step's MC is 0 too (GenPRM §3.2: the path is dead)."""
    out: list[float] = []
    dead = False
    for value in mc:
        dead = dead or value == 0.0
        out.append(0.0 if dead else float(value))
    return out


def rpe_labels(mc: Sequence[float], pass1: float, *, epsilon: float = DEFAULT_EPSILON) -> list[int]:
    """RPE label of every step from its MC estimate and the problem's pass@1.

    P_t = 0 when the denominator is 0 after a zero step (reference §7.1, inferred). A step with
    MC > 0 on a problem whose estimated pass@1 is 0 made progress from nothing: label 1.
    """
    if not 0.0 < epsilon <= 1.0:
        raise ConfigError(f"epsilon must be in (0, 1], got {epsilon!r}")
    values = zero_after_first_zero(mc)
    labels: list[int] = []
    previous = pass1
    for value in values:
        labels.append(int(_progress(value, previous) >= epsilon))
        previous = value
    return labels


def _progress(value: float, previous: float) -> float:
    if previous > 0.0:
        return value / previous
    return float("inf") if value > 0.0 else 0.0


def hard_labels(mc: Sequence[float]) -> list[int]:
    """The baseline rule: label 1 iff some rollout from the step still succeeds (MC > 0)."""
    return [int(v > 0.0) for v in zero_after_first_zero(mc)]


def dynamic_k(pass1: float, schedule: Sequence[int] = DEFAULT_K_SCHEDULE) -> int:
    """Rollouts per step: more where success is rare, so low MC values are resolved."""
    if len(schedule) != 3 or min(schedule) < 1:
        raise ConfigError(f"k_schedule must be 3 positive counts, got {tuple(schedule)}")
    if pass1 < 0.1:
        return schedule[0]
    return schedule[1] if pass1 < 0.9 else schedule[2]
