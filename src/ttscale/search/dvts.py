"""Diverse verifier tree search (DVTS; reference/tts-frameworks.md §1.1, §3.2).

N/M independent subtrees per problem, each of width M: a subtree expands its one kept partial
solution into M children per round and greedily keeps the best by PRM score, until that best
child is finished. Each subtree yields at most one *finished* solution (search-and-learn
returns all M last-step candidates, finished or not: sal #57), and the subtrees' solutions are
pooled per problem before selection (the public compute-optimal code averages independent
records instead: §2.4).

Every subtree of every problem advances together: one generate and one PRM call per round.
"""

from __future__ import annotations

from collections.abc import Sequence

from ttscale.config import DVTSConfig, PolicyConfig
from ttscale.engines.base import LLMEngine
from ttscale.rewards.base import ProcessRewardModel
from ttscale.search._steps import Tree, TreeSettings, run_trees, tree_result
from ttscale.types import Problem, SearchResult


def dvts(
    problems: Sequence[Problem],
    *,
    policy: LLMEngine,
    prm: ProcessRewardModel,
    cfg: DVTSConfig,
    sampling: PolicyConfig,
    seed: int,
) -> list[SearchResult]:
    """``cfg.n // cfg.beam_width`` subtrees per problem; candidates carry their subtree as
    ``group``, so a run at N also gives every smaller multiple of M by subsampling subtrees."""
    subtrees = cfg.n // cfg.beam_width
    trees = [
        [Tree(p, k, width=cfg.beam_width, keep=1) for k in range(subtrees)] for p in problems
    ]
    settings = TreeSettings(
        stream="dvts",
        beam_width=cfg.beam_width,
        max_steps=cfg.max_steps,
        step_max_tokens=cfg.step_max_tokens,
        aggregation=cfg.aggregation,
    )
    flat = [t for per_problem in trees for t in per_problem]
    run_trees(flat, policy=policy, prm=prm, settings=settings, sampling=sampling, seed=seed)
    return [tree_result(p, ts) for p, ts in zip(problems, trees, strict=True)]
