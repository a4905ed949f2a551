"""Training the miniature GenPRM: SFT on the filtered multi-turn rationale conversations.

Loss is on assistant tokens only (every rationale turn and its end-of-turn token), as GenPRM's
SFT presumably did (reference/genprm.md §7.2). The model starts from a trained mini policy, which
already reads the problem's operations and copies numbers; the context limit is raised to 2048
because a 6-step conversation with its rationales approaches the policy's 1024 (RoPE has no
learned positions, so the longer limit only needs the longer training sequences).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError, DataError
from ttscale.training.sft import SFTExample, SFTSettings, train_sft

MAX_POSITIONS = 2048


@dataclass(frozen=True)
class GenPRMTrainSettings:
    epochs: int = 4
    batch_size: int = 8
    lr: float = 2e-3
    warmup_steps: int = 30
    seed: int = 0
    decision_only: bool = False
    """Loss only on the ``<output>`` blocks (the judgement): a second stage for a tiny model
    that copies the rationale well but leaves the judgement at its prior."""
    repeat_by_steps: tuple[int, ...] = ()
    """Times each conversation is repeated per epoch, by its number of judged steps (entry k-1
    for k steps; the last entry for longer ones; () = once). Rollouts of a weak policy rarely
    finish a hard problem right, so the long all-correct conversations that ProcessBench's
    correct half consists of are few (190 of 8,653 for mini-policy-s) unless repeated."""
    save_every: int = 50
    """Save a checkpoint (``out_dir/checkpoint``) every this many steps, so a run starved of CPU
    can still be evaluated (0: only at the end)."""

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if any(r < 1 for r in self.repeat_by_steps):
            raise ConfigError(f"repeat_by_steps must be >= 1 each, got {self.repeat_by_steps}")

    def repeats(self, steps: int) -> int:
        """How often a conversation judging ``steps`` steps goes into one epoch."""
        if not self.repeat_by_steps:
            return 1
        return self.repeat_by_steps[min(steps, len(self.repeat_by_steps)) - 1]


def conversation_example(
    tokenizer: Any, messages: list[dict[str, str]], *, decision_only: bool = False
) -> SFTExample:
    """Token ids of one rendered chat, with loss on assistant contents and their end tokens.

    The chat is rendered once by the tokenizer's template and tokenized whole (as engines
    tokenize prompts); character offsets then say which tokens lie in assistant turns.
    """
    text = str(tokenizer.apply_chat_template(messages, tokenize=False))
    spans, cursor = [], 0
    for m in messages:
        start = text.index(m["content"], cursor)
        cursor = start + len(m["content"])
        if m["role"] == "assistant" and decision_only:
            block = text.rindex("<output>", start, cursor)
            spans.append((block, cursor))
        elif m["role"] == "assistant":
            end_token = text.find(tokenizer.eos_token or "", cursor)
            spans.append(
                (start, end_token + len(tokenizer.eos_token) if end_token >= 0 else cursor)
            )
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    mask = [any(a <= s and e <= b for a, b in spans) and e > s for s, e in offsets]
    first = mask.index(True) if True in mask else len(ids)
    return SFTExample(tuple(ids[:first]), tuple(ids[first:]), tuple(mask[first:]))


def train_genprm(
    sft_path: Path, out_dir: Path, *, init: str, settings: GenPRMTrainSettings,
    progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """``ttscale train genprm``: SFT from ``ttscale synthesize`` output; saves an HF folder."""
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM

    from ttscale.labeling.rationales import read_sft
    from ttscale.mini.models import load_tokenizer, resolve_model

    conversations = read_sft(sft_path)
    if not conversations:
        raise DataError(f"SFT data {sft_path} holds no conversations")
    tokenizer = load_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(resolve_model(init))
    model.config.max_position_embeddings = MAX_POSITIONS
    examples = [
        conversation_example(tokenizer, c, decision_only=settings.decision_only)
        for c in conversations
        for _ in range(settings.repeats(sum(m["role"] == "user" for m in c)))
    ]
    bar = tqdm(desc="train genprm", disable=not progress)

    def on_step(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if settings.save_every and (step + 1) % settings.save_every == 0:
            _save(model, tokenizer, out_dir / "checkpoint", {"step": step + 1, "of": total,
                                                             "loss": loss})  # fmt: skip

    began = time.time()
    sft = SFTSettings(batch_size=settings.batch_size, lr=settings.lr,
                      warmup_steps=settings.warmup_steps, seed=settings.seed)  # fmt: skip
    report = train_sft(model, examples * settings.epochs, pad_id=tokenizer.pad_token_id,
                       settings=sft, on_step=on_step)  # fmt: skip
    bar.close()
    info = {"init": init, "sft": str(sft_path), "conversations": len(conversations),
            **asdict(settings), **asdict(report), "wall_s": time.time() - began}  # fmt: skip
    _save(model, tokenizer, out_dir, info)
    return info


def _save(model: Any, tokenizer: Any, folder: Path, info: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    (folder / "training.json").write_text(json.dumps(info, indent=2) + "\n")
