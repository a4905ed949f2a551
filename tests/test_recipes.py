"""The shipped recipes: all valid, and the real-model ones carry the papers' settings."""

from __future__ import annotations

import pytest

from ttscale.config import load_config, recipe_names


@pytest.mark.parametrize("recipe", recipe_names())
def test_every_recipe_is_a_valid_config(recipe: str) -> None:
    assert load_config(recipe).name == recipe


# Sampling per reference/tts-frameworks.md §2.3-2.4 (compute-optimal TTS): temperature 0.7 and
# 8192 tokens, except R1 distills (0.6, top_p 0.95, 32768 tokens, no system prompt).
@pytest.mark.parametrize(
    ("recipe", "model", "temperature", "top_p", "max_tokens", "system_in_user"),
    [
        ("qwen-math-1.5b-vllm", "Qwen/Qwen2.5-Math-1.5B-Instruct", 0.7, 1.0, 8192, False),
        ("llama-3.2-1b", "meta-llama/Llama-3.2-1B-Instruct", 0.7, 1.0, 8192, False),
        ("llama-3.2-3b", "meta-llama/Llama-3.2-3B-Instruct", 0.7, 1.0, 8192, False),
        ("r1-distill-qwen-7b", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", 0.6, 0.95, 32768,
         True),
    ],
)
def test_real_model_recipes_use_the_papers_sampling_on_vllm(
    recipe: str, model: str, temperature: float, top_p: float, max_tokens: int,
    system_in_user: bool,
) -> None:
    policy = load_config(recipe).policy
    assert (policy.model, policy.temperature, policy.top_p, policy.max_tokens) == (
        model, temperature, top_p, max_tokens
    )
    assert policy.engine.name == "vllm" and policy.engine.system_in_user == system_in_user
    assert (policy.engine.vllm.max_model_len or 0) > max_tokens


def test_qwen_math_recipe_allows_an_8k_context_past_its_4k_positions() -> None:
    assert load_config("qwen-math-1.5b-vllm").policy.engine.vllm.allow_long_max_model_len
