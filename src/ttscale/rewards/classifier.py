"""ClassifierPRM: a ProcessRewardModel that runs a :class:`PRMSpec` on a transformers model.

Every request is rendered (:func:`ttscale.rewards.rendering.render`), the rendered solutions are
sorted by length and packed into batches under a *token budget* (padded rows x width), and each
batch is one forward pass; a step's reward is read at its read position. One solution's rewards
do not depend on what else is in its batch (right padding, attention mask).

For the "token_pair" head only the two compared rows of the LM head are applied, and only at the
read positions: full logits would be batch x length x vocabulary floats (4 GB for 16k tokens of
a 128k vocabulary), all but two columns of them thrown away.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ttscale.engines.transformers_engine import _resolve_device, _resolve_dtype
from ttscale.errors import ConfigError, EngineError
from ttscale.mini.models import resolve_model
from ttscale.rewards.base import ScoreRequest, StepScores
from ttscale.rewards.rendering import RenderedInput, RenderError, render, spec_token_ids
from ttscale.rewards.specs import PRMSpec
from ttscale.rewards.surprise import SurpriseHead, step_logit
from ttscale.types import Usage

DEFAULT_TOKEN_BUDGET = 16384
_Ready = tuple[int, RenderedInput]


def _from_pretrained(
    spec: PRMSpec, source: str, dtype: torch.dtype, *, local_only: bool
) -> tuple[Any, Any, torch.nn.Linear | None]:
    import transformers

    remote = spec.trust_remote_code
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        source, local_files_only=local_only, trust_remote_code=remote
    )
    auto = getattr(transformers, spec.auto_class)
    model = auto.from_pretrained(
        source, dtype=dtype, local_files_only=local_only, trust_remote_code=remote
    )
    head = _value_head(source, local_only=local_only) if spec.head == "value_head" else None
    return tokenizer, model, head


def _value_head(source: str, *, local_only: bool) -> torch.nn.Linear:
    """Skywork's ``v_head.summary`` (Linear(hidden, 1)), read from the checkpoint's safetensors
    (transformers does not know the key, so AutoModel leaves it out)."""
    from safetensors import safe_open
    from transformers.utils import cached_file

    key = "v_head.summary.weight"
    try:
        index = cached_file(source, "model.safetensors.index.json", local_files_only=local_only)
    except OSError:
        index = None
    shard = json.loads(Path(index).read_text())["weight_map"].get(key) if index else None
    path = cached_file(source, shard or "model.safetensors", local_files_only=local_only)
    with safe_open(str(path), framework="pt") as f:
        if key not in f.keys():  # noqa: SIM118 (safe_open has keys(), not __contains__)
            raise EngineError(f"model {source!r} has no value head ({key} is not in {path})")
        weight, bias = f.get_tensor(key), f.get_tensor("v_head.summary.bias")
    head = torch.nn.Linear(weight.shape[1], 1)
    head.load_state_dict({"weight": weight, "bias": bias})
    return head


def _load(spec: PRMSpec, source: str, dtype: torch.dtype) -> tuple[Any, Any, Any]:
    """Tokenizer, model and value head from a local folder, the HF cache, or the Hub."""
    try:
        return _from_pretrained(spec, source, dtype, local_only=True)
    except (OSError, ValueError) as e:
        error: Exception = e
    if not Path(source).is_dir() and os.environ.get("HF_HUB_OFFLINE", "0") in ("", "0"):
        try:
            return _from_pretrained(spec, source, dtype, local_only=False)
        except (OSError, ValueError) as e:
            error = e
    cause = (str(error).strip().splitlines() or [""])[0][:200]
    raise EngineError(
        f"cannot load PRM {spec.name!r} from {source!r} ({type(error).__name__}: {cause}); give "
        "a local model folder or a Hub id that is cached or downloadable"
    ) from error


def token_batches(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Group sequence indices into batches, longest first, each within ``budget`` tokens.

    A batch costs rows x width (right padding to its longest row); sorting by length keeps
    the padding small. A sequence longer than the budget forms a batch of its own.

    Example:
        >>> token_batches([5, 9, 3, 8], 18)
        [[1, 3], [0, 2]]
    """
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        batch = batches[-1] if batches else None
        if batch is not None and (len(batch) + 1) * lengths[batch[0]] <= budget:
            batch.append(i)
        else:
            batches.append([i])
    return batches


