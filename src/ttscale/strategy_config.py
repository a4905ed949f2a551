"""Strategy configurations: one pydantic model per search strategy, chosen by ``name``.

Split from :mod:`ttscale.config` (which re-exports every name here) to keep modules small;
the same rules hold: ``extra="forbid"``, every field defaulted and documented once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ttscale.search.selection import Reduction, SelectionRule

_STRICT = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class CoTConfig(BaseModel):
    model_config = _STRICT

    name: Literal["cot"] = "cot"
    """Chain of thought: one greedy solution per problem."""


class MajorityConfig(BaseModel):
    model_config = _STRICT

    name: Literal["majority"] = "majority"
    """Majority vote over n sampled solutions, answers grouped by mathematical equivalence."""
    n: int = Field(8, ge=1)
    """Samples per problem."""
    budgets: tuple[int, ...] = ()
    """Smaller N also reported, by subsampling this run's samples; () = powers of 4 below n."""

    @model_validator(mode="after")
    def _check_budgets(self) -> MajorityConfig:
        _check_budgets(self.name, self.budgets, self.n, unit=1)
        return self


class BestOfNConfig(BaseModel):
    model_config = _STRICT

    name: Literal["best_of_n"] = "best_of_n"
    """Best-of-N: n full solutions per problem, all scored by the PRM, pooled per problem."""
    n: int = Field(16, ge=1)
    """Samples per problem."""
    selection: SelectionRule = "prm_last_vote"
    """The rule behind the headline answer (metrics report every rule)."""
    budgets: tuple[int, ...] = ()
    """Smaller N also reported, by subsampling this run's samples; () = powers of 4 below n."""

    @model_validator(mode="after")
    def _check_budgets(self) -> BestOfNConfig:
        _check_budgets(self.name, self.budgets, self.n, unit=1)
        return self


class BeamSearchConfig(BaseModel):
    model_config = _STRICT

    name: Literal["beam_search"] = "beam_search"
    """Step-level beam search guided by the PRM; steps end at "\\n\\n"."""
    n: int = Field(16, ge=1)
    """N: candidates generated per round (the root's children; kept beams x beam_width after)."""
    beam_width: int = Field(4, ge=1)
    """M: children per kept beam; n / M beams are kept each round (4 in both papers)."""
    semantics: Literal["paper", "refill"] = "paper"
    """"paper": keep the top n/M, M children each, finished beams are not replaced
    (compute-optimal TTS); "refill": n live beams every round, survivors duplicated to refill
    (search-and-learn)."""
    max_steps: int = Field(40, ge=1)
    """Most rounds; the last one generates to the end of the solution."""
    step_max_tokens: int = Field(2048, ge=1)
    """Most new tokens of one step; a whole solution stays within policy.max_tokens."""
    aggregation: Reduction = "last"
    """How a partial solution's step rewards reduce to the score that ranks beams (the paper
    uses PRM-Last)."""
    selection: SelectionRule = "prm_last_vote"
    """The rule behind the headline answer (metrics report every rule)."""

    @model_validator(mode="after")
    def _check_width(self) -> BeamSearchConfig:
        _check_width(self.name, self.n, self.beam_width)
        return self


class DVTSConfig(BaseModel):
    model_config = _STRICT

    name: Literal["dvts"] = "dvts"
    """Diverse verifier tree search: n / beam_width independent subtrees, pooled per problem."""
    n: int = Field(16, ge=1)
    """N: candidates generated per round over all subtrees of a problem."""
    beam_width: int = Field(4, ge=1)
    """M: the width of each subtree (children of its one kept beam per round)."""
    max_steps: int = Field(40, ge=1)
    """Most rounds; the last one generates to the end of the solution."""
    step_max_tokens: int = Field(2048, ge=1)
    """Most new tokens of one step; a whole solution stays within policy.max_tokens."""
    aggregation: Reduction = "last"
    """How a partial solution's step rewards reduce to the score that picks each subtree's beam."""
    selection: SelectionRule = "prm_last_vote"
    """The rule behind the headline answer (metrics report every rule)."""
    budgets: tuple[int, ...] = ()
    """Smaller N also reported, by subsampling whole subtrees; () = powers of 4 below n."""

    @model_validator(mode="after")
    def _check(self) -> DVTSConfig:
        _check_width(self.name, self.n, self.beam_width)
        _check_budgets(self.name, self.budgets, self.n, unit=self.beam_width)
        return self


