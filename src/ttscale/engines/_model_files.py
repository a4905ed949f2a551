"""What engines read from a model's files without loading its weights: parameter count, EOS ids.

The vllm and openai engines do not hold a torch model in this process, yet FLOPs accounting
needs the parameter count (2 x parameters x tokens); the safetensors headers give it exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def model_folder(model: str | Path) -> Path | None:
    """A local folder holding the model: the path itself, or its snapshot in the HF cache."""
    path = Path(model)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(model), local_files_only=True))
    except Exception:  # not cached (or not a Hub id): the caller decides what that means
        return None


def count_parameters(model: str | Path) -> int | None:
    """Parameters stored in the model's safetensors files (tied weights counted once).

    None when the model has no local safetensors files.
    """
    folder = model_folder(model)
    files = sorted(folder.glob("*.safetensors")) if folder else []
    if not files:
        return None
    from safetensors import safe_open

    total = 0
    for file in files:
        with safe_open(str(file), framework="pt") as weights:
            for name in weights.keys():  # noqa: SIM118 (safe_open is not a mapping)
                shape = weights.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= int(dim)
                total += count
    return total


def eos_ids(tokenizer: Any, model: str | Path) -> frozenset[int]:
    """EOS ids of the tokenizer and of the model's generation_config.json."""
    ids: set[int] = set()
    values: list[Any] = [tokenizer.eos_token_id]
    folder = model_folder(model)
    config = folder / "generation_config.json" if folder else None
    if config is not None and config.is_file():
        values.append(json.loads(config.read_text(encoding="utf-8")).get("eos_token_id"))
    for value in values:
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return frozenset(ids)
