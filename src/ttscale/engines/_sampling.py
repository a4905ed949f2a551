"""Per-row pieces of the transformers engine's decode loop.

Every row of a batch carries its own sampling parameters and its own random stream, so one
batched forward can serve requests with different temperatures, top-k/top-p and seeds while a
row's text stays what it would be if the row ran alone. Text is detokenized incrementally (a
small window of ids per step, as in vLLM) so stop strings cost O(1) per token.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ttscale.errors import EngineError
from ttscale.types import Completion, FinishReason, GenerationRequest, TokenLogprobs, TopLogprob


def validate_request(request: GenerationRequest, index: int) -> None:
    """Raise EngineError (one line: parameter, value, allowed range) for an invalid request."""
    checks: list[tuple[str, object, bool, str]] = [
        ("n", request.n, request.n >= 1, ">= 1"),
        ("temperature", request.temperature,
         math.isfinite(request.temperature) and request.temperature >= 0, ">= 0 (0 is greedy)"),
        ("top_p", request.top_p, 0 < request.top_p <= 1, "in (0, 1]"),
        ("top_k", request.top_k, request.top_k >= 0, ">= 0 (0 disables top-k)"),
        ("max_tokens", request.max_tokens, request.max_tokens >= 1, ">= 1"),
        ("logprobs", request.logprobs, request.logprobs >= 0, ">= 0 (0 returns none)"),
        ("stop", request.stop, all(isinstance(s, str) and s for s in request.stop),
         "a tuple of non-empty strings"),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            raise EngineError(f"request {index}: {name}={value!r} is invalid; it must be {allowed}")


def make_generator(seed: int | None, sample_index: int) -> torch.Generator:
    """A CPU generator seeded with ``seed + sample_index`` (a fresh random seed if None).

    The uniforms are drawn on the CPU whatever the model's device, so a seed gives the same
    random stream on CPU and CUDA, and drawing costs no kernel launch per row.
    """
    generator = torch.Generator(device="cpu")
    generator.manual_seed((secrets.randbits(63) if seed is None else seed + sample_index) % 2**64)
    return generator


@dataclass
class BatchParams:
    """The sampling parameters of the live rows as tensors, compacted together with the rows."""

    temperature: torch.Tensor
    top_k: torch.Tensor
    top_p: torch.Tensor
    generators: list[torch.Generator | None]
    requests: list[GenerationRequest]

    @classmethod
    def of(cls, rows: Sequence[RowState], device: torch.device) -> BatchParams:
        requests = [row.request for row in rows]
        return cls(
            temperature=torch.tensor(
                [r.temperature for r in requests], dtype=torch.float32, device=device
            ),
            top_k=torch.tensor([r.top_k for r in requests], dtype=torch.long, device=device),
            top_p=torch.tensor([r.top_p for r in requests], dtype=torch.float32, device=device),
            generators=[row.generator for row in rows],
            requests=requests,
        )

    @property
    def logprobs(self) -> list[int]:
        return [r.logprobs for r in self.requests]

    def select(self, keep: list[int], index: torch.Tensor) -> BatchParams:
        return BatchParams(
            self.temperature[index], self.top_k[index], self.top_p[index],
            [self.generators[i] for i in keep], [self.requests[i] for i in keep],
        )


def sample_next(logits: torch.Tensor, params: BatchParams) -> torch.Tensor:
    """One token per row: argmax where temperature is 0, else tempered top-k/top-p sampling.

    Rows that filter (top-k or top-p) sample over the sorted vocabulary, the others over the
    vocabulary order; each row's path depends on its own parameters only, so a seeded row
    draws the same token whatever else is in the batch.
    """
    tokens = logits.argmax(dim=-1)
    plain: list[int] = []
    filtered: list[int] = []
    for i, (generator, request) in enumerate(zip(params.generators, params.requests,
                                                 strict=True)):
        if generator is not None:
            (filtered if request.top_k > 0 or request.top_p < 1 else plain).append(i)
    for rows, sort in ((plain, False), (filtered, True)):
        if rows:
            index = torch.tensor(rows, device=logits.device)
            uniforms = torch.cat([torch.rand(1, generator=params.generators[i]) for i in rows])
            tokens[index] = _sample_rows(
                logits[index].float() / params.temperature[index, None],
                params.top_k[index], params.top_p[index], uniforms.to(logits.device), sort,
            )
    return tokens


def _sample_rows(
    logits: torch.Tensor,
    top_k: torch.Tensor,
    top_p: torch.Tensor,
    uniforms: torch.Tensor,
    sort: bool,
) -> torch.Tensor:
    """Inverse-CDF sampling; with ``sort``, over the top-k then top-p filtered distribution."""
    if not sort:
        return _inverse_cdf(logits.softmax(dim=-1), uniforms)
    sorted_logits, order = logits.sort(dim=-1, descending=True, stable=True)
    ranks = torch.arange(logits.shape[-1], device=logits.device)
    beyond_k = (top_k[:, None] > 0) & (ranks[None, :] >= top_k[:, None])
    sorted_logits = sorted_logits.masked_fill(beyond_k, -math.inf)
    probs = sorted_logits.softmax(dim=-1)
    # Keep the smallest prefix whose mass reaches top_p (the first token is always kept).
    beyond_p = probs.cumsum(dim=-1) - probs >= top_p[:, None]
    probs = sorted_logits.masked_fill(beyond_p, -math.inf).softmax(dim=-1)
    return order.gather(1, _inverse_cdf(probs, uniforms)[:, None]).squeeze(1)


def _inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Per row, the first index whose cumulative probability exceeds the row's uniform."""
    cdf = probs.cumsum(dim=-1)
    choice = torch.searchsorted(cdf, (uniforms * cdf[:, -1]).unsqueeze(1), right=True)
    # Rounding can put the draw past the last token with mass: clamp to that token.
    last = probs.shape[-1] - 1 - (probs > 0).flip(-1).int().argmax(dim=-1, keepdim=True)
    return torch.minimum(choice, last).squeeze(1)


