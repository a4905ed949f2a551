"""The surprise term of a classifier PRM: how unlikely the model finds a step's least likely token.

A PRM started from a policy already "knows" the arithmetic: mini-policy-l's own log-probability
of a step's tokens ranks correct steps above first errors at AUC 0.99, while a head read at the
step marker alone learned only AUC 0.53-0.61 from one label per step (README, issue 3). With
``PRMSpec.surprise`` the step logit becomes

    z_k = (logit_Yes - logit_No at marker k) + weight * min_{t in step k} log p(y_t | y_<t) + bias

and the reward is sigmoid(z_k). The Yes/No part is the usual token-pair head; ``weight`` and
``bias`` are two scalars trained with the model (``ttscale train prm``) and saved beside it in
``prm_head.json``. With weight = bias = 0 the head is exactly the token-pair head. Training
through the min also teaches the model itself, token by token, to find a wrong step unlikely
(multiple-instance learning: a step is wrong iff one of its tokens is).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ttscale.errors import EngineError

HEAD_FILE = "prm_head.json"
Span = tuple[int, int]


@dataclass(frozen=True)
class SurpriseHead:
    """The two scalars of the surprise term (see the module docstring)."""

    weight: float = 0.0
    bias: float = 0.0

    @classmethod
    def load(cls, folder: str | Path) -> SurpriseHead:
        path = Path(folder) / HEAD_FILE
        try:
            raw = json.loads(path.read_text())
            return cls(weight=float(raw["weight"]), bias=float(raw["bias"]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise EngineError(
                f"PRM folder {folder} has no valid {HEAD_FILE} ({type(e).__name__}: {e}); a "
                "surprise PRM needs the weight and bias that `ttscale train prm` writes there"
            ) from e

    def save(self, folder: str | Path) -> None:
        (Path(folder) / HEAD_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")


@dataclass(frozen=True)
class StepTokenIndex:
    """Flat index of every scored token: it is predicted at (row, col) and belongs to ``step``."""

    rows: list[int]
    cols: list[int]
    steps: list[int]
    n_steps: int


def step_token_index(spans: Sequence[Sequence[Span]]) -> StepTokenIndex:
    """Index the tokens of every step of every row; steps are numbered flat, row by row.

    A token at position t is predicted by the logits at t - 1, so position 0 is never scored.

    Example:
        >>> i = step_token_index([[(3, 5)], [(1, 2), (4, 5)]])
        >>> i.rows, i.cols, i.steps, i.n_steps
        ([0, 0, 1, 1], [2, 3, 0, 3], [0, 0, 1, 2], 3)
    """
    rows: list[int] = []
    cols: list[int] = []
    steps: list[int] = []
    flat = 0
    for row, row_spans in enumerate(spans):
        for start, end in row_spans:
            for t in range(max(start, 1), end):
                rows.append(row)
                cols.append(t - 1)
                steps.append(flat)
            flat += 1
    return StepTokenIndex(rows, cols, steps, flat)


def step_min_logprob(hidden: Any, lm_head: Any, ids: Any, index: StepTokenIndex) -> Any:
    """Per step (flat), the least log-probability the model gives one of its tokens; 0.0 for a
    step without tokens. Only the scored positions go through the LM head."""
    import torch

    device = hidden.device
    rows = torch.tensor(index.rows, dtype=torch.long, device=device)
    cols = torch.tensor(index.cols, dtype=torch.long, device=device)
    out = torch.zeros(index.n_steps, device=device)
    if not index.rows:
        return out
    logp = lm_head(hidden[rows, cols]).float().log_softmax(-1)
    token_lp = logp.gather(1, ids[rows, cols + 1].unsqueeze(1)).squeeze(1)
    steps = torch.tensor(index.steps, dtype=torch.long, device=device)
    return out.scatter_reduce(0, steps, token_lp, reduce="amin", include_self=False)


def step_logit(
    margin: Any,
    hidden: Any,
    lm_head: Any,
    ids: Any,
    spans: Sequence[Sequence[Span]],
    *,
    weight: Any,
    bias: Any,
) -> Any:
    """z_k of the module docstring, flat over the rows' steps: ``margin`` (Yes - No at each
    marker) + weight x the step's least token log-probability + bias. Scoring passes floats,
    training the trainable scalars."""
    surprise = step_min_logprob(hidden, lm_head, ids, step_token_index(spans))
    return margin + weight * surprise + bias
