"""build_engine: the engine chosen by name, with the config's chat settings."""

from __future__ import annotations

import pytest

from ttscale.config import EngineConfig
from ttscale.engines import build_engine
from ttscale.engines.chat import ChatFormat, render_chat
from ttscale.engines.transformers_engine import TransformersEngine
from ttscale.errors import ConfigError
from ttscale.mini.models import load_tokenizer, model_path
from ttscale.types import ChatMessage, GenerationRequest

MODEL = str(model_path("mini-policy-s"))


def test_build_engine_passes_the_chat_settings() -> None:
    engine = build_engine(MODEL, EngineConfig(device="cpu", system_in_user=True))
    messages = (ChatMessage("system", "Be brief."), ChatMessage("user", "What is 2 + 3?"))
    [[out]] = engine.generate([GenerationRequest(messages, max_tokens=1)])
    folded = render_chat(load_tokenizer(), messages, continue_final=False,
                         chat_format=ChatFormat(system_in_user=True))
    assert isinstance(engine, TransformersEngine)
    assert out.prompt_tokens == engine.count_tokens(folded)
    assert "<|im_start|>system" not in folded


def test_an_unknown_engine_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'vllm'"):
        build_engine(MODEL, EngineConfig(name="vlm"))
