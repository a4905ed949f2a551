"""LLM engines, chosen by name. Heavy backends are registered lazily ("module:attr")."""

from ttscale.engines.base import LLMEngine
from ttscale.registry import Registry

engines: Registry = Registry("engine")
engines.register("transformers", "ttscale.engines.transformers_engine:TransformersEngine")

__all__ = ["LLMEngine", "engines"]
