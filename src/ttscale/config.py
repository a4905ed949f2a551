"""Run configuration: pydantic models, YAML recipes and ``--set a.b=c`` overrides.

Every field has a default and is documented once (its attribute docstring becomes the schema
description). ``extra="forbid"`` turns a typo in a recipe into an error instead of a silent
default. No I/O here except reading the recipe file the user named.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ttscale.errors import ConfigError
from ttscale.search.selection import Reduction, SelectionRule

RECIPES_DIR = Path(__file__).parent / "recipes"
_STRICT = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class EngineConfig(BaseModel):
    model_config = _STRICT

    name: str = "transformers"
    """Engine backend by registry name (`ttscale ls engines`)."""
    device: str = "auto"
    """"auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N"."""
    dtype: str = "auto"
    """"auto" (float32 on CPU, bfloat16 on CUDA), "float32", "bfloat16" or "float16"."""
    max_batch_size: int = Field(256, ge=1)
    """Most sequences decoded together in one forward pass."""


class PolicyConfig(BaseModel):
    model_config = _STRICT

    model: str = "mini-policy-s"
    """A shipped miniature model (mini-policy-s, mini-policy-l), a local HF folder or a Hub id."""
    engine: EngineConfig = EngineConfig()
    """How the policy is run."""
    system_prompt: str | None = None
    """System message before the problem; None sends none (the mini models are trained without)."""
    temperature: float = Field(0.7, ge=0.0)
    """Sampling temperature for sampled strategies (CoT is always greedy); 0.7 as in both papers."""
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass."""
    top_k: int = Field(0, ge=0)
    """Top-k filtering; 0 disables it."""
    max_tokens: int = Field(256, ge=1)
    """Most new tokens of one full solution (the papers use 8192 for real models)."""


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


StrategyConfig = Annotated[
    CoTConfig | MajorityConfig | BestOfNConfig | BeamSearchConfig | DVTSConfig,
    Field(discriminator="name"),
]
PRM_STRATEGIES = (BestOfNConfig, BeamSearchConfig, DVTSConfig)
"""Strategies that need a PRM (the run's `prm` section)."""


def strategy_label(cfg: StrategyConfig) -> str:
    """A strategy's name in the store and the tables, e.g. ``majority@8``, ``beam_search@16``.

    Beam search with refill reads ``beam_search-refill@16``; a beam width other than the papers'
    4 is appended (``dvts@16/m2``).
    """
    if isinstance(cfg, CoTConfig):
        return cfg.name
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


class PRMConfig(BaseModel):
    model_config = _STRICT

    name: str = "mini-oracle"
    """A process reward model by registry name (`ttscale ls prms`)."""
    model: str | None = None
    """Its weights (a local folder or Hub id) where its registry entry does not fix them."""
    engine: EngineConfig = EngineConfig()
    """How the PRM model is run (the mini-oracle has no model and ignores it)."""
    flip_rate: float = Field(0.0, ge=0.0, le=1.0)
    """mini-oracle only: the share of step rewards flipped (seeded by the step's content), to
    emulate an imperfect verifier; 0 is the exact oracle."""


class AnalysisConfig(BaseModel):
    model_config = _STRICT

    resamples: int = Field(200, ge=1)
    """Bootstrap replicates behind each curve point: subsamples of the candidates at smaller N
    and resamples of the problems, for 95% confidence intervals."""
    plots: bool = True
    """Write accuracy-vs-N and accuracy-vs-FLOPs plots (PNG) into the run folder."""


class DataConfig(BaseModel):
    model_config = _STRICT

    dataset: str = "mini-500"
    """A dataset name (`ttscale ls datasets`), a local .jsonl file, or hf:<id>[:split]."""
    limit: int | None = Field(None, ge=1)
    """Keep only the first `limit` problems."""
    data_dir: str | None = None
    """Folder holding the shared benchmarks; default: $TTSCALE_DATA_DIR or a ../shared/data."""


