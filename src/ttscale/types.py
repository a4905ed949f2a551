"""Small dataclasses that cross component boundaries (house rule 5).

Engines, strategies, graders and the run store exchange these and nothing else: no dicts of
columns, no nested lists of floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length"]
Ablation = Literal["full", "cot_only", "code_no_exec"]
"""GenPRM's §3.8 variants: analysis + code + execution, analysis only, code never run."""


@dataclass(frozen=True)
class Problem:
    """One benchmark problem with its reference answer."""

    id: str
    question: str
    answer: str
    level: int | None = None
    """Difficulty level where the dataset has one (MATH 1-5, mini 1-5)."""
    dataset: str = ""


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a chat; rendered by the engine's own tokenizer chat template."""

    role: Role
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """A prompt and how to sample from it (a vLLM-like subset of SamplingParams).

    ``prompt`` is raw text or chat messages. With ``continue_final`` the last message must be
    an assistant turn, which the model continues instead of starting a new one.
    """

    prompt: str | tuple[ChatMessage, ...]
    n: int = 1
    temperature: float = 0.0
    """0 means greedy."""
    top_p: float = 1.0
    top_k: int = 0
    """0 disables top-k filtering."""
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    include_stop: bool = False
    """Keep the matched stop string at the end of the text (vLLM include_stop_str_in_output)."""
    seed: int | None = None
    """Sample i of this request uses seed + i, so the same seed gives the same text."""
    logprobs: int = 0
    """Return this many top logprobs per generated token (0: none)."""
    continue_final: bool = False


@dataclass(frozen=True)
class TopLogprob:
    token_id: int
    token: str
    logprob: float


@dataclass(frozen=True)
class TokenLogprobs:
    """The sampled token's logprob and the top-k alternatives at that position."""

    token_id: int
    logprob: float
    top: tuple[TopLogprob, ...]


@dataclass(frozen=True)
class Completion:
    """One sampled continuation (mirrors vLLM's CompletionOutput)."""

    text: str
    token_ids: tuple[int, ...]
    finish_reason: FinishReason
    """"stop": EOS or a stop string; "length": max_tokens reached. Never conflated."""
    stop_reason: str | None = None
    """The stop string that matched, or None (EOS or length)."""
    prompt_tokens: int = 0
    logprobs: tuple[TokenLogprobs, ...] | None = None

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


@dataclass
class Usage:
    """Compute spent: tokens and FLOPs (2 x parameters x tokens, reference tts-frameworks §1.4)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    flops: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.flops + other.flops,
        )

    @classmethod
    def of(cls, completions: list[Completion], *, num_parameters: int) -> Usage:
        """Usage of one request's completions; the shared prompt is counted once."""
        prompt = completions[0].prompt_tokens if completions else 0
        generated = sum(c.completion_tokens for c in completions)
        return cls(prompt, generated, 2.0 * num_parameters * (prompt + generated))


@dataclass(frozen=True)
class Candidate:
    """One full solution a strategy produced, with its extracted answer."""

    text: str
    answer: str | None
    finish_reason: FinishReason
    score: float | None = None
    """The solution's reduced PRM score (per the strategy's reduction), when a PRM scored it."""
    step_scores: tuple[float, ...] | None = None
    """The PRM reward of every step, so any reduction/selection rule can be applied later."""
    group: int = 0
    """The independent unit that produced it (a BoN/majority sample index, a DVTS subtree), so
    smaller budgets can be estimated by subsampling whole units of one large run."""


@dataclass
class SearchResult:
    """What a strategy returns for one problem: the selected answer and every candidate."""

    problem: Problem
    answer: str | None
    candidates: tuple[Candidate, ...]
    usage: Usage = field(default_factory=Usage)
    """The policy's compute."""
    prm_usage: Usage = field(default_factory=Usage)
    """The PRM's compute, kept apart from the policy's (FLOPs are reported per model)."""
    failure: str | None = None
    """What went wrong for this problem, recorded rather than raised (e.g. the search ended
    with no finished candidate, or the PRM returned the wrong number of rewards)."""
