"""The ProcessRewardModel protocol and the data it exchanges (DESIGN.md "Interfaces").

A PRM scores flat batches: one :class:`ScoreRequest` per solution (its question and steps), one
:class:`StepScores` back per request with exactly one reward in [0, 1] per step. Classifier PRMs
and GenPRM both satisfy the protocol, so every strategy works with either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ttscale.types import Usage


@dataclass(frozen=True)
class ScoreRequest:
    """One solution to score: the problem text and its steps (already split at ``"\\n\\n"``)."""

    question: str
    steps: tuple[str, ...]
    stop_below: float | None = None
    """Stop scoring at the first step whose reward falls below this (ProcessBench only needs the
    first error); later steps then get reward 0.0 and ``StepScores.scored`` says how many were
    really scored. None scores every step."""


@dataclass(frozen=True)
class StepScores:
    """The rewards of one solution's steps, one per step, each in [0, 1]."""

    rewards: tuple[float, ...]
    usage: Usage = field(default_factory=Usage)
    scored: int | None = None
    """How many leading steps were really scored (None: all of them)."""
    error: str | None = None
    """Why this solution could not be scored (e.g. longer than the PRM's context); rewards is
    then empty. A per-sample failure, recorded rather than raised, so one bad sample does not
    stop a batch."""


@runtime_checkable
class ProcessRewardModel(Protocol):
    """Scores every step of every solution in one call (batch in, batch out)."""

    @property
    def name(self) -> str: ...

    @property
    def num_parameters(self) -> int:
        """For FLOPs = 2 x parameters x tokens (reference/tts-frameworks.md §1.4)."""
        ...

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]: ...
