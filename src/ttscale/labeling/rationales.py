"""Rationale synthesis with executed code, the consensus filter, and the SFT export (§7.1).

The miniature world's teacher is deterministic: for each step it writes an ``<analyze>`` sentence
(what the step claims, which operation of the PROBLEM it should apply to which previous value), a
``<verify>`` python block that recomputes the step from the problem's operation and the previous
step's stated result and prints the comparison, the real ``[Code Output]`` of that block run in
the sandbox, and the ``<output>`` judgement read from that output. The wording before the code
output never says whether the step is right, so a model trained on it must run the code (or do the
arithmetic) to judge. The consensus filter keeps a solution only where the teacher's first error
agrees with the RPE labels' first error (GenPRM drops ~51% this way).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ttscale.errors import DataError
from ttscale.labeling.rollouts import LabeledSolution
from ttscale.mini import task
from ttscale.rewards.genprm_protocol import (
    ANALYZE_START,
    ANALYZE_STOP,
    CODE_OUTPUT_OPEN,
    CODE_STOP,
    OUTPUT_START,
    OUTPUT_STOP,
    VERIFY_START,
    conversation,
)

if TYPE_CHECKING:
    from ttscale.sandbox import CodeSandbox, SandboxConfig

RunCode = Callable[[str], str]
"""Runs one code block in a persistent session and returns GenPRM's output string."""

_STEP = re.compile(r"^Step (\d+): (-?\d+) ([-+*/]) (-?\d+) = (-?\d+)$")
_ANSWER = re.compile(r"^The answer is \\boxed\{(-?\d+)\}\.?$")


@dataclass(frozen=True)
class MiniOps:
    """A mini problem read back from its text: the start value and the operations in order."""

    start: int
    ops: tuple[tuple[str, int], ...]


def _sentence_patterns() -> list[tuple[re.Pattern[str], str]]:
    out: list[tuple[re.Pattern[str], str]] = []
    for kind, templates in task._SENTENCES.items():
        for template in templates:
            body = re.escape(template).replace(r"\{p\}", r"\w+").replace(r"\{x\}", r"(\d+)")
            out.append((re.compile(f"^{body}$"), kind))
    return out


_PATTERNS = _sentence_patterns()
_FIRST = re.compile(r"^\w+ has (\d+) \w+\.$")


def parse_mini_question(question: str) -> MiniOps:
    """The start value and operations of a mini problem, from its sentences.

    Raises:
        DataError: the text is not a mini problem.
    """
    sentences = re.findall(r"[^.?]+[.?]", question)
    first = _FIRST.match(sentences[0].strip()) if sentences else None
    if first is None:
        raise DataError(f"question {question[:60]!r} is not a mini problem (no start value)")
    ops = []
    for sentence in sentences[1:-1]:
        kind = next((k for p, k in _PATTERNS if (m := p.match(sentence.strip()))), None)
        m = re.search(r"(\d+)", sentence)
        if kind is None or m is None:
            raise DataError(f"sentence {sentence.strip()!r} is not a mini operation")
        ops.append((kind, int(m.group(1))))
    return MiniOps(int(first.group(1)), tuple(ops))


def _stated(step: str) -> int | None:
    m = _STEP.match(step.strip())
    return int(m.group(5)) if m else None


def teacher_check(problem: MiniOps, steps: Sequence[str], k: int) -> tuple[str, str]:
    """(analysis sentence, python code) for step ``k`` (0-based); neither says the verdict."""
    prev = problem.start if k == 0 else _stated(steps[k - 1])
    step, n = steps[k].strip(), len(problem.ops)
    if prev is None:
        return "The previous paragraph states no result.", "print(False)"
    if (m := _ANSWER.match(step)) is not None:
        return (
            f"The step gives the final answer {m[1]} as Paragraph {k + 1}. "
            f"The problem has {n} operations, and the previous result is {prev}.",
            f"print({k + 1} == {n} + 1 and {m[1]} == {prev})",
        )
    if (m := _STEP.match(step)) is None:
        return "The step states no calculation.", "print(False)"
    claim = f"{m[2]} {m[3]} {m[4]} = {m[5]}"
    if k >= n:
        return (
            f"The step claims {claim}. The problem has only {n} operations.",
            f"print({k + 1} <= {n})",
        )
    kind, x = problem.ops[k]
    return (
        f"The step claims {claim}. Operation {k + 1} of the problem is {kind} {x}, "
        f"on the previous result {prev}.",
        f"print({prev} {kind} {x} == {m[5]})",
    )


