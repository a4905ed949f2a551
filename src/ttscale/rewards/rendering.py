"""Render a (question, steps) pair for a classifier PRM spec: text, token ids, read positions.

Markers are placed with a sentinel character that cannot occur in the question or steps, then
swapped for the real marker, so their character spans are exact even when the text itself
contains the marker string (a Russian "ки" in a Math-Shepherd input, say). Tokens are then found
from the tokenizer's offsets, not by searching for the marker id. The miniature PRM's trainer
calls :func:`render` too, so training and scoring see the same input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ttscale.errors import ConfigError, TTScaleError
from ttscale.rewards.specs import PRMSpec


class RenderError(TTScaleError):
    """One solution cannot be rendered for a PRM (a per-sample failure, not a config error)."""


@dataclass(frozen=True)
class RenderedText:
    """The PRM input as text, and the [start, end) character span of each step's marker."""

    text: str
    marker_spans: tuple[tuple[int, int], ...]
    step_spans: tuple[tuple[int, int], ...] = ()
    """[start, end) characters of each step's own text, for a ``spec.surprise`` spec (whose
    template puts each step right before its marker, as PRMSpec checks); () otherwise."""


@dataclass(frozen=True)
class SpecTokens:
    """A spec's token ids in one tokenizer."""

    marker: int
    replacement: int | None
    """The id written over each marker (None: the marker stays)."""
    compare: tuple[int, ...]
    """For "token_pair" heads: the ids of ``spec.compare_tokens`` (e.g. Yes, No)."""


@dataclass(frozen=True)
class RenderedInput:
    """Token ids for the model and, per step, where its marker is and where it is read."""

    input_ids: tuple[int, ...]
    marker_positions: tuple[int, ...]
    """Token index of each step's marker (after replacement the id there may differ)."""
    read_positions: tuple[int, ...]
    """marker_positions + spec.read_offset: where each step's reward is read."""
    step_spans: tuple[tuple[int, int], ...] = ()
    """[start, end) token positions of each step's own text (tokens wholly inside it), for the
    surprise head (:mod:`ttscale.rewards.surprise`); () unless ``spec.surprise``."""


def _clean(spec: PRMSpec, step: str) -> str:
    if spec.newlines_to_spaces:
        step = step.replace("\n", " ")
    return step.strip() if spec.strip_steps else step


def _sentinel(texts: Sequence[str]) -> str:
    for code in range(0xE000, 0xF900):  # Unicode private use area
        char = chr(code)
        if not any(char in t for t in texts):
            return char
    raise RenderError("no free private-use character to mark step positions with")


@lru_cache(maxsize=16)
def _compiled(template: str) -> Any:
    # transformers renders chat templates in this sandboxed environment with these settings
    # (transformers.utils.chat_template_utils); matching them keeps our text identical.
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise RenderError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def _with_sentinels(spec: PRMSpec, question: str, steps: list[str], mark: str, bos: str) -> str:
    body = spec.step_joiner.join(spec.step_template.format(step=s, marker=mark) for s in steps)
    if spec.template == "plain":
        prefix = bos if spec.bos == "in_text" else ""
        return prefix + question + spec.question_joiner + body
    messages: list[dict[str, str]] = []
    if spec.system_prompt is not None:
        messages.append({"role": "system", "content": spec.system_prompt})
    if spec.template == "chat":
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": body}]
    else:
        for k, step in enumerate(steps):
            user = question + spec.question_joiner + step if k == 0 else step
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": mark}]
    text: str = _compiled(spec.chat_template).render(
        messages=messages, bos_token=bos, add_generation_prompt=False
    )
    return text


def render_text(
    spec: PRMSpec, question: str, steps: Sequence[str], *, bos_token: str = ""
) -> RenderedText:
    """The text a PRM is given for one solution, with the character span of every marker.

    Args:
        spec: the PRM's spec.
        question: the problem text.
        steps: the solution's steps (at least one), cleaned as the spec says.
        bos_token: the tokenizer's BOS text, for templates that write it into the text.

    Raises:
        RenderError: no steps, or the template did not place one marker per step.
    """
    if not steps:
        raise RenderError("no steps to score (ScoreRequest.steps is empty)")
    cleaned = [_clean(spec, s) for s in steps]
    mark = _sentinel([question, *cleaned, spec.system_prompt or "", bos_token])
    raw = _with_sentinels(spec, question, cleaned, mark, bos_token)
    pieces = raw.split(mark)
    if len(pieces) != len(cleaned) + 1:
        raise RenderError(
            f"prm spec {spec.name!r}: the template placed {len(pieces) - 1} "
            f"markers for {len(cleaned)} steps"
        )
    text, spans, steps_at = pieces[0], [], []
    for step, piece in zip(cleaned, pieces[1:], strict=True):
        steps_at.append((len(text) - len(step), len(text)))
        spans.append((len(text), len(text) + len(spec.marker)))
        text += spec.marker + piece
    return RenderedText(text, tuple(spans), tuple(steps_at) if spec.surprise else ())


