"""The LLMEngine protocol: batch of requests in, one list of completions per request out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ttscale.types import Completion, GenerationRequest


@runtime_checkable
class LLMEngine(Protocol):
    """A text generator that strategies drive in batches.

    Contract: ``generate`` returns exactly one list per request, in request order, each with
    exactly ``request.n`` completions. ``finish_reason`` is "stop" for EOS or a stop string and
    "length" for ``max_tokens``; the two are never conflated. Sample ``i`` of a request with
    ``seed=s`` is drawn with seed ``s + i``, so the same seed gives the same text.

    Raises:
        EngineError: a request is invalid (bad parameter) or the backend failed.
    """

    @property
    def name(self) -> str: ...

    @property
    def num_parameters(self) -> int: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]: ...

    def count_tokens(self, text: str) -> int: ...
