"""Chain of thought: one greedy solution per problem (temperature 0, as in both papers)."""

from __future__ import annotations

from collections.abc import Sequence

from ttscale.config import CoTConfig, PolicyConfig
from ttscale.data.extraction import extract_answer
from ttscale.engines.base import LLMEngine
from ttscale.search.prompting import problem_messages
from ttscale.types import Candidate, GenerationRequest, Problem, SearchResult, Usage


def cot(
    problems: Sequence[Problem],
    *,
    policy: LLMEngine,
    prm: object | None,
    cfg: CoTConfig,
    sampling: PolicyConfig,
    seed: int,
) -> list[SearchResult]:
    """Greedy-decode every problem in one batched call; the answer is the boxed one."""
    requests = [
        GenerationRequest(
            problem_messages(p, sampling.system_prompt),
            n=1,
            temperature=0.0,
            max_tokens=sampling.max_tokens,
        )
        for p in problems
    ]
    outputs = policy.generate(requests)
    results = []
    for problem, (completion,) in zip(problems, outputs, strict=True):
        answer = extract_answer(completion.text)
        candidate = Candidate(completion.text, answer, completion.finish_reason)
        usage = Usage.of([completion], num_parameters=policy.num_parameters)
        results.append(SearchResult(problem, answer, (candidate,), usage))
    return results
