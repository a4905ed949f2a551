"""One streamed ``/v1/completions`` sample, assembled chunk by chunk into a Completion.

A stream is thrown away whole when its attempt fails, so nothing of a failed attempt is ever
counted. Token ids come from vLLM's ``return_token_ids`` (or its ``token_id:N`` logprob keys);
a server that sends neither gets the text re-tokenized locally, which is close but not exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ttscale.types import Completion, TokenLogprobs, TopLogprob

_ID_PREFIX = "token_id:"


class StreamError(Exception):
    """The server reported an error or an unusable finish inside the stream."""


class SampleStream:
    """The text, token ids, logprobs and finish of one streamed sample."""

    def __init__(self, prompt_ids: Sequence[int], eos_ids: frozenset[int], tokenizer: Any) -> None:
        self._prompt_tokens = len(prompt_ids)
        self._eos_ids = eos_ids
        self._tokenizer = tokenizer
        self._text: list[str] = []
        self._token_ids: list[int] = []
        self._has_ids = False
        self._logprobs: list[TokenLogprobs] = []
        self.finish_reason: str | None = None
        self.stop_reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def feed(self, chunk: dict[str, Any]) -> None:
        """Add one server-sent event's JSON payload."""
        if "error" in chunk:
            raise StreamError(f"server error inside the stream: {str(chunk['error'])[:200]}")
        for choice in chunk.get("choices") or []:
            self._text.append(choice.get("text") or "")
            if choice.get("token_ids") is not None:
                self._token_ids.extend(int(t) for t in choice["token_ids"])
                self._has_ids = True
            if choice.get("logprobs"):
                self._logprobs.extend(self._parse_logprobs(choice["logprobs"]))
            if choice.get("finish_reason") is not None:
                self._finish(choice["finish_reason"], choice.get("stop_reason"))

    def _finish(self, reason: str, stop_reason: Any) -> None:
        if reason not in ("stop", "length"):
            raise StreamError(f"the server finished the sample with {reason!r}")
        self.finish_reason = reason
        self.stop_reason = stop_reason if isinstance(stop_reason, str) else None

    def _parse_logprobs(self, block: dict[str, Any]) -> list[TokenLogprobs]:
        """The legacy completions format: tokens, token_logprobs, top_logprobs (parallel)."""
        out = []
        tokens = block.get("tokens") or []
        values = block.get("token_logprobs") or []
        tops = block.get("top_logprobs") or [{}] * len(tokens)
        for token, value, top in zip(tokens, values, tops, strict=True):
            ranked = sorted((top or {}).items(), key=lambda item: -item[1])
            out.append(TokenLogprobs(
                self._token_id(token),
                float(value),
                tuple(TopLogprob(self._token_id(t), self._token_text(t), float(v))
                      for t, v in ranked),
            ))
        return out

    def _token_id(self, token: str) -> int:
        if token.startswith(_ID_PREFIX):
            return int(token[len(_ID_PREFIX):])
        found = self._tokenizer.convert_tokens_to_ids(token)
        return int(found) if isinstance(found, int) else -1

    def _token_text(self, token: str) -> str:
        if token.startswith(_ID_PREFIX):
            return str(self._tokenizer.decode([self._token_id(token)]))
        return token

    def completion(self, index: int, *, logprobs: int) -> Completion:
        """The finished sample; a trailing EOS token is not part of ``token_ids``."""
        if self.finish_reason is None:
            raise StreamError(f"request {index}: the stream has not finished")
        text = "".join(self._text)
        ids = self._token_ids if self._has_ids else [e.token_id for e in self._logprobs]
        if not ids and text:  # a server that returns neither ids nor logprobs
            ids = list(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        entries = self._logprobs
        if self.finish_reason == "stop" and self.stop_reason is None and ids \
                and ids[-1] in self._eos_ids:
            ids, entries = ids[:-1], entries[: len(ids) - 1]
        return Completion(
            text=text,
            token_ids=tuple(ids),
            finish_reason="stop" if self.finish_reason == "stop" else "length",
            stop_reason=self.stop_reason,
            prompt_tokens=self._prompt_tokens,
            logprobs=tuple(_top_k(e, logprobs) for e in entries) if logprobs > 0 else None,
        )


def _top_k(entry: TokenLogprobs, k: int) -> TokenLogprobs:
    """Keep k alternatives: vLLM adds the sampled token to the top-k when it is outside it."""
    return TokenLogprobs(entry.token_id, entry.logprob, entry.top[:k])
