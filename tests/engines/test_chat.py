"""Chat rendering pitfalls (reference/tts-frameworks.md §10), offline.

Real Llama-3 / R1 templates cannot be downloaded here, so the templates below are small
stand-ins written for these tests that reproduce the behaviour that matters: Llama-3's
``Today Date`` from ``strftime_now`` and its ``| trim`` of every message, and R1's bare
user/assistant markers with no system turn of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ttscale.engines.chat import LLAMA_DEFAULT_DATE, ChatFormat, fold_system, render_chat
from ttscale.errors import EngineError
from ttscale.mini.models import load_tokenizer
from ttscale.types import ChatMessage

LLAMA_STYLE = (
    "{%- if not date_string is defined %}{%- if strftime_now is defined %}"
    "{%- set date_string = strftime_now('%d %b %Y') %}{%- else %}"
    "{%- set date_string = '26 Jul 2024' %}{%- endif %}{%- endif %}"
    "<|start_header_id|>system<|end_header_id|>\n\nToday Date: {{ date_string + '\\n\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{ messages[0]['content'] | trim }}{%- endif %}"
    "<|eot_id|>{%- for m in messages %}{%- if m['role'] != 'system' %}"
    "<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)
R1_STYLE = (
    "{%- if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{%- endif %}"
    "{%- for m in messages %}{%- if m['role'] == 'user' %}<|User|>{{ m['content'] }}"
    "{%- elif m['role'] == 'assistant' %}<|Assistant|>{{ m['content'] }}<|end|>{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{ '<|Assistant|><think>\\n' }}{%- endif %}"
)
QUESTION = "What is 2 + 3?"
INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
STEP = "Step 1: 2 + 3 = 5\n\n"


def tokenizer_with(template: str) -> Any:
    tokenizer = load_tokenizer()
    tokenizer.chat_template = template
    return tokenizer


def render(template: str, *messages: ChatMessage, continue_final: bool = False,
           chat_format: ChatFormat | None = None) -> str:
    return render_chat(tokenizer_with(template), messages, continue_final=continue_final,
                       chat_format=chat_format or ChatFormat())


def test_llama_date_is_pinned_not_today() -> None:
    text = render(LLAMA_STYLE, ChatMessage("user", QUESTION))
    assert f"Today Date: {LLAMA_DEFAULT_DATE}\n" in text
    # Without the pin the stand-in writes today's date, as the real template does.
    unpinned = tokenizer_with(LLAMA_STYLE).apply_chat_template(
        [{"role": "user", "content": QUESTION}], tokenize=False, add_generation_prompt=True
    )
    assert f"Today Date: {datetime.now().strftime('%d %b %Y')}" in unpinned


def test_the_pinned_date_is_configurable() -> None:
    text = render(LLAMA_STYLE, ChatMessage("user", QUESTION),
                  chat_format=ChatFormat(date_string="01 Jan 2025"))
    assert "Today Date: 01 Jan 2025\n" in text


def test_continuing_a_trimmed_assistant_turn_keeps_its_step_separator() -> None:
    messages = (ChatMessage("user", QUESTION), ChatMessage("assistant", STEP))
    text = render(LLAMA_STYLE, *messages, continue_final=True)
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n" + STEP)
    # transformers alone loses the "\n\n" the template trimmed: the step would not have ended.
    plain = tokenizer_with(LLAMA_STYLE).apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages], tokenize=False,
        continue_final_message=True,
    )
    assert plain.endswith("= 5")


def test_continuing_an_untrimmed_assistant_turn_is_left_as_rendered() -> None:
    text = render_chat(
        load_tokenizer(), (ChatMessage("user", QUESTION), ChatMessage("assistant", STEP)),
        continue_final=True, chat_format=ChatFormat(),
    )
    assert text == f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n{STEP}"


def test_r1_gets_the_instruction_after_the_problem_and_no_system_prompt() -> None:
    messages = (ChatMessage("system", INSTRUCTION), ChatMessage("user", QUESTION))
    text = render(R1_STYLE, *messages, chat_format=ChatFormat(system_in_user=True))
    assert text == f"<|User|>{QUESTION}\n{INSTRUCTION}<|Assistant|><think>\n"


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ((ChatMessage("user", "q"),), (ChatMessage("user", "q"),)),
        ((ChatMessage("system", "s"), ChatMessage("user", "q"), ChatMessage("assistant", "a")),
         (ChatMessage("user", "q\ns"), ChatMessage("assistant", "a"))),
        ((ChatMessage("system", "s"),), (ChatMessage("user", "s"),)),
    ],
    ids=["no-system", "system-then-user", "system-only"],
)
def test_fold_system(messages: tuple[ChatMessage, ...], expected: tuple[ChatMessage, ...]) -> None:
    assert fold_system(messages) == expected


def test_continue_final_needs_a_final_assistant_message() -> None:
    with pytest.raises(EngineError, match="continue_final=True needs the last message"):
        render(LLAMA_STYLE, ChatMessage("user", QUESTION), continue_final=True)


def test_no_messages_raise_engine_error() -> None:
    with pytest.raises(EngineError, match="no messages"):
        render(LLAMA_STYLE)


def test_a_failing_template_raises_engine_error() -> None:
    with pytest.raises(EngineError, match="chat template failed"):
        render("{{ raise_exception('no tools') }}", ChatMessage("user", QUESTION))


def recipe_prompt(recipe: str, template: str, *extra: ChatMessage) -> str:
    """The first policy prompt of a recipe, rendered as its engine would render it."""
    from ttscale.config import load_config
    from ttscale.search.prompting import problem_messages
    from ttscale.types import Problem

    config = load_config(recipe)
    engine = config.policy.engine
    messages = (*problem_messages(Problem("p1", QUESTION, "5"), config.policy.system_prompt),
                *extra)
    return render_chat(
        tokenizer_with(template), messages, continue_final=bool(extra),
        chat_format=ChatFormat(engine.date_string, engine.system_in_user),
    )


def test_r1_recipe_prompt_has_no_system_turn() -> None:
    text = recipe_prompt("r1-distill-qwen-7b", R1_STYLE)
    assert text == f"<|User|>{QUESTION}\n{INSTRUCTION}<|Assistant|><think>\n"


@pytest.mark.parametrize("recipe", ["llama-3.2-1b", "llama-3.2-3b"])
def test_llama_recipe_prompt_has_the_pinned_date_and_the_official_system_prompt(
    recipe: str,
) -> None:
    text = recipe_prompt(recipe, LLAMA_STYLE)
    assert text.startswith(
        f"<|start_header_id|>system<|end_header_id|>\n\nToday Date: {LLAMA_DEFAULT_DATE}\n\n"
        "Solve the following math problem efficiently and clearly:\n\n"
    )
    assert text.endswith(f"<|start_header_id|>user<|end_header_id|>\n\n{QUESTION}<|eot_id|>"
                         "<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_llama_recipe_continues_a_step_after_its_separator() -> None:
    text = recipe_prompt("llama-3.2-1b", LLAMA_STYLE, ChatMessage("assistant", STEP))
    assert text.endswith(f"<|start_header_id|>assistant<|end_header_id|>\n\n{STEP}")