def _check_width(name: str, n: int, beam_width: int) -> None:
    if n % beam_width:
        raise ValueError(f"{name}: n ({n}) must be a multiple of beam_width ({beam_width})")


def _check_budgets(name: str, budgets: tuple[int, ...], n: int, *, unit: int) -> None:
    for b in budgets:
        if not 1 <= b <= n or b % unit:
            rule = f" and a multiple of beam_width ({unit})" if unit > 1 else ""
            raise ValueError(
                f"{name}: budget {b} is not in 1..n ({n}){rule}; a curve can only subsample "
                "what the run generated"
            )


class RefineConfig(BaseModel):
    model_config = _STRICT

    name: Literal["refine"] = "refine"
    """GenPRM critic loop: refine from the first step with reward < threshold, up to k turns
    (reference/genprm.md §6); needs a generative PRM."""
    turns: int = Field(3, ge=1)
    """Refinement turns after the zero-shot solution (the paper reports 1-3)."""
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    """A step below this reward is the one to fix."""
    temperature: float = Field(0.7, ge=0.0)
    """Refinement sampling (Qwen in the paper: T=0.7, top_p=0.8, top_k=20)."""
    top_p: float = Field(0.8, gt=0.0, le=1.0)
    top_k: int = Field(20, ge=0)
    user_suffix: str = "\n\nPlease reason step by step, and put your final answer within \\boxed{}."
    """Appended to the problem in the refinement chat's first user turn (policy_refine.py)."""


StrategyConfig = Annotated[
    CoTConfig | MajorityConfig | BestOfNConfig | BeamSearchConfig | DVTSConfig | RefineConfig,
    Field(discriminator="name"),
]
PRM_STRATEGIES = (BestOfNConfig, BeamSearchConfig, DVTSConfig, RefineConfig)
"""Strategies that need a PRM (the run's `prm` section)."""


def strategy_label(cfg: StrategyConfig) -> str:
    """A strategy's name in the store and the tables, e.g. ``majority@8``, ``beam_search@16``.

    Beam search with refill reads ``beam_search-refill@16``; a beam width other than the papers'
    4 is appended (``dvts@16/m2``).
    """
    if isinstance(cfg, CoTConfig):
        return cfg.name
    if isinstance(cfg, RefineConfig):
        return f"{cfg.name}@{cfg.turns}"
    label = f"{cfg.name}@{cfg.n}"
    if isinstance(cfg, BeamSearchConfig) and cfg.semantics == "refill":
        label = f"{cfg.name}-refill@{cfg.n}"
    if isinstance(cfg, (BeamSearchConfig, DVTSConfig)) and cfg.beam_width != 4:
        label += f"/m{cfg.beam_width}"
    return label


def curve_budgets(cfg: StrategyConfig) -> tuple[int, ...]:
    """The N at which a strategy's accuracy is reported: its budgets (or powers of 4 below n)
    and n itself. Beam search and CoT report n only: a beam search at N cannot be cut down."""
    if not isinstance(cfg, (MajorityConfig, BestOfNConfig, DVTSConfig)):
        return (cfg.n,) if isinstance(cfg, BeamSearchConfig) else (1,)
    unit = cfg.beam_width if isinstance(cfg, DVTSConfig) else 1
    chosen = cfg.budgets or tuple(4**k for k in range(12) if 4**k < cfg.n and 4**k % unit == 0)
    return tuple(sorted({*chosen, cfg.n}))
