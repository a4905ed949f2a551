"""Search strategies, one file each, registered by name (lazy, so importing this is cheap).

A strategy is ``strategy(problems, *, policy, prm, cfg, sampling, seed) -> list[SearchResult]``
and works on all problems of a batch at once: one batched generate call (and one PRM call) per
round, never one problem at a time. Answer selection rules live in ``selection.py``.
"""

from ttscale.registry import Registry

strategies: Registry = Registry("strategy")
strategies.register("cot", "ttscale.search.cot:cot")
strategies.register("majority", "ttscale.search.majority:majority")
strategies.register("best_of_n", "ttscale.search.best_of_n:best_of_n")
strategies.register("beam_search", "ttscale.search.beam_search:beam_search")
strategies.register("dvts", "ttscale.search.dvts:dvts")
strategies.register("refine", "ttscale.search.refine:refine")

__all__ = ["strategies"]
