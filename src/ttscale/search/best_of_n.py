"""Best-of-N: N full solutions per problem, every finished one scored by the PRM in one call.

The N solutions are pooled per problem and the runner applies the selection rules over all of
them (the public compute-optimal code runs N independent single-sample records and averages
them, which measures single-sample accuracy, not BoN@N: reference/tts-frameworks.md §2.4). A
solution truncated at ``max_tokens`` stays a candidate (it is a sample for pass@k) but is not
finished: it is not scored and never selected.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttscale.config import BestOfNConfig, PolicyConfig
from ttscale.data.extraction import extract_answer
from ttscale.engines.base import LLMEngine
from ttscale.rewards.base import ProcessRewardModel, ScoreRequest
from ttscale.search._steps import Scored, describe_failures, score_solutions, solution_steps
from ttscale.search.prompting import derive_seed, problem_messages, sampling_request
from ttscale.search.selection import Reduction, reduce_rewards, rule_parts
from ttscale.types import Candidate, Completion, Problem, SearchResult, Usage


def best_of_n(
    problems: Sequence[Problem],
    *,
    policy: LLMEngine,
    prm: ProcessRewardModel,
    cfg: BestOfNConfig,
    sampling: PolicyConfig,
    seed: int,
) -> list[SearchResult]:
    """Sample ``cfg.n`` solutions per problem in one generate call, score them in one PRM call.

    Candidate ``score`` is the reduction of ``cfg.selection`` (``last`` for majority).
    """
    requests = [
        sampling_request(
            problem_messages(p, sampling.system_prompt),
            n=cfg.n,
            sampling=sampling,
            seed=derive_seed(seed, p.id, "best_of_n"),
        )
        for p in problems
    ]
    outputs = policy.generate(requests)
    finished = [
        (i, j)
        for i, comps in enumerate(outputs)
        for j, c in enumerate(comps)
        if c.finish_reason == "stop"
    ]
    scored = score_solutions(
        prm,
        [
            ScoreRequest(problems[i].question, solution_steps(outputs[i][j].text))
            for i, j in finished
        ],
    )
    by_sample = dict(zip(finished, scored, strict=True))
    how = rule_parts(cfg.selection)[0] or "last"
    return [
        _result(
            problem,
            completions,
            [by_sample.get((i, j)) for j in range(len(completions))],
            how=how,
            num_parameters=policy.num_parameters,
        )
        for i, (problem, completions) in enumerate(zip(problems, outputs, strict=True))
    ]


def _result(
    problem: Problem,
    completions: list[Completion],
    scores: list[Scored | None],
    *,
    how: Reduction,
    num_parameters: int,
) -> SearchResult:
    """One problem's N candidates (sample j is group j), its PRM usage and failures."""
    candidates, prm_usage, errors = [], Usage(), []
    for j, (c, scored) in enumerate(zip(completions, scores, strict=True)):
        rewards, error, usage = scored or (None, None, Usage())
        prm_usage += usage
        errors += [error] if error else []
        score = reduce_rewards(rewards, how) if rewards is not None else None
        candidates.append(
            Candidate(c.text, extract_answer(c.text), c.finish_reason, score, rewards, j)
        )
    failure = describe_failures(errors, len(completions))
    if all(c.finish_reason == "length" for c in completions):
        failure = f"no finished candidate: all {len(completions)} truncated at max_tokens"
    usage = Usage.of(completions, num_parameters=num_parameters)
    return SearchResult(problem, None, tuple(candidates), usage, prm_usage, failure)
