"""Process reward models: the protocol, step-score aggregation, classifier PRM specs, GenPRM.

PRMs are chosen by name through :data:`prms` (lazy targets, so importing this is cheap).
"""

from ttscale.registry import Registry

prms: Registry = Registry("prm")

__all__ = ["prms"]
