"""A batched LLMEngine on plain Hugging Face transformers (CPU or one CUDA device).

Why not ``model.generate``: strategies need sample ``i`` of a seeded request to be the same text
whether it runs alone or inside a batch of hundreds, and ``generate`` has one global random
stream. So this engine runs its own decode loop: every row owns a seeded generator and its own
sampling parameters, and the whole micro-batch shares one forward per step. Finished rows are
dropped from the batch (ids, mask, positions and the KV cache), so the cost of a step follows the
rows still generating rather than the longest one. The n samples of a request share one prefill
of their prompt (its KV cache rows are copied), which is most of the cost of short answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ttscale.engines._sampling import (
    BatchParams,
    IncrementalText,
    RowState,
    make_generator,
    raw_logprobs,
    sample_next,
    validate_request,
)
from ttscale.engines.chat import ChatFormat, prompt_ids
from ttscale.errors import EngineError
from ttscale.types import Completion, GenerationRequest

if TYPE_CHECKING:
    from ttscale.config import EngineConfig

_ALLOWED_MODELS = (
    "give a local Hugging Face model folder, or a Hub id that is cached or downloadable "
    "(HF_HUB_OFFLINE=1 forbids downloads)"
)
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise EngineError(f"device={device!r} is invalid; use 'auto', 'cpu' or 'cuda[:N]'") from e
    if resolved.type not in ("cpu", "cuda"):
        raise EngineError(f"device={device!r} is not supported; use 'auto', 'cpu' or 'cuda[:N]'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device={device!r} was asked for but CUDA is not available here")
    return resolved


def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in _DTYPES:
        raise EngineError(f"dtype={dtype!r} is invalid; use 'auto' or one of {sorted(_DTYPES)}")
    return _DTYPES[dtype]


def _load(model: str | Path, dtype: torch.dtype) -> tuple[Any, Any]:
    """Tokenizer and model from a local HF folder or a Hub id (the cache first, then the Hub)."""
    source, path = str(model), Path(model)
    looks_like_path = path.is_absolute() or source.startswith((".", "~")) or source.count("/") > 1
    if not path.is_dir() and (looks_like_path or path.exists()):
        problem = "is not a folder" if path.exists() else "does not exist"
        raise EngineError(f"model {source!r} {problem}; {_ALLOWED_MODELS}")
    try:
        return _from_pretrained(source, dtype, local_only=True)
    except Exception as e:
        error = e
    if not path.is_dir() and os.environ.get("HF_HUB_OFFLINE", "0") in ("", "0"):
        try:
            return _from_pretrained(source, dtype, local_only=False)
        except Exception as e:
            error = e
    cause = (str(error).strip().splitlines() or [""])[0][:200]
    raise EngineError(
        f"cannot load model {source!r} ({type(error).__name__}: {cause}); {_ALLOWED_MODELS}"
    ) from error


def _from_pretrained(source: str, dtype: torch.dtype, *, local_only: bool) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
    lm = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, local_files_only=local_only)
    return tokenizer, lm


def _eos_ids(tokenizer: Any, model: Any) -> frozenset[int]:
    """EOS ids of the tokenizer and of the model's generation config."""
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return frozenset(ids)


