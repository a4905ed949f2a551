"""Chat prompts rendered by the model's own template, with the known template pitfalls handled.

Every engine renders chat messages here, so the same messages give the same prompt text (and so
the same tokens) on transformers, vLLM and an OpenAI-compatible server. The pitfalls are those of
reference/tts-frameworks.md §10:

- Llama-3 templates write ``Today Date`` from ``strftime_now``, so a prompt changes with the day
  it runs; ``date_string`` is always passed, which pins it (templates without it ignore it).
- DeepSeek-R1 distills are trained without a system prompt; with ``system_in_user`` the system
  text moves to the end of the first user turn (user = problem + "\\n" + instruction, as the
  compute-optimal-TTS code does).
- Continuing an assistant turn: transformers' ``continue_final_message`` cuts the rendered chat
  after the final message, but templates that ``trim`` content (Llama-3) drop its trailing
  "\\n\\n", so the model would continue a step that has not ended; the lost whitespace is put
  back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ttscale.errors import EngineError
from ttscale.types import ChatMessage, GenerationRequest

LLAMA_DEFAULT_DATE = "26 Jul 2024"
"""The date Llama-3.x templates fall back to when ``strftime_now`` is missing."""


@dataclass(frozen=True)
class ChatFormat:
    """How chat messages become a prompt, beyond the tokenizer's template."""

    date_string: str = LLAMA_DEFAULT_DATE
    """Passed to every template as ``date_string`` (pins Llama-3's ``Today Date``)."""
    system_in_user: bool = False
    """Move the system message to the end of the first user turn (DeepSeek-R1 distills)."""


def fold_system(messages: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The messages with a leading system message appended to the first user turn."""
    if not messages or messages[0].role != "system":
        return tuple(messages)
    system, rest = messages[0], list(messages[1:])
    for i, message in enumerate(rest):
        if message.role == "user":
            rest[i] = ChatMessage("user", f"{message.content}\n{system.content}")
            return tuple(rest)
    return (ChatMessage("user", system.content), *rest)


def render_chat(
    tokenizer: Any,
    messages: Sequence[ChatMessage],
    *,
    continue_final: bool,
    chat_format: ChatFormat,
    index: int = 0,
) -> str:
    """The prompt text of ``messages`` under the tokenizer's chat template.

    Raises:
        EngineError: no messages, ``continue_final`` without a final assistant message, or the
            template failed.
    """
    if not messages:
        raise EngineError(f"request {index}: prompt=() has no messages; give at least one")
    if continue_final and messages[-1].role != "assistant":
        raise EngineError(
            f"request {index}: continue_final=True needs the last message to be role "
            f"'assistant', got {messages[-1].role!r}"
        )
    if chat_format.system_in_user:
        messages = fold_system(messages)
    try:
        text = str(tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            tokenize=False,
            add_generation_prompt=not continue_final,
            continue_final_message=continue_final,
            date_string=chat_format.date_string,
        ))
    except Exception as e:
        raise EngineError(f"request {index}: the chat template failed: {e}") from e
    return _restore_trailing_space(text, messages[-1].content) if continue_final else text


def _restore_trailing_space(text: str, final: str) -> str:
    """Put back the final message's trailing whitespace where the template trimmed it."""
    stripped = final.rstrip()
    tail = final[len(stripped):]
    if tail and text.endswith(stripped) and not text.endswith(final):
        return text + tail
    return text


def prompt_ids(
    tokenizer: Any, request: GenerationRequest, *, index: int, chat_format: ChatFormat
) -> list[int]:
    """A request's prompt as token ids: text as is, chat messages rendered by the template.

    Every engine sends token ids, so all three see exactly the same prompt.

    Raises:
        EngineError: the prompt renders to no tokens.
    """
    text = (
        request.prompt
        if isinstance(request.prompt, str)
        else render_chat(
            tokenizer, request.prompt, continue_final=request.continue_final,
            chat_format=chat_format, index=index,
        )
    )
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if not ids:
        raise EngineError(f"request {index}: the prompt is empty; give at least one token")
    return ids
