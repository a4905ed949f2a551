"""Answer selection: majority vote over equivalence classes of answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from ttscale.types import Candidate

Cluster = Callable[[Sequence[str]], list[int]]


def majority_vote(candidates: Sequence[Candidate], cluster: Cluster) -> str | None:
    """The answer of the largest equivalence class; ties go to the class seen first.

    Candidates without an extracted answer do not vote; None when no candidate has one.
    """
    answers = [c.answer for c in candidates if c.answer is not None]
    if not answers:
        return None
    classes = cluster(answers)
    counts = Counter(classes)
    best = max(counts, key=lambda k: (counts[k], -classes.index(k)))
    return answers[classes.index(best)]
