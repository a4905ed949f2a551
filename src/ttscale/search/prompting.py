"""What every strategy shares: the policy prompt and per-sample seeds."""

from __future__ import annotations

import hashlib

from ttscale.config import PolicyConfig
from ttscale.types import ChatMessage, GenerationRequest, Problem


def problem_messages(problem: Problem, system_prompt: str | None) -> tuple[ChatMessage, ...]:
    """The chat the policy answers: an optional system message, then the problem."""
    user = ChatMessage("user", problem.question)
    return (ChatMessage("system", system_prompt), user) if system_prompt else (user,)


def derive_seed(run_seed: int, problem_id: str, stream: str) -> int:
    """Seed of sample 0 of ``stream`` for one problem; sample i uses this + i.

    Derived from (run seed, problem id, stream) alone, so a problem's samples do not depend on
    which other problems share its batch, and a resumed run equals an uninterrupted one.
    """
    digest = hashlib.sha256(f"{run_seed}:{problem_id}:{stream}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x3FFFFFFF


def sampling_request(
    prompt: tuple[ChatMessage, ...],
    *,
    n: int,
    sampling: PolicyConfig,
    seed: int,
    continue_final: bool = False,
) -> GenerationRequest:
    """A request that samples ``n`` solutions with the policy's sampling settings."""
    return GenerationRequest(
        prompt,
        n=n,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        max_tokens=sampling.max_tokens,
        seed=seed,
        continue_final=continue_final,
    )
