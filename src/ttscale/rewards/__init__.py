"""Process reward models: the protocol, step-score aggregation, classifier PRM specs, GenPRM.

PRMs are chosen by name through :data:`prms` (lazy targets, so importing this is cheap). A
classifier PRM's entry is its :class:`~ttscale.rewards.specs.PRMSpec`; any other PRM (GenPRM,
the mini oracle) registers a factory ``(cfg: PRMConfig) -> ProcessRewardModel``.
:func:`load_prm` is the one way to build a PRM: by name, or any folder / Hub id read with a
named spec; the runner and ``ttscale processbench`` both call it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ttscale.errors import ConfigError
from ttscale.registry import Registry

if TYPE_CHECKING:
    from ttscale.config import PRMConfig
    from ttscale.rewards.base import ProcessRewardModel

prms: Registry = Registry("prm")
for _name, _attr in (
    ("mini-prm", "MINI_PRM"),
    ("math-shepherd", "MATH_SHEPHERD"),
    ("rlhflow-mistral", "RLHFLOW_MISTRAL"),
    ("rlhflow-deepseek", "RLHFLOW_DEEPSEEK"),
    ("skywork-1.5b", "SKYWORK_1_5B"),
    ("skywork-7b", "SKYWORK_7B"),
    ("qwen2.5-math-prm-7b", "QWEN_PRM_7B"),
    ("qwen2.5-math-prm-72b", "QWEN_PRM_72B"),
):
    prms.register(_name, f"ttscale.rewards.specs:{_attr}")
prms.register("mini-oracle", "ttscale.rewards.mini_oracle:load")
prms.register("mini-genprm", "ttscale.rewards.genprm:mini_genprm")
prms.register("genprm", "ttscale.rewards.genprm:genprm_7b")


def load_prm(
    name_or_path: str | Path,
    *,
    spec: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    token_budget: int | None = None,
    cfg: PRMConfig | None = None,
) -> ProcessRewardModel:
    """A PRM by registered name (its default weights), or weights read with a spec.

    Args:
        name_or_path: a name in :data:`prms` ("mini-prm", "math-shepherd", "mini-oracle", ...),
            or a model folder / Hub id, which then needs ``spec``.
        spec: the registered name whose recipe reads ``name_or_path``'s weights.
        device, dtype: as for :class:`~ttscale.rewards.classifier.ClassifierPRM`.
        token_budget: tokens per forward pass (None: the ClassifierPRM default).
        cfg: the run's ``prm`` section, handed to factory entries (defaults from the name).

    Raises:
        ConfigError: an unknown name, or a path without ``spec``.
        EngineError: the weights cannot be loaded.

    Example:
        >>> prm = load_prm("mini-prm")  # doctest: +SKIP
        >>> prm = load_prm("ckpt/my-shepherd", spec="math-shepherd")  # doctest: +SKIP
    """
    from ttscale.config import PRMConfig
    from ttscale.rewards.classifier import DEFAULT_TOKEN_BUDGET, ClassifierPRM
    from ttscale.rewards.specs import PRMSpec

    name = str(name_or_path)
    budget = DEFAULT_TOKEN_BUDGET if token_budget is None else token_budget
    if spec is None:
        if name not in prms:
            try:
                prms.get(name)
            except ConfigError as e:
                raise ConfigError(
                    f"{e}; for a model folder or Hub id also give spec=<one of these names>"
                ) from None
        entry = prms.get(name)
        if not isinstance(entry, PRMSpec):
            prm: ProcessRewardModel = entry(cfg if cfg is not None else PRMConfig(name=name))
            return prm
        return ClassifierPRM(entry, device=device, dtype=dtype, token_budget=budget)
    return ClassifierPRM(prms.get(spec), name, device=device, dtype=dtype, token_budget=budget)


__all__ = ["load_prm", "prms"]
