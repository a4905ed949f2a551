"""The shipped miniature models: where they live, their sizes, and how they are trained.

Models are normal HF folders (LlamaForCausalLM + tokenizer), loadable by transformers and vLLM.
``ttscale mini train-policy --size s|l`` rebuilds a policy from scratch on CPU.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ttscale.errors import ConfigError
from ttscale.mini import task
from ttscale.training.sft import SFTExample, SFTSettings, train_sft

MODELS_DIR = Path(__file__).parent / "models"
TOKENIZER_DIR = MODELS_DIR / "tokenizer"


@dataclass(frozen=True)
class PolicySize:
    hidden: int
    layers: int
    heads: int
    ffn: int
    examples: int
    lr: float
    batch_size: int = 16
    level_weights: tuple[int, ...] = (6, 5, 4, 3, 2)
    """Training mix of levels 1-5: weighted to the short problems, where arithmetic is learned
    first and steps are cheap (an even mix left a 0.65M model at 1% after 96k examples)."""
    seed: int = 0
    """The shipped model's seed. Level 4 accuracy, where l's margin over s is made, moves by
    +-10 points between seeds (README), so the seed is part of the recipe."""


# l is 9.97x larger than s. Small batches matter most: at batch 64 neither model learned
# arithmetic in 25 min (1% CoT); at batch 16 on 96k distinct problems s reaches 53.8% and l
# 70.6% on mini-500 (see README).
POLICY_SIZES: dict[str, PolicySize] = {
    "s": PolicySize(
        hidden=64, layers=4, heads=4, ffn=256, examples=96_000, lr=2e-3, batch_size=16
    ),
    "l": PolicySize(
        hidden=192, layers=5, heads=6, ffn=752, examples=96_000, lr=1e-3, batch_size=16, seed=1
    ),
}


def model_path(name: str) -> Path:
    """Folder of a shipped miniature model, e.g. ``mini-policy-s``."""
    return MODELS_DIR / name


def shipped_models() -> list[str]:
    """Names of the miniature models inside the package."""
    return sorted(p.name for p in MODELS_DIR.glob("mini-*") if (p / "config.json").is_file())


def resolve_model(name: str) -> str:
    """A shipped mini model name -> its folder; anything else (path, Hub id) is kept as is."""
    if (MODELS_DIR / name / "config.json").is_file():
        return str(MODELS_DIR / name)
    if name.startswith("mini-") and not Path(name).exists():
        raise ConfigError(
            f"unknown miniature model {name!r}: shipped are {', '.join(shipped_models())}"
        )
    return name


def load_tokenizer(path: Path = TOKENIZER_DIR) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def policy_examples(tokenizer: Any, problems: list[task.MiniProblem]) -> list[SFTExample]:
    """Chat-formatted (user: problem, assistant: reference solution) pairs."""
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p.text}], tokenize=False, add_generation_prompt=True
        )
        for p in problems
    ]
    answers = [p.solution() + tokenizer.eos_token for p in problems]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answers, add_special_tokens=False)["input_ids"]
    return [SFTExample(tuple(a), tuple(b)) for a, b in zip(prompt_ids, answer_ids, strict=True)]


def new_policy(tokenizer: Any, size: PolicySize) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden,
        intermediate_size=size.ffn,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def train_policy(
    size_name: str, out_dir: Path, *, seed: int | None = None, progress: bool = True
) -> dict:
    """Train ``mini-policy-<size>`` from scratch and save it as an HF model folder (``seed``
    None: the size's own, which gave the shipped model)."""
    import torch
    from tqdm import tqdm

    if size_name not in POLICY_SIZES:
        raise ConfigError(f"--size must be one of {sorted(POLICY_SIZES)}, got {size_name!r}")
    size = POLICY_SIZES[size_name]
    seed = size.seed if seed is None else seed
    torch.manual_seed(seed)
    tokenizer = load_tokenizer()
    model = new_policy(tokenizer, size)
    problems = task.train_problems(size.examples, level_weights=size.level_weights)
    examples = policy_examples(tokenizer, problems)
    bar = tqdm(
        total=-(-len(examples) // size.batch_size),
        desc=f"train mini-policy-{size_name}",
        disable=not progress,
    )

    def on_step(step: int, total: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")

    started = time.time()
    report = train_sft(
        model,
        examples,
        pad_id=tokenizer.pad_token_id,
        settings=SFTSettings(batch_size=size.batch_size, lr=size.lr, seed=seed),
        on_step=on_step,
    )
    bar.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    info = {
        "size": size_name,
        **asdict(size),
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        **asdict(report),
        "total_wall_s": time.time() - started,
    }
    (out_dir / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