def raw_logprobs(
    logits: torch.Tensor, tokens: torch.Tensor, ks: list[int], token_text: Callable[[int], str]
) -> list[TokenLogprobs | None]:
    """Logprob of each row's token and its top-k, from the raw logits (before any sampling
    transform, vLLM V1 "raw logprobs"). Rows with k=0 get None."""
    wanted = [i for i, k in enumerate(ks) if k > 0]
    out: list[TokenLogprobs | None] = [None] * len(ks)
    if not wanted:
        return out
    index = torch.tensor(wanted, device=logits.device)
    logp = logits[index].float().log_softmax(dim=-1)
    k_max = min(max(ks), logp.shape[-1])
    top_values, top_ids = (t.tolist() for t in logp.topk(k_max, dim=-1))
    chosen = logp.gather(1, tokens[index, None]).squeeze(1).tolist()
    chosen_ids = tokens[index].tolist()
    for j, i in enumerate(wanted):
        top = tuple(
            TopLogprob(tid, token_text(tid), value)
            for tid, value in zip(top_ids[j][: ks[i]], top_values[j][: ks[i]], strict=True)
        )
        out[i] = TokenLogprobs(chosen_ids[j], chosen[j], top)
    return out


class IncrementalText:
    """Detokenizes one row incrementally: one decode of a short id window per token.

    ``_ids`` is a window of recent ids; ``_prefix_text`` is the decoded text of its emitted
    part. A token's text is emitted once the window decodes to more complete characters (no
    trailing U+FFFD). Decoding a window rather than single ids keeps context-dependent spacing
    right; the window restarts from the last few ids once it grows past ``_MAX_WINDOW``.
    """

    _CONTEXT = 5
    _MAX_WINDOW = 24

    def __init__(self, tokenizer: Any, prompt_ids: Sequence[int]) -> None:
        self._tokenizer = tokenizer
        self._ids = list(prompt_ids[-self._CONTEXT :])
        self._prefix_text = self._decode(self._ids)
        self.text = ""

    def _decode(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, token_id: int) -> None:
        """Append a token; its text is added once it decodes to complete characters."""
        self._ids.append(token_id)
        new_text = self._decode(self._ids)
        if len(new_text) > len(self._prefix_text) and not new_text.endswith("\ufffd"):
            self._emit(new_text)
            if len(self._ids) > self._MAX_WINDOW:
                self._ids = self._ids[-self._CONTEXT :]
                self._prefix_text = self._decode(self._ids)

    def flush(self) -> None:
        """Add whatever text is still pending (e.g. an incomplete UTF-8 sequence at the end)."""
        new_text = self._decode(self._ids)
        if len(new_text) > len(self._prefix_text):
            self._emit(new_text)

    def _emit(self, new_text: str) -> None:
        self.text += new_text[len(self._prefix_text) :]
        self._prefix_text = new_text


def find_stop(text: str, stops: Sequence[str], since: int) -> tuple[int, str] | None:
    """The earliest stop string ending after ``since`` (earlier text was already checked)."""
    best: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop, max(0, since - len(stop) + 1))
        if at != -1 and (best is None or at < best[0]):
            best = (at, stop)
    return best


@dataclass
class RowState:
    """One sequence being generated: sample ``sample_index`` of request ``request_index``."""

    request_index: int
    sample_index: int
    request: GenerationRequest
    prompt_ids: list[int]
    generator: torch.Generator | None
    detok: IncrementalText
    eos_ids: frozenset[int]
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    stop_reason: str | None = None

    def push(self, token_id: int, logprobs: TokenLogprobs | None) -> bool:
        """Consume one generated token; return True when the row is finished."""
        if token_id in self.eos_ids:
            self.detok.flush()
            self.finish_reason = "stop"
            return True
        self.token_ids.append(token_id)
        if logprobs is not None:
            self.logprobs.append(logprobs)
        checked = len(self.detok.text)
        self.detok.push(token_id)
        if self.request.stop and self._check_stop(checked):
            return True
        if len(self.token_ids) >= self.request.max_tokens:
            self.detok.flush()
            self.finish_reason = "length"
            return True
        return False

    def _check_stop(self, since: int) -> bool:
        found = find_stop(self.detok.text, self.request.stop, since)
        if found is None:
            return False
        at, stop = found
        end = at + len(stop) if self.request.include_stop else at
        self.detok.text = self.detok.text[:end]
        self.finish_reason, self.stop_reason = "stop", stop
        return True

    def completion(self) -> Completion:
        assert self.finish_reason is not None, "row read before it finished"
        return Completion(
            text=self.detok.text,
            token_ids=tuple(self.token_ids),
            finish_reason=self.finish_reason,
            stop_reason=self.stop_reason,
            prompt_tokens=len(self.prompt_ids),
            logprobs=tuple(self.logprobs) if self.request.logprobs > 0 else None,
        )
