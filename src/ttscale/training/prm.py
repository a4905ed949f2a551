"""Training the miniature classifier PRM: P(Yes) at each ``<|step|>`` marker, from step labels.

The PRM is the policy architecture with its LM head read at step markers (the Math-Shepherd /
Qwen2.5-Math-PRM pattern: a token-pair head, softmax over the logits of ``Yes`` and ``No``).
It starts from a trained policy, which already computes arithmetic, so the PRM only has to
learn to compare; the loss is two-way cross-entropy at the markers, nowhere else.
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
from ttscale.training.sft import length_bucketed_batches, lr_factor


@dataclass(frozen=True)
class PRMTrainSettings:
    label_kind: Literal["rpe", "hard"] = "rpe"
    epochs: int = 2
    batch_size: int = 16
    lr: float = 5e-4
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    balance: bool = True
    """Weight the two classes equally: most labeled steps are good ones."""
    seed: int = 0
    bf16: bool = True

    def __post_init__(self) -> None:
        if self.label_kind not in ("rpe", "hard"):
            raise ConfigError(f"label kind must be 'rpe' or 'hard', got {self.label_kind!r}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")


@dataclass(frozen=True)
class PRMExample:
    input_ids: tuple[int, ...]
    markers: tuple[int, ...]
    """Positions of the ``<|step|>`` tokens, one per step; the reward is read there."""
    labels: tuple[int, ...]


def mini_prm_input(tokenizer: Any, question: str, steps: tuple[str, ...]) -> PRMExample:
    """The mini PRM's input, rendered by its spec exactly as scoring renders it."""
    from ttscale.rewards.rendering import render
    from ttscale.rewards.specs import MINI_PRM

    rendered = render(MINI_PRM, tokenizer, question, steps)
    return PRMExample(rendered.input_ids, rendered.read_positions, ())


def prm_examples(tokenizer: Any, solutions: list[LabeledSolution], kind: str) -> list[PRMExample]:
    out = []
    for s in solutions:
        base = mini_prm_input(tokenizer, s.question, s.steps)
        labels = s.rpe if kind == "rpe" else s.hard
        out.append(PRMExample(base.input_ids, base.markers, tuple(labels)))
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


def train_prm_model(
    model: Any, examples: list[PRMExample], *, pad_id: int, pair: tuple[int, int],
    settings: PRMTrainSettings, on_step: Any = None,
) -> dict[str, float]:  # fmt: skip
    """Epochs of two-way CE at the markers; ``pair`` = (Yes id, No id); returns a summary."""
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
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda step: lr_factor(
            step,
            len(batches),
            warmup_steps=settings.warmup_steps,
            min_lr_ratio=settings.min_lr_ratio,
        ),
    )
    head = torch.tensor([pair[1], pair[0]])  # class 0 = No, class 1 = Yes
    model.train()
    loss_ema, began = float("nan"), time.time()
    for step, batch in enumerate(batches):
        ids, mask, rows, cols, labels = _collate(batch, pad_id)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            logits = model.lm_head(hidden[rows, cols])[:, head].float()
        loss = torch.nn.functional.cross_entropy(
            logits, labels, weight=weight if settings.balance else None
        )
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
    return {"steps": len(batches), "positive_share": positives / max(1, total),
            "final_loss": loss_ema, "wall_s": time.time() - began}  # fmt: skip


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

    solutions = read_labels(labels_path)
    if not solutions:
        raise DataError(f"labels file {labels_path} holds no labeled solutions")
    tokenizer = load_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(resolve_model(init))
    examples = prm_examples(tokenizer, solutions, settings.label_kind)
    pair = (tokenizer.convert_tokens_to_ids("Yes"), tokenizer.convert_tokens_to_ids("No"))
    bar = tqdm(desc="train prm", disable=not progress)

    def on_step(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")

    report = train_prm_model(
        model,
        examples,
        pad_id=tokenizer.pad_token_id,
        pair=pair,
        settings=settings,
        on_step=on_step,
    )
    bar.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    info = {"init": init, "labels": str(labels_path), "solutions": len(solutions),
            **asdict(settings), **report}  # fmt: skip
    (out_dir / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