def teacher_rationale(
    problem: MiniOps, steps: Sequence[str], k: int, run: RunCode
) -> tuple[str, bool]:
    """Step ``k``'s full assistant turn in GenPRM's format and its judgement (from the output)."""
    analysis, code = teacher_check(problem, steps, k)
    head = (
        f"{ANALYZE_START.format(k=k + 1)}{analysis}\n{ANALYZE_STOP}{VERIFY_START}{code}{CODE_STOP}"
    )
    output = run(head)
    judgement = output.strip() == "True"
    tail = f"{CODE_OUTPUT_OPEN}{output}\n```\n</verify>\n{OUTPUT_START}"
    decision = "{Yes}$\n" if judgement else "{No}$\n"
    return head + tail + decision + OUTPUT_STOP, judgement


@dataclass(frozen=True)
class Synthesized:
    """One labelled solution with the teacher's rationales and whether consensus kept it."""

    solution: LabeledSolution
    rationales: tuple[str, ...]
    judgements: tuple[bool, ...]
    kept: bool


def first_error_of(labels: Iterable[bool | int]) -> int:
    """Index of the first negative label, -1 if none."""
    return next((i for i, v in enumerate(labels) if not v), -1)


def synthesize_one(solution: LabeledSolution, run: RunCode) -> Synthesized:
    """Teacher rationales up to the first step the teacher judges wrong, then the filter.

    Steps after the first error are not written: their RPE labels are 0 by construction while a
    step-local check may pass them, and ProcessBench only asks for the first error.
    """
    problem = parse_mini_question(solution.question)
    rationales: list[str] = []
    judgements: list[bool] = []
    for k in range(len(solution.steps)):
        text, ok = teacher_rationale(problem, solution.steps, k, run)
        rationales.append(text)
        judgements.append(ok)
        if not ok:
            break
    teacher_first = first_error_of(judgements)
    kept = teacher_first == first_error_of(solution.rpe)
    return Synthesized(solution, tuple(rationales), tuple(judgements), kept)


def sft_messages(item: Synthesized) -> list[dict[str, str]]:
    """GenPRM's per-step multi-turn conversation: system, then (user step, assistant rationale)."""
    steps = item.solution.steps[: len(item.rationales)]
    return [
        {"role": m.role, "content": m.content}
        for m in conversation(item.solution.question, steps, item.rationales)
    ]


def write_sft(items: Sequence[Synthesized], path: Path) -> int:
    """JSONL of message lists, one kept conversation a line; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = [item for item in items if item.kept]
    with path.open("w") as f:
        for item in kept:
            f.write(json.dumps({"messages": sft_messages(item)}) + "\n")
    return len(kept)


def read_sft(path: Path) -> list[list[dict[str, str]]]:
    if not path.is_file():
        raise DataError(f"SFT data {str(path)!r} does not exist; run `ttscale synthesize` first")
    return [json.loads(line)["messages"] for line in path.read_text().splitlines() if line]


@dataclass(frozen=True)
class SynthesisReport:
    solutions: int
    kept: int
    out_path: str

    @property
    def kept_share(self) -> float:
        return self.kept / self.solutions if self.solutions else 0.0


def synthesize(solutions: Sequence[LabeledSolution], *, sandbox: CodeSandbox) -> list[Synthesized]:
    """The teacher over every solution, one sandbox session (persistent namespace) each."""
    from ttscale.sandbox import execute_for_genprm

    out = []
    for solution in solutions:
        with sandbox.open_session() as session:
            out.append(synthesize_one(solution, lambda text: execute_for_genprm(session, text)))
    return out


def synthesize_file(labels: Path, out_path: Path, *, sandbox_cfg: SandboxConfig) -> SynthesisReport:
    """``ttscale synthesize``: labels JSONL in, filtered SFT conversations JSONL out."""
    from ttscale.labeling.rollouts import read_labels
    from ttscale.sandbox import open_sandbox

    solutions = read_labels(labels)
    sandbox = open_sandbox(sandbox_cfg)
    try:
        items = synthesize(solutions, sandbox=sandbox)
    finally:
        sandbox.close()
    kept = write_sft(items, out_path)
    return SynthesisReport(len(items), kept, str(out_path))
