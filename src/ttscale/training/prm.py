"""Training the miniature classifier PRM from step labels.

The PRM is the policy architecture with its LM head read at step markers (the Math-Shepherd /
Qwen2.5-Math-PRM pattern: a token-pair head, the logits of ``Yes`` and ``No``), plus the
surprise term of :mod:`ttscale.rewards.surprise` (weight x the step's least token
log-probability + bias). It starts from a trained policy, which already computes arithmetic.
The loss is binary cross-entropy of each step's logit against its label; its gradient reaches
the model both at the markers and, through the min, at each step's least likely token.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ttscale.errors import ConfigError, DataError
from ttscale.labeling.rollouts import LabeledSolution, read_labels
from ttscale.rewards.surprise import SurpriseHead
from ttscale.training.sft import length_bucketed_batches, lr_factor


@dataclass(frozen=True)
class PRMTrainSettings:
    label_kind: Literal["rpe", "hard"] = "rpe"
    epochs: int = 1
    batch_size: int = 16
    lr: float = 2e-5
    """Of the model; a small one, because the policy's log-probabilities already rank steps
    (0 freezes the model and trains the two surprise scalars only)."""
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    balance: bool = False
    """Weight the two classes equally. Off: a correct solution of n steps passes only if all n
    do, so false alarms cost more than the class ratio says (mini-processbench F1 88 vs 84)."""
    seed: int = 0
    bf16: bool = True
    head_lr: float = 1e-2
    """Peak learning rate of the surprise weight and bias (two scalars: they move faster)."""
    through_first_error: bool = True
    """Train on each solution's steps up to its first label-0 step only: a later step's label
    says the solution is lost, not that the step itself is wrong, and a verifier that learns the
    latter flags correct steps (mini-processbench F1 1.0 with all steps, README)."""

    def __post_init__(self) -> None:
        if self.label_kind not in ("rpe", "hard"):
            raise ConfigError(f"label kind must be 'rpe' or 'hard', got {self.label_kind!r}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.lr < 0 or self.head_lr < 0:
            raise ConfigError(f"lr and head_lr must be >= 0, got {self.lr} and {self.head_lr}")


@dataclass(frozen=True)
class PRMExample:
    input_ids: tuple[int, ...]
    markers: tuple[int, ...]
    """Positions of the ``<|step|>`` tokens, one per step; the reward is read there."""
    labels: tuple[int, ...]
    step_spans: tuple[tuple[int, int], ...] = ()
    """Token [start, end) of each step's text, for the surprise term."""


def mini_prm_input(tokenizer: Any, question: str, steps: tuple[str, ...]) -> PRMExample:
    """The mini PRM's input, rendered by its spec exactly as scoring renders it."""
    from ttscale.rewards.rendering import render
    from ttscale.rewards.specs import MINI_PRM

    rendered = render(MINI_PRM, tokenizer, question, steps)
    return PRMExample(rendered.input_ids, rendered.read_positions, (), rendered.step_spans)


def prm_examples(
    tokenizer: Any, solutions: list[LabeledSolution], kind: str, *, through_first_error: bool
) -> list[PRMExample]:
    """One example per solution; with ``through_first_error`` its steps end at the first
    label-0 one (the input is cut after that step's marker: later tokens change nothing)."""
    out = []
    for s in solutions:
        base = mini_prm_input(tokenizer, s.question, s.steps)
        labels = tuple(s.rpe if kind == "rpe" else s.hard)
        keep = len(labels)
        if through_first_error and 0 in labels:
            keep = labels.index(0) + 1
        ids = base.input_ids[: base.markers[keep - 1] + 1] if keep < len(labels) else base.input_ids
        out.append(PRMExample(ids, base.markers[:keep], labels[:keep], base.step_spans[:keep]))
    return out


