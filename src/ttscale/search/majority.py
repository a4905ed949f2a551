"""Majority vote (self-consistency): n sampled solutions, the most frequent answer wins.

Answers are grouped by mathematical equivalence ("1/2" and "0.5" are one vote), not by string
as the public compute-optimal-tts code does (reference/tts-frameworks.md §2.5).
"""

from __future__ import annotations

from collections.abc import Sequence

from ttscale.config import MajorityConfig, PolicyConfig
from ttscale.data.extraction import extract_answer
from ttscale.engines.base import LLMEngine
from ttscale.search.prompting import derive_seed, problem_messages, sampling_request
from ttscale.types import Candidate, Problem, SearchResult, Usage


def majority(
    problems: Sequence[Problem],
    *,
    policy: LLMEngine,
    prm: object | None,
    cfg: MajorityConfig,
    sampling: PolicyConfig,
    seed: int,
) -> list[SearchResult]:
    """Sample ``cfg.n`` solutions for every problem in one batched call.

    The selected answer is left to the runner's "majority" rule (``search.selection``), which
    needs the grader's equivalence classes; here ``answer`` is None until the runner votes.
    Sample j is group j, so smaller N are estimated by subsampling this run.
    """
    requests = [
        sampling_request(
            problem_messages(p, sampling.system_prompt),
            n=cfg.n,
            sampling=sampling,
            seed=derive_seed(seed, p.id, "majority"),
        )
        for p in problems
    ]
    results = []
    for problem, completions in zip(problems, policy.generate(requests), strict=True):
        candidates = tuple(
            Candidate(c.text, extract_answer(c.text), c.finish_reason, group=j)
            for j, c in enumerate(completions)
        )
        usage = Usage.of(completions, num_parameters=policy.num_parameters)
        results.append(SearchResult(problem, None, candidates, usage))
    return results