class ClassifierPRM:
    """ProcessRewardModel for the classifier PRMs of :mod:`ttscale.rewards.specs`.

    Args:
        spec: how the PRM is prompted and read.
        model: weights (folder or Hub id); None uses ``spec.model``.
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda[:N]".
        dtype: "auto" (float32 on CPU, bfloat16 on CUDA), "float32", "bfloat16" or "float16".
        token_budget: the most tokens (rows x padded width) in one forward pass; a solution
            longer than the budget is scored alone.
        max_length: the longest solution (tokens) scored; longer ones get a per-sample error.
            None: the model's ``max_position_embeddings``.

    ``ScoreRequest.stop_below``: every step of a solution comes from the same forward pass, so
    stopping saves nothing here; the rewards after the first one below the threshold are set
    to 0.0 and ``scored`` says how many are real, as the protocol asks. (Cutting the input at
    the first error would need its position before the forward that finds it.)

    Raises:
        ConfigError: a bad argument, or the tokenizer lacks one of the spec's tokens.
        EngineError: the model cannot be loaded.
    """

    def __init__(
        self,
        spec: PRMSpec,
        model: str | Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        max_length: int | None = None,
    ) -> None:
        if token_budget < 1:
            raise ConfigError(f"token_budget={token_budget} is invalid; it must be >= 1")
        self._spec = spec
        self._device = _resolve_device(device)
        source = resolve_model(str(model if model is not None else spec.model))
        dtype_ = _resolve_dtype(dtype, self._device)
        self._tokenizer, self._model, head = _load(spec, source, dtype_)
        self._model.to(self._device).eval()
        self._value_head = head.to(self._device).eval() if head is not None else None
        self._tokens = spec_token_ids(spec, self._tokenizer)
        self._surprise = SurpriseHead.load(source) if spec.surprise else None
        self._name = (
            spec.name if model is None else (Path(source).name if Path(source).is_dir() else source)
        )
        self._num_parameters = sum(p.numel() for p in self._model.parameters()) + (
            sum(p.numel() for p in head.parameters()) if head is not None else 0
        )
        self._token_budget = token_budget
        self._max_length = max_length or int(self._model.config.max_position_embeddings)
        pad = self._tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else self._tokenizer.eos_token_id or 0)

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_parameters(self) -> int:
        return self._num_parameters

    @property
    def spec(self) -> PRMSpec:
        return self._spec

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The transformers model (for a value head, the base model without the head)."""
        return self._model

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        """One :class:`StepScores` per request: a reward per step, or a per-sample error."""
        results: list[StepScores | None] = [None] * len(requests)
        ready: list[_Ready] = []
        for i, request in enumerate(requests):
            try:
                rendered = render(
                    self._spec,
                    self._tokenizer,
                    request.question,
                    request.steps,
                    tokens=self._tokens,
                )
            except RenderError as e:
                results[i] = StepScores((), error=str(e))
                continue
            if len(rendered.input_ids) > self._max_length:
                results[i] = StepScores(
                    (),
                    error=(
                        f"solution is {len(rendered.input_ids)} tokens for PRM {self._name!r}, "
                        f"longer than its max_length of {self._max_length}"
                    ),
                )
                continue
            ready.append((i, rendered))
        lengths = [len(rendered.input_ids) for _, rendered in ready]
        for group in token_batches(lengths, self._token_budget):
            batch = [ready[g] for g in group]
            rewards = self._score_batch([rendered for _, rendered in batch])
            for (i, rendered), step_rewards in zip(batch, rewards, strict=True):
                results[i] = self._result(requests[i], rendered, step_rewards)
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def _score_batch(self, batch: Sequence[RenderedInput]) -> list[list[float]]:
        width = len(batch[0].input_ids)
        ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        rows: list[int] = []
        cols: list[int] = []
        for b, rendered in enumerate(batch):
            ids[b, : len(rendered.input_ids)] = torch.tensor(rendered.input_ids)
            mask[b, : len(rendered.input_ids)] = 1
            rows += [b] * len(rendered.read_positions)
            cols += rendered.read_positions
        with torch.inference_mode():
            flat = self._rewards(
                ids.to(self._device),
                mask.to(self._device),
                torch.tensor(rows, device=self._device),
                torch.tensor(cols, device=self._device),
                [rendered.step_spans for rendered in batch],
            ).tolist()
        out, start = [], 0
        for rendered in batch:
            out.append(flat[start : start + len(rendered.read_positions)])
            start += len(rendered.read_positions)
        return out

    def _rewards(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        rows: torch.Tensor,
        cols: torch.Tensor,
        step_spans: list[tuple[tuple[int, int], ...]],
    ) -> torch.Tensor:
        """Rewards at (row, col) read positions, flat, in [0, 1]; ``step_spans`` (per row, the
        token span of each step) feed the surprise term."""
        head = self._spec.head
        if head == "two_class":
            logits = self._model(input_ids=ids, attention_mask=mask)[0][rows, cols]
            return logits.float().softmax(-1)[:, self._spec.positive_index]
        base = self._model.base_model if head == "token_pair" else self._model
        hidden = base(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        picked = hidden[rows, cols]
        if head == "value_head":
            assert self._value_head is not None
            weight = self._value_head.weight
            return torch.sigmoid(self._value_head(picked.to(weight.dtype)).squeeze(-1).float())
        lm_head = self._model.get_output_embeddings()
        pair = torch.tensor(self._tokens.compare, device=ids.device)
        bias = None if lm_head.bias is None else lm_head.bias[pair]
        logits = torch.nn.functional.linear(picked, lm_head.weight[pair], bias).float()
        if self._surprise is None:
            return logits.softmax(-1)[:, self._spec.positive_index]
        positive = self._spec.positive_index
        margin = logits[:, positive] - logits[:, 1 - positive]
        fitted = self._surprise
        z = step_logit(
            margin, hidden, lm_head, ids, step_spans, weight=fitted.weight, bias=fitted.bias
        )
        return torch.sigmoid(z)

    def _result(
        self, request: ScoreRequest, rendered: RenderedInput, rewards: list[float]
    ) -> StepScores:
        tokens = len(rendered.input_ids)
        usage = Usage(prompt_tokens=tokens, flops=2.0 * self._num_parameters * tokens)
        scored = None
        if request.stop_below is not None:
            first = next((k for k, r in enumerate(rewards) if r < request.stop_below), None)
            if first is not None and first + 1 < len(rewards):
                scored = first + 1
                rewards = rewards[:scored] + [0.0] * (len(rewards) - scored)
        return StepScores(tuple(rewards), usage=usage, scored=scored)
