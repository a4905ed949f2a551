"""GenPRM's exact conversation format, decision parsing and step reward (reference/genprm.md §3).

Shared by the verifier (:mod:`ttscale.rewards.genprm`), the rationale teacher and the SFT export
(:mod:`ttscale.labeling.rationales`), so the model is trained on exactly the strings it later sees.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from ttscale.types import ChatMessage, TokenLogprobs

SYSTEM = (
    "You are a math teacher. Your task is to review and critique the paragraphs in solution "
    "step by step."
)
"""§3.1: the system message of every official path and of the training data."""
ANALYZE_START = "<analyze>\nLet's analyze the Paragraph {k} step by step: "
VERIFY_START = "<verify>\nLet's use python code to find any potential error:\n```python\n"
OUTPUT_START = "<output>\n**Judgement**: $\\boxed"
ANALYZE_STOP = "</analyze>\n"
CODE_STOP = "\n```\n"
OUTPUT_STOP = "</output>\n"
CODE_OUTPUT_OPEN = "[Code Output]\n\n```\n"
MAX_ROUNDS = 3
"""§3.3 ``time_limit=3``: generate calls of the verify loop before the analyze-only fallback."""

RewardMode = Literal["official_like", "calibrated", "hard"]
ChatForm = Literal["continue", "main", "generation_prompt"]
"""How the forced prefix meets the chat template (§3.1): ``continue`` puts it in an assistant
message the engine continues (ChatML: the mini tokenizer); ``main`` appends it right after the
last user turn with no assistant tag (the ``main`` branch, ``add_generation_prompt=False``);
``generation_prompt`` appends it after the template's generation prompt (HF card, ``zj_dev``)."""

_OUTPUT_BLOCK = re.compile(r"<output>(.*?)(?:</output>|$)", re.DOTALL)
_DECISION = re.compile(r"(Yes|No)\}", re.IGNORECASE)


def first_user_turn(question: str, step: str) -> str:
    """§3.1: the training-data form, ``Question: {problem}\\n\\n{step_1}``."""
    return f"Question: {question}\n\n{step}"


def conversation(
    question: str, steps: tuple[str, ...] | list[str], rationales: tuple[str, ...] | list[str]
) -> tuple[ChatMessage, ...]:
    """System, then one user turn per step; step t's earlier rationales are assistant turns.

    ``rationales`` holds the full assistant content of steps 1..t-1 (len(steps) - 1 of them)
    when building the prompt for step t, or one per step for an SFT conversation.
    """
    messages = [ChatMessage("system", SYSTEM)]
    for t, step in enumerate(steps):
        messages.append(ChatMessage("user", first_user_turn(question, step) if t == 0 else step))
        if t < len(rationales):
            messages.append(ChatMessage("assistant", rationales[t]))
    return tuple(messages)


def parse_decision(text: str) -> bool | None:
    """The judgement from the LAST ``<output>`` block only (§3.6: never from the rationale).

    Returns True for Yes, False for No, None when there is no output block or no decision.
    """
    blocks = _OUTPUT_BLOCK.findall(text)
    if not blocks:
        return None
    match = _DECISION.search(blocks[-1])
    return None if match is None else match.group(1).lower() == "yes"


@dataclass(frozen=True)
class RewardTokens:
    yes_id: int
    no_id: int


def decision_position(
    logprobs: tuple[TokenLogprobs, ...], tokens: RewardTokens, decision: bool
) -> TokenLogprobs | None:
    """§3.5: the last position in the final generation that sampled the decided token."""
    wanted = tokens.yes_id if decision else tokens.no_id
    for position in reversed(logprobs):
        if position.token_id == wanted:
            return position
    return None


def step_reward(
    position: TokenLogprobs | None,
    tokens: RewardTokens,
    *,
    decision: bool | None,
    mode: RewardMode,
    temperature: float = 0.6,
    top_p: float = 0.95,
) -> float:
    """r = p(Yes) / (p(Yes) + p(No)) at the decision token (§3.5).

    ``calibrated``: the two-way softmax of the raw logprobs. ``official_like``: the same on
    logprobs after temperature and top-p truncation, as vLLM V0 returned them (so the loser is
    usually masked and r is 0 or 1). ``hard``: 1/0 from the decision. A missing token stands in
    with the smallest returned logprob; no decision or no position gives 0.5, as in the code.
    """
    if decision is None:
        return 0.5
    if mode == "hard":
        return 1.0 if decision else 0.0
    if position is None:
        return 0.5
    top = {t.token_id: t.logprob for t in position.top}
    top.setdefault(position.token_id, position.logprob)
    if mode == "official_like":
        top = _truncated(top, temperature=temperature, top_p=top_p)
    floor = min(top.values())
    lp_yes, lp_no = top.get(tokens.yes_id, floor), top.get(tokens.no_id, floor)
    p_yes = math.exp(lp_yes) if lp_yes > -math.inf else 0.0
    p_no = math.exp(lp_no) if lp_no > -math.inf else 0.0
    return 0.5 if p_yes + p_no == 0 else p_yes / (p_yes + p_no)


def _truncated(top: dict[int, float], *, temperature: float, top_p: float) -> dict[int, float]:
    """Logprobs after temperature scaling and top-p masking (renormalised over the top set)."""
    scaled = {t: lp / max(temperature, 1e-6) for t, lp in top.items()}
    norm = math.log(sum(math.exp(v) for v in scaled.values()))
    out, mass = {}, 0.0
    for token, value in sorted(scaled.items(), key=lambda kv: -kv[1]):
        out[token] = value - norm if mass < top_p else -math.inf
        mass += math.exp(value - norm)
    return out
