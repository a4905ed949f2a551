"""Search strategies, one file each, registered by name (lazy, so importing this is cheap).

A strategy is ``strategy(problems, *, policy, prm, cfg, sampling, seed) -> list[SearchResult]``
and works on all problems of a batch at once: one batched generate call per round, never one
problem at a time.
"""

from ttscale.registry import Registry

strategies: Registry = Registry("strategy")
strategies.register("cot", "ttscale.search.cot:cot")
strategies.register("majority", "ttscale.search.majority:majority")
strategies.register("refine", "ttscale.search.refine:refine")

__all__ = ["strategies"]
