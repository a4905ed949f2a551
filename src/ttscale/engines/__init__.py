"""LLM engines, chosen by name. Heavy backends are registered lazily ("module:attr")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ttscale.engines.base import LLMEngine
from ttscale.registry import Registry

if TYPE_CHECKING:
    from ttscale.config import EngineConfig

engines: Registry = Registry("engine")
engines.register("transformers", "ttscale.engines.transformers_engine:TransformersEngine")
engines.register("vllm", "ttscale.engines.vllm_engine:VLLMEngine")
engines.register("openai", "ttscale.engines.openai_engine:OpenAIEngine")


def build_engine(model: str, cfg: EngineConfig) -> LLMEngine:
    """The engine ``cfg.name`` on ``model`` (a folder, a Hub id, or the served model's name)."""
    engine: LLMEngine = engines.get(cfg.name).from_config(model, cfg)
    return engine


__all__ = ["LLMEngine", "build_engine", "engines"]
