"""The mini rationale teacher (code run in the real sandbox), consensus filter and SFT export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttscale.labeling.rationales import (
    MiniOps,
    Synthesized,
    parse_mini_question,
    read_sft,
    synthesize,
    synthesize_one,
    teacher_check,
    write_sft,
)
from ttscale.labeling.rollouts import LabeledSolution
from ttscale.mini import task
from ttscale.rewards.genprm_protocol import SYSTEM, parse_decision
from ttscale.sandbox import CodeSandbox, SandboxConfig, execute_for_genprm, open_sandbox

Q = (
    "Hana has 31 books. Hana gives away 7. Hana gives away 10. The number grows 3 times. "
    "How many books does Hana have now?"
)
RIGHT = ("Step 1: 31 - 7 = 24", "Step 2: 24 - 10 = 14", "Step 3: 14 * 3 = 42",
         "The answer is \\boxed{42}.")  # fmt: skip
WRONG = ("Step 1: 31 - 7 = 24", "Step 2: 24 - 10 = 14", "Step 3: 14 * 3 = 32",
         "The answer is \\boxed{32}.")  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CodeSandbox]:
    box = open_sandbox(SandboxConfig())
    yield box
    box.close()


def _labeled(steps: tuple[str, ...], rpe: tuple[int, ...]) -> LabeledSolution:
    return LabeledSolution("p", Q, "42", 3, steps, all(rpe), 0.5, 16, (0.5,) * len(rpe), rpe, rpe)


def test_mini_questions_are_read_back_into_their_operations() -> None:
    for level in range(1, 6):
        problem = task.generate(level, 7)
        parsed = parse_mini_question(problem.text)
        assert parsed == MiniOps(problem.start, tuple((op.kind, op.operand) for op in problem.ops))


def test_analysis_and_code_do_not_state_the_verdict() -> None:
    ops = parse_mini_question(Q)
    for steps in (RIGHT, WRONG):
        analysis, code = teacher_check(ops, steps, 2)
        assert "correct" not in analysis.lower() and "wrong" not in analysis.lower()
        assert code == f"print(14 * 3 == {steps[2].split('= ')[1]})"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (RIGHT, (True, True, True, True)),
        (WRONG, (True, True, False)),  # rationales stop at the first error
        (("Step 1: 31 - 7 = 24", "The answer is \\boxed{24}."), (True, False)),
        (("Step 1: 31 - 6 = 25",), (False,)),  # wrong operand of the problem
    ],
)
def test_teacher_judgements_come_from_code_run_in_the_sandbox(
    sandbox: CodeSandbox, steps: tuple[str, ...], expected: tuple[bool, ...]
) -> None:
    with sandbox.open_session() as session:
        item = synthesize_one(
            _labeled(steps, (1,) * len(steps)), lambda t: execute_for_genprm(session, t)
        )
    assert item.judgements == expected
    for rationale, judged in zip(item.rationales, expected, strict=True):
        shown = "True" if judged else "False"
        assert f"[Code Output]\n\n```\n{shown}\n```\n" in rationale
        assert parse_decision(rationale) is judged


@pytest.mark.parametrize(
    ("steps", "rpe", "kept"),
    [
        (RIGHT, (1, 1, 1, 1), True),
        (WRONG, (1, 1, 0, 0), True),
        (WRONG, (1, 0, 0, 0), False),  # RPE blames step 2, the teacher step 3
        (RIGHT, (1, 1, 0, 0), False),  # RPE says wrong, the code says right
        (WRONG, (1, 1, 1, 1), False),
    ],
)
def test_consensus_filter_keeps_only_agreeing_first_errors(
    sandbox: CodeSandbox, steps: tuple[str, ...], rpe: tuple[int, ...], kept: bool
) -> None:
    (item,) = synthesize([_labeled(steps, rpe)], sandbox=sandbox)
    assert item.kept is kept


def test_sft_export_writes_genprm_multi_turn_conversations(
    sandbox: CodeSandbox, tmp_path: Path
) -> None:
    items: list[Synthesized] = synthesize(
        [_labeled(WRONG, (1, 1, 0, 0)), _labeled(RIGHT, (1, 0, 0, 0))], sandbox=sandbox
    )
    path = tmp_path / "sft.jsonl"
    assert write_sft(items, path) == 1
    (messages,) = read_sft(path)
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 3
    assert messages[0]["content"] == SYSTEM
    assert messages[1]["content"] == f"Question: {Q}\n\nStep 1: 31 - 7 = 24"
    assert messages[5]["content"] == "Step 3: 14 * 3 = 32"
    assert messages[6]["content"].endswith("$\\boxed{No}$\n</output>\n")
    assert json.loads(path.read_text().splitlines()[0])["messages"] == messages
