"""The per-step state machine of GenPRM (reference/genprm.md §3.3), one per (solution, sample).

A machine never calls the engine: :meth:`StepMachine.request` says what it wants generated next
and :meth:`StepMachine.advance` takes the completion, so the verifier can send every machine's
request to the engine in one batched call and advance them all in lockstep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ttscale.rewards.genprm_protocol import (
    ANALYZE_START,
    ANALYZE_STOP,
    CODE_OUTPUT_OPEN,
    CODE_STOP,
    MAX_ROUNDS,
    OUTPUT_START,
    OUTPUT_STOP,
    VERIFY_START,
    parse_decision,
)
from ttscale.types import Ablation, Completion

"""§3.8 inference modes: CoT + code + execution; CoT only (stop at ``</analyze>``, then the
output); CoT + code whose output the model writes itself (no execution)."""
Stage = Literal["analyze", "loop", "fallback", "done"]
ExecuteCode = Callable[[str], str]
"""Runs the last python block of the text in this machine's session; GenPRM's output string."""


@dataclass(frozen=True)
class Want:
    """What a machine asks the engine for: continue ``text`` under these limits."""

    text: str
    stop: tuple[str, ...]
    max_tokens: int
    logprobs: bool


class StepMachine:
    """Judges one step: analyze, then up to ``MAX_ROUNDS`` verify/execute rounds, then output.

    ``text`` is the assistant turn so far (forced prefixes included); when ``stage`` is "done",
    ``text`` is the full rationale kept as history and ``final`` the last generation (its
    logprobs give the reward).
    """

    def __init__(
        self, k: int, *, ablation: Ablation, execute: ExecuteCode | None,
        count_tokens: Callable[[str], int], budget: int, analyze_max_tokens: int,
    ) -> None:  # fmt: skip
        self.stage: Stage = "analyze"
        self.text = ANALYZE_START.format(k=k)
        self.analysis = ""
        self.rounds = 0
        self.final: Completion | None = None
        self._writing_output = False
        """No-execution mode: the model is writing its own [Code Output], so only the end of
        the output block stops it (its closing fence would look like another code block)."""
        self._ablation, self._execute = ablation, execute
        self._count, self._budget, self._analyze_max = count_tokens, budget, analyze_max_tokens

    def request(self) -> Want | None:
        if self.stage == "analyze":
            return Want(self.text, (ANALYZE_STOP,), self._analyze_max, False)
        if self.stage == "loop":
            left = self._budget - self._count(self.text)
            if left > 0 and self.rounds < MAX_ROUNDS:
                plain = self._ablation == "cot_only" or self._writing_output
                stops = (OUTPUT_STOP,) if plain else (CODE_STOP, OUTPUT_STOP)
                return Want(self.text, stops, left, True)
            self._to_fallback()
        if self.stage == "fallback":
            return Want(self.text, (OUTPUT_STOP,), 20, True)
        return None

    def advance(self, sent: str, out: Completion) -> None:
        """Take the completion of the request whose prompt ended in ``sent``."""
        text = sent + out.text
        if self.stage == "analyze":
            self.analysis = text
            after = OUTPUT_START if self._ablation == "cot_only" else VERIFY_START
            if not text.endswith(ANALYZE_STOP):
                text += "\n" + ANALYZE_STOP  # a cut analysis still gets a closed tag
            self.text, self.stage = text + after, "loop"
        elif self.stage == "fallback" or text.endswith(OUTPUT_STOP):
            self.text, self.final, self.stage = text, out, "done"
        else:
            self.rounds += 1
            self.text = text + self._code_output(text)

    def _code_output(self, text: str) -> str:
        # §3.3 step 4: whatever did not end the output block is treated as a closed code block.
        if self._ablation == "code_no_exec" or self._execute is None:
            self._writing_output = True
            return CODE_OUTPUT_OPEN
        return f"{CODE_OUTPUT_OPEN}{self._execute(text)}\n```\n"

    def _to_fallback(self) -> None:
        """§3.3 step 5: keep only the analysis, then force the output block."""
        head = self.analysis.split("</analyze>")[0]
        self.text, self.stage = head + "</analyze>\n" + OUTPUT_START, "fallback"

    @property
    def decision(self) -> bool | None:
        return parse_decision(self.text) if self.stage == "done" else None
