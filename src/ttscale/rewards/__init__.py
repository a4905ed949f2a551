"""Process reward models: the protocol, step-score aggregation, classifier PRM specs, GenPRM.

PRMs are chosen by name through :data:`prms` (lazy targets, so importing this is cheap). A
registered target is a factory ``(cfg: PRMConfig) -> ProcessRewardModel``: the runner builds a
run's PRM from its ``prm`` config section through it.
"""

from ttscale.registry import Registry

prms: Registry = Registry("prm")
prms.register("mini-oracle", "ttscale.rewards.mini_oracle:load")

__all__ = ["prms"]
