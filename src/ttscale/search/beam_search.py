"""Step-level beam search guided by a PRM (reference/tts-frameworks.md §1.1, §2.4, §3.2).

Paper semantics (compute-optimal TTS, ``semantics="paper"``): the root is expanded into N
candidate first steps; each round the top N/M partial solutions by PRM score are kept and each
is expanded into M children; a finished solution keeps its place and is not replaced, so fewer
beams run as solutions finish; the search ends with N/M finished solutions. Refill semantics
(search-and-learn, ``semantics="refill"``): N live beams every round, the top N/M survivors
duplicated to refill; every finished solution is kept (the best N at the end).

All problems of the batch advance together (``_steps.run_trees``): per round one generate call
for every beam of every problem and one PRM call for every new step.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttscale.config import BeamSearchConfig, PolicyConfig
from ttscale.engines.base import LLMEngine
from ttscale.rewards.base import ProcessRewardModel
from ttscale.search._steps import Tree, TreeSettings, run_trees, tree_result
from ttscale.types import Problem, SearchResult


def beam_search(
    problems: Sequence[Problem],
    *,
    policy: LLMEngine,
    prm: ProcessRewardModel,
    cfg: BeamSearchConfig,
    sampling: PolicyConfig,
    seed: int,
) -> list[SearchResult]:
    """One beam search of width ``cfg.n`` per problem, all in lockstep.

    The selected answer is left to the runner (it needs the grader's answer classes); each
    candidate carries its step rewards so every selection rule can be applied.
    """
    refill = cfg.semantics == "refill"
    trees = [
        Tree(p, 0, width=cfg.n, keep=cfg.n // cfg.beam_width, refill=refill) for p in problems
    ]
    settings = TreeSettings(
        stream=f"beam_search-{cfg.semantics}",
        beam_width=cfg.beam_width,
        max_steps=cfg.max_steps,
        step_max_tokens=cfg.step_max_tokens,
        aggregation=cfg.aggregation,
    )
    run_trees(trees, policy=policy, prm=prm, settings=settings, sampling=sampling, seed=seed)
    return [tree_result(p, [t]) for p, t in zip(problems, trees, strict=True)]