def _single_token(spec: PRMSpec, tokenizer: Any, token: str, role: str) -> int:
    """The id of ``token``: pinned by the spec, else as the reference code takes it
    (``encode(token)[-1]``); either way it must decode back to the token."""
    pinned = dict(spec.pinned_ids).get(token)
    ids = [pinned] if pinned is not None else tokenizer.encode(token, add_special_tokens=False)
    if (
        not ids
        or not 0 <= ids[-1] < len(tokenizer)
        or (tokenizer.decode(ids[-1:]).strip() != token.strip())
    ):
        why = (
            f"the pinned id {pinned} is not it"
            if pinned is not None
            else f"it encodes to {len(ids)} pieces"
        )
        raise ConfigError(
            f"prm spec {spec.name!r}: its {role} {token!r} is not a token of this tokenizer "
            f"({why}); use the spec's own tokenizer, or add the token"
        )
    return int(ids[-1])


def spec_token_ids(spec: PRMSpec, tokenizer: Any) -> SpecTokens:
    """Resolve the spec's marker, replacement and compare tokens in ``tokenizer``.

    Raises:
        ConfigError: one of them is not a single token of this tokenizer.
    """
    replacement = spec.marker_replacement
    return SpecTokens(
        marker=_single_token(spec, tokenizer, spec.marker, "step marker"),
        replacement=None
        if replacement is None
        else _single_token(spec, tokenizer, replacement, "marker replacement"),
        compare=tuple(
            _single_token(spec, tokenizer, t, "compare token") for t in spec.compare_tokens
        ),
    )


Span = tuple[int, int]


def _marker_tokens(spans: Sequence[Span], offsets: Sequence[Span]) -> list[int]:
    """Index of the last token covering each marker's last character (offsets are ordered)."""
    found, t = [], 0
    for _, end in spans:
        last = end - 1
        while t < len(offsets) and not (offsets[t][0] <= last < offsets[t][1]):
            t += 1
        while t + 1 < len(offsets) and offsets[t + 1][0] <= last < offsets[t + 1][1]:
            t += 1
        if t >= len(offsets):
            raise RenderError("a step marker has no token (the tokenizer dropped it)")
        found.append(t)
    return found


def _step_tokens(spans: Sequence[Span], offsets: Sequence[Span]) -> list[Span]:
    """Token [start, end) of the tokens lying wholly inside each character span (spans and
    offsets both in text order, so one pass)."""
    found, t = [], 0
    for a, b in spans:
        while t < len(offsets) and offsets[t][0] < a:
            t += 1
        end = t
        while end < len(offsets) and offsets[end][1] <= b:
            end += 1
        found.append((t, end))
    return found


def render(
    spec: PRMSpec,
    tokenizer: Any,
    question: str,
    steps: Sequence[str],
    *,
    tokens: SpecTokens | None = None,
) -> RenderedInput:
    """Token ids of one solution for ``spec`` and where each step's reward is read.

    Args:
        spec: the PRM's spec.
        tokenizer: a fast Hugging Face tokenizer (offsets are needed) that has the spec's tokens.
        question: the problem text.
        steps: the solution's steps (at least one).
        tokens: :func:`spec_token_ids` of this tokenizer, when the caller has it already.

    Raises:
        ConfigError: the tokenizer lacks a spec token, or is not a fast tokenizer.
        RenderError: no steps, or a marker did not become its own token.

    Example (the miniature PRM's training input):
        >>> from ttscale.mini.models import load_tokenizer
        >>> from ttscale.rewards.specs import MINI_PRM
        >>> r = render(MINI_PRM, load_tokenizer(), "2 + 3?", ["Step 1: 2 + 3 = 5"])
        >>> r.read_positions == r.marker_positions
        True
    """
    if not tokenizer.is_fast:
        raise ConfigError(f"prm spec {spec.name!r} needs a fast tokenizer (with offsets)")
    tokens = tokens or spec_token_ids(spec, tokenizer)
    rendered = render_text(spec, question, steps, bos_token=tokenizer.bos_token or "")
    encoded = tokenizer(
        rendered.text, add_special_tokens=spec.bos == "by_tokenizer", return_offsets_mapping=True
    )
    ids = list(encoded["input_ids"])
    positions = _marker_tokens(rendered.marker_spans, encoded["offset_mapping"])
    for pos in positions:
        if ids[pos] != tokens.marker:
            raise RenderError(
                f"prm spec {spec.name!r}: step marker {spec.marker!r} merged with "
                "neighbouring text into another token"
            )
        if tokens.replacement is not None:
            ids[pos] = tokens.replacement
    reads = tuple(p + spec.read_offset for p in positions)
    if reads and reads[0] < 0:
        raise RenderError(f"prm spec {spec.name!r}: the first marker is the first token")
    steps_at = _step_tokens(rendered.step_spans, encoded["offset_mapping"])
    return RenderedInput(tuple(ids), tuple(positions), reads, tuple(steps_at))