def _collate(batch: list[PRMExample], pad_id: int) -> tuple[Any, ...]:
    import torch

    width = -(-max(len(e.input_ids) for e in batch) // 32) * 32  # see training/sft.py collate
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    rows, cols, labels = [], [], []
    for r, e in enumerate(batch):
        ids[r, : len(e.input_ids)] = torch.tensor(e.input_ids)
        mask[r, : len(e.input_ids)] = 1
        rows += [r] * len(e.markers)
        cols += list(e.markers)
        labels += list(e.labels)
    return ids, mask, torch.tensor(rows), torch.tensor(cols), torch.tensor(labels)


def _step_logits(
    model: Any, batch: list[PRMExample], tensors: tuple[Any, ...], pair: Any, scalars: Any | None
) -> Any:
    """Each step's logit: Yes - No at its marker, plus the surprise term when ``scalars``
    (weight, bias) is given."""
    from ttscale.rewards.surprise import step_logit

    ids, mask, rows, cols = tensors
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    logits = model.lm_head(hidden[rows, cols])[:, pair].float()
    margin = logits[:, 0] - logits[:, 1]
    if scalars is None:
        return margin
    spans = [e.step_spans for e in batch]
    return step_logit(margin, hidden, model.lm_head, ids, spans, weight=scalars[0], bias=scalars[1])


def train_prm_model(
    model: Any, examples: list[PRMExample], *, pad_id: int, pair: tuple[int, int],
    settings: PRMTrainSettings, surprise: bool = True, on_step: Any = None,
) -> tuple[dict[str, float], SurpriseHead | None]:  # fmt: skip
    """Epochs of weighted binary CE on each step's logit; ``pair`` = (Yes id, No id).

    Returns a summary and, with ``surprise``, the trained weight and bias of the surprise term.
    """
    import torch

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    batches = [
        b
        for _ in range(settings.epochs)
        for b in length_bucketed_batches(
            examples, settings.batch_size, rng, length=lambda e: len(e.input_ids)
        )
    ]
    positives = sum(sum(e.labels) for e in examples)
    total = sum(len(e.labels) for e in examples)
    # class weights (No, Yes) so each class carries half the loss
    weight = torch.tensor(
        [total / (2 * max(1, total - positives)), total / (2 * max(1, positives))]
    )
    # weight 1, bias 0: the surprise enters at its natural scale (log-probabilities)
    scalars = torch.nn.Parameter(torch.tensor([1.0, 0.0])) if surprise else None
    groups = [{"params": list(model.parameters()), "lr": settings.lr}]
    if scalars is not None:
        groups.append({"params": [scalars], "lr": settings.head_lr, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda step: lr_factor(
            step,
            len(batches),
            warmup_steps=settings.warmup_steps,
            min_lr_ratio=settings.min_lr_ratio,
        ),
    )
    pair_ids = torch.tensor(pair)
    model.train()
    loss_ema, began = float("nan"), time.time()
    for step, batch in enumerate(batches):
        ids, mask, rows, cols, labels = _collate(batch, pad_id)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            logits = _step_logits(model, batch, (ids, mask, rows, cols), pair_ids, scalars)
        w = weight[labels] if settings.balance else torch.ones(len(labels))
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), labels.float(), reduction="none"
        )
        loss = (w * bce).sum() / w.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        value = float(loss.detach())
        loss_ema = value if math.isnan(loss_ema) else 0.95 * loss_ema + 0.05 * value
        if on_step is not None:
            on_step(step, len(batches), loss_ema)
    model.eval()
    fitted = None if scalars is None else scalars.detach().tolist()
    head = None if fitted is None else SurpriseHead(weight=fitted[0], bias=fitted[1])
    return {"steps": len(batches), "positive_share": positives / max(1, total),
            "final_loss": loss_ema, "wall_s": time.time() - began}, head  # fmt: skip


def train_prm(
    labels_path: Path,
    out_dir: Path,
    *,
    init: str,
    settings: PRMTrainSettings,
    progress: bool = True,
) -> dict[str, Any]:
    """``ttscale train prm``: train from a labels file and save an HF model folder."""
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM

    from ttscale.mini.models import load_tokenizer, resolve_model
    from ttscale.rewards.specs import MINI_PRM

    solutions = read_labels(labels_path)
    if not solutions:
        raise DataError(f"labels file {labels_path} holds no labeled solutions")
    tokenizer = load_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(resolve_model(init))
    examples = prm_examples(
        tokenizer, solutions, settings.label_kind, through_first_error=settings.through_first_error
    )
    pair = (tokenizer.convert_tokens_to_ids("Yes"), tokenizer.convert_tokens_to_ids("No"))
    bar = tqdm(desc="train prm", disable=not progress)

    def on_step(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")

    report, head = train_prm_model(
        model,
        examples,
        pad_id=tokenizer.pad_token_id,
        pair=pair,
        settings=settings,
        surprise=MINI_PRM.surprise,
        on_step=on_step,
    )
    bar.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    if head is not None:
        head.save(out_dir)
    info = {"init": init, "labels": str(labels_path), "solutions": len(solutions),
            **asdict(settings), **report,
            "surprise": None if head is None else asdict(head)}  # fmt: skip
    (out_dir / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