class TransformersEngine:
    """LLMEngine on a Hugging Face causal LM, with batched, per-row-seeded sampling.

    Args:
        model: a local HF model folder, or a Hub id already in the local cache.
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda[:N]".
        dtype: "auto" (float32 on CPU, bfloat16 on CUDA), "float32", "bfloat16" or "float16".
        max_batch_size: the most sequences (requests x n) decoded together in one micro-batch.
        chat_format: how chat messages are rendered beyond the template (engines.chat).

    Logprobs are "raw" (vLLM V1 semantics): log_softmax of the model's logits before
    temperature, top-k and top-p. Decoded text skips special tokens, like vLLM's default.

    Raises:
        EngineError: the model cannot be loaded or an argument is invalid.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_batch_size: int = 256,
        chat_format: ChatFormat | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise EngineError(f"max_batch_size={max_batch_size} is invalid; it must be >= 1")
        self._device = _resolve_device(device)
        self._tokenizer, self._model = _load(model, _resolve_dtype(dtype, self._device))
        self._model.to(self._device).eval()
        self._name = Path(model).name if Path(model).is_dir() else str(model)
        self._num_parameters = sum(p.numel() for p in self._model.parameters())
        self._max_batch_size = max_batch_size
        self._chat_format = chat_format or ChatFormat()
        self._eos_ids = _eos_ids(self._tokenizer, self._model)
        pad = self._tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else min(self._eos_ids, default=0))
        self._token_text = lru_cache(maxsize=None)(self._decode_one)

    @classmethod
    def from_config(cls, model: str, cfg: EngineConfig) -> TransformersEngine:
        return cls(
            model, device=cfg.device, dtype=cfg.dtype, max_batch_size=cfg.max_batch_size,
            chat_format=ChatFormat(cfg.date_string, cfg.system_in_user),
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    @property
    def device(self) -> torch.device:
        return self._device

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        """One list of ``request.n`` completions per request, in request order."""
        for index, request in enumerate(requests):
            validate_request(request, index)
        prompts = [
            prompt_ids(self._tokenizer, request, index=i, chat_format=self._chat_format)
            for i, request in enumerate(requests)
        ]
        rows = [
            RowState(
                request_index=i, sample_index=j, request=request, prompt_ids=prompts[i],
                generator=make_generator(request.seed, j) if request.temperature > 0 else None,
                detok=IncrementalText(self._tokenizer, prompts[i]), eos_ids=self._eos_ids,
            )
            for i, request in enumerate(requests)
            for j in range(request.n)
        ]
        try:
            with torch.inference_mode():
                for batch in self._micro_batches(rows):
                    self._decode(batch)
        except torch.OutOfMemoryError as e:
            raise EngineError(
                f"out of memory decoding up to {self._max_batch_size} sequences at once; "
                "lower max_batch_size"
            ) from e
        out: list[list[Completion]] = [[] for _ in requests]
        for row in rows:
            out[row.request_index].append(row.completion())
        return out

    def _micro_batches(self, rows: list[RowState]) -> Iterator[list[RowState]]:
        """Rows sorted by prompt (length first: less padding; equal prompts adjacent: shared
        prefill), at most max_batch_size per micro-batch."""
        ordered = sorted(rows, key=lambda row: (len(row.prompt_ids), row.prompt_ids))
        for start in range(0, len(ordered), self._max_batch_size):
            yield ordered[start : start + self._max_batch_size]

    def _decode_one(self, token_id: int) -> str:
        return str(self._tokenizer.decode([token_id]))

    def _decode(self, rows: list[RowState]) -> None:
        """Prefill the micro-batch, then one forward per step until every row has finished."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self._model.config)
        logits, mask, positions = self._prefill(rows, cache)
        params = BatchParams.of(rows, self._device)
        while True:
            tokens = sample_next(logits, params)
            logprobs = raw_logprobs(logits, tokens, params.logprobs, self._token_text)
            pushed = zip(rows, tokens.tolist(), logprobs, strict=True)
            keep = [i for i, (row, token, lp) in enumerate(pushed) if not row.push(token, lp)]
            if not keep:
                return
            if len(keep) < len(rows):  # drop finished rows everywhere, KV cache included
                index = torch.tensor(keep, device=self._device)
                cache.batch_select_indices(index)
                mask, positions, tokens = mask[index], positions[index], tokens[index]
                params, rows = params.select(keep, index), [rows[i] for i in keep]
            mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
            positions = positions[:, -1:] + 1
            logits = self._forward(tokens[:, None], mask, positions, cache)

    def _prefill(
        self, rows: list[RowState], cache: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run each distinct prompt once, then copy its cache rows to all rows sharing it.

        Returns the rows' last-position logits, attention mask and position ids.
        """
        distinct: dict[tuple[int, ...], int] = {}
        owner = [distinct.setdefault(tuple(row.prompt_ids), len(distinct)) for row in rows]
        input_ids, mask, positions = self._left_pad([list(p) for p in distinct])
        logits = self._forward(input_ids, mask, positions, cache)
        if len(distinct) == len(rows):
            return logits, mask, positions
        index = torch.tensor(owner, device=self._device)
        cache.batch_select_indices(index)  # duplicated indices gather copies
        return logits[index], mask[index], positions[index]

    def _left_pad(
        self, prompts: list[list[int]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Input ids, attention mask and position ids of the left-padded prompts."""
        width = max(len(prompt) for prompt in prompts)
        ids = torch.full((len(prompts), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            ids[i, width - len(prompt) :] = torch.tensor(prompt)
            mask[i, width - len(prompt) :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        return ids.to(self._device), mask.to(self._device), positions.to(self._device)

    def _forward(
        self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any
    ) -> torch.Tensor:
        """Last-position logits of one forward step, extending ``cache`` in place."""
        out = self._model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :]
