"""Final-answer extraction from model text (pure Python, fast, no math-verify).

The last ``\\boxed{...}`` wins (balanced braces; ``\\fbox`` too); otherwise the Llama-style
"final answer is $X$" and a plain "The answer is X" (reference/tts-frameworks.md §2.7).
"""

from __future__ import annotations

import re

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(\s*)")
_BARE_TOKEN_RE = re.compile(r"[^\s$]+")
_FINAL_RE = re.compile(r"final answer is:?\s*\$([^$]+)\$", re.IGNORECASE)
_ANSWER_RE = re.compile(r"\banswer is:?[ \t]*([^\n]+)", re.IGNORECASE)


def _matching_brace(text: str, open_at: int) -> int | None:
    """Index of the ``}`` closing the ``{`` at ``open_at``; escaped braces do not count."""
    depth, i = 0, open_at
    while i < len(text):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 2 if char == "\\" else 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last top-level ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces).

    ``\\boxed 5`` (no braces) gives ``"5"``. A box that is never closed (a truncated generation)
    ends the search, so the last complete box before it wins.
    """
    found: str | None = None
    pos = 0
    while (match := _BOX_RE.search(text, pos)) is not None:
        start = match.end()
        if start < len(text) and text[start] == "{":
            close = _matching_brace(text, start)
            if close is None:
                break
            found, pos = text[start + 1 : close], close + 1
        elif match.group(1) and (token := _BARE_TOKEN_RE.match(text, start)):
            found, pos = token.group().rstrip(".,;"), token.end()
        else:
            pos = start
    if found is None:
        return None
    return found.strip() or None


def _clean_fallback(answer: str) -> str | None:
    """Trim a sentence-style answer: cut at the sentence end, drop ``$``, ``\\(`` and bold."""
    answer = re.split(r"\.\s", answer, maxsplit=1)[0].strip()
    answer = answer.rstrip(".").strip().strip("*").strip()
    if answer.startswith("\\(") and answer.endswith("\\)"):
        answer = answer[2:-2]
    answer = answer.strip().strip("$").strip()
    return answer or None


def extract_answer(text: str) -> str | None:
    """The final answer stated in a solution, or None.

    The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``); failing that the last
    "final answer is $X$", then the last "the answer is X".
    """
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    finals = _FINAL_RE.findall(text)
    if finals:
        return finals[-1].strip() or None
    plain = _ANSWER_RE.findall(text)
    return _clean_fallback(plain[-1]) if plain else None
