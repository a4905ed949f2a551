"""Step-score reductions: one solution's per-step rewards -> one score.

The compute-optimal TTS paper scores finished solutions with PRM-Min, PRM-Last and PRM-Avg
(reference/tts-frameworks.md §2.5); search-and-learn adds the product (§3.4). Search-time node
values use "last" (§0, fact 3). The public code counts an empty score list as -1.0; we refuse it
instead, because a solution with no scored step is a bug upstream, not a very bad solution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from ttscale.errors import ConfigError, DataError

Aggregation = Literal["last", "min", "avg", "prod"]

_REDUCTIONS: dict[str, Callable[[Sequence[float]], float]] = {
    "last": lambda rewards: rewards[-1],
    "min": min,
    "avg": lambda rewards: math.fsum(rewards) / len(rewards),
    "prod": math.prod,
}
AGGREGATIONS: tuple[str, ...] = tuple(_REDUCTIONS)


def aggregate(rewards: Sequence[float], how: str) -> float:
    """Reduce one solution's step rewards to one score.

    Args:
        rewards: the rewards of the solution's steps, in order (at least one).
        how: "last", "min", "avg" or "prod".

    Raises:
        ConfigError: ``how`` is not one of the four reductions.
        DataError: ``rewards`` is empty.

    Example:
        >>> aggregate([0.9, 0.5, 0.8], "min")
        0.5
    """
    reduce = _REDUCTIONS.get(how)
    if reduce is None:
        raise ConfigError(
            f"step-score aggregation {how!r} is unknown; allowed: {', '.join(AGGREGATIONS)}"
        )
    if len(rewards) == 0:
        raise DataError(f"cannot aggregate an empty list of step rewards with {how!r}")
    return float(reduce(rewards))