class RunConfig(BaseModel):
    model_config = _STRICT

    name: str = "mini"
    """Run name; the run folder is runs/<name>-<config hash> unless --output-dir is given."""
    seed: int = 0
    """Run seed; every sample's seed derives from (seed, problem id, sample index)."""
    data: DataConfig = DataConfig()
    """Which problems to solve."""
    policy: PolicyConfig = PolicyConfig()
    """The policy model and how it samples."""
    strategies: tuple[StrategyConfig, ...] = (CoTConfig(), MajorityConfig())
    """Strategies to run, one after another, on the same problems."""
    prm: PRMConfig | None = None
    """The process reward model of Best-of-N, beam search and DVTS (a name is enough:
    `prm: mini-oracle`); None when no strategy needs one."""
    batch_problems: int = Field(100, ge=1)
    """Problems sent to a strategy together (they advance in lockstep); each problem's result
    is committed on its own as soon as its batch is graded, so a crash loses at most the
    batch in flight."""
    grading_timeout_s: float = Field(5.0, gt=0)
    """Per-answer timeout of the math-verify grader worker."""
    analysis: AnalysisConfig = AnalysisConfig()
    """Curves, confidence intervals and plots computed from the stored results."""

    @field_validator("prm", mode="before")
    @classmethod
    def _prm_by_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_strategies(self) -> RunConfig:
        labels = [strategy_label(s) for s in self.strategies]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"strategies: {', '.join(twice)} listed twice; give each once")
        needy = [label for s, label in zip(self.strategies, labels, strict=True)
                 if isinstance(s, PRM_STRATEGIES)]
        if needy and self.prm is None:
            raise ValueError(
                f"strategies {', '.join(needy)} need a PRM; add a prm section "
                "(e.g. prm: mini-oracle)"
            )
        return self

    def config_hash(self) -> str:
        """Hash of everything that affects results (not the run name, batching or analysis)."""
        payload = self.model_dump(
            mode="json",
            exclude={
                "name": True,
                "batch_problems": True,
                "analysis": True,
                "strategies": {"__all__": {"budgets"}},
            },
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def read_recipe(recipe: str) -> dict[str, Any]:
    """A recipe by name (packaged ``recipes/<name>.yaml``) or by path to a YAML file."""
    path = Path(recipe)
    if not (path.suffix in {".yaml", ".yml"} and path.is_file()):
        path = RECIPES_DIR / f"{recipe}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown recipe {recipe!r}: allowed are {', '.join(recipe_names())} "
            "or a path to a .yaml file"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"recipe {path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path}: must be a mapping of keys, got {type(data).__name__}")
    return data


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b=c`` override in place; the value is parsed as YAML (``n=8`` is an int)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {assignment!r}: expected key.path=value")
    *parents, leaf = key.split(".")
    node: Any = data
    for part in parents:
        if isinstance(node, list):
            node = node[_list_index(part, node, key)]
        else:
            node = node.setdefault(part, {})
    value = yaml.safe_load(raw) if raw else ""
    if isinstance(node, list):
        node[_list_index(leaf, node, key)] = value
    elif isinstance(node, dict):
        node[leaf] = value
    else:
        raise ConfigError(f"--set {key}: {'.'.join(parents)} is a value, not a section")


def _list_index(part: str, node: list[Any], key: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {key}: {part!r} must be an index below {len(node)}")
    return int(part)


def load_config(recipe: str = "mini", overrides: tuple[str, ...] | list[str] = ()) -> RunConfig:
    """Defaults < recipe < overrides, validated; errors name the key and what is allowed."""
    data = read_recipe(recipe)
    for assignment in overrides:
        apply_override(data, assignment)
    return validate_config(data)


def validate_config(data: dict[str, Any]) -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e)) from e


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        parent = _model_at(first["loc"][:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see `ttscale config --schema`"
        msg = f"unknown key (allowed: {allowed})"
    more = f" (+{len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    return f"config key {loc!r}: {msg}{more}" if loc else f"config: {msg}{more}"


_STRATEGY_MODELS: dict[str, type[BaseModel]] = {
    "cot": CoTConfig,
    "majority": MajorityConfig,
    "best_of_n": BestOfNConfig,
    "beam_search": BeamSearchConfig,
    "dvts": DVTSConfig,
}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model at an error location, to list its allowed keys."""
    model: type[BaseModel] | None = RunConfig
    for part in loc:
        if isinstance(part, int):
            continue
        if part in _STRATEGY_MODELS:
            model = _STRATEGY_MODELS[part]
            continue
        field = model.model_fields.get(str(part)) if model else None
        options = (field.annotation, *get_args(field.annotation)) if field else ()
        models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
        model = models[0] if models else None  # X | None sections too (prm)
    return model
