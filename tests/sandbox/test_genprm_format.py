"""GenPRM's exact execution strings, code extraction and [Code Output] block (genprm.md §3.4)."""

from __future__ import annotations

import pytest

from ttscale.sandbox import ExecResult, code_output_block, execute_for_genprm, genprm_output
from ttscale.sandbox import extract_last_python_block as extract
from ttscale.sandbox.genprm_format import CODE_OUTPUT_OPEN, NO_CODE, TIMED_OUT, run_last_block
from ttscale.sandbox.session import WorkerSession


def test_the_fixed_strings_are_genprms_byte_for_byte() -> None:
    assert NO_CODE == "Code format error: No code found."
    assert TIMED_OUT == "Code execute time out: Code execution timed out"
    assert CODE_OUTPUT_OPEN == "[Code Output]\n\n```\n"
    assert code_output_block("6\n7") == "[Code Output]\n\n```\n6\n7\n```\n"


EXTRACTION = [
    ("no code at all", None),
    ("```python\nprint(1)\n```", "print(1)"),
    # the last block wins; surrounding whitespace is stripped by the regex's \s*
    ("```python\na = 1\n```\ntext\n```python\n\n  b = 2  \n\n```\n", "b = 2"),
    # an empty block is found (and runs as nothing), as in GenPRM
    ("```python\n```", ""),
    # an unclosed block and other fences are not code
    ("```python\nprint(1)", None),
    ("```py\nprint(1)\n```", None),
    ("```\nprint(1)\n```", None),
    # the lazy match stops at the first closing fence inside the block
    ("```python\ns = '```'\n```", "s = '"),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTION)
def test_extraction_follows_genprms_regex(text: str, expected: str | None) -> None:
    assert extract(text) == expected


RENDERING = [
    (ExecResult(kind="ok", stdout="  42\n\n"), "42"),
    (ExecResult(kind="output_limit", stdout="x" * 10 + "\n"), "x" * 10),
    (ExecResult(kind="timeout", stdout="partial"), TIMED_OUT),
    (ExecResult(kind="format"), NO_CODE),
    (
        ExecResult(kind="error", exc_type="ZeroDivisionError", exc_message="division by zero"),
        "Code execute Error: ZeroDivisionError: division by zero",
    ),
    (
        ExecResult(kind="exit", exc_type="SystemExit", exc_message="3", exit_code=3),
        "Code execute Error: SystemExit: 3",
    ),
    (
        ExecResult(
            kind="killed", exc_type="SandboxKilled", exc_message="process killed by signal SIGSEGV"
        ),
        "Code execute Error: SandboxKilled: process killed by signal SIGSEGV",
    ),
]


@pytest.mark.parametrize(("result", "text"), RENDERING)
def test_results_render_as_genprms_executor_would(result: ExecResult, text: str) -> None:
    assert genprm_output(result) == text


def step(code: str) -> str:
    return f"<verify>\nLet's use python code to find any potential error:\n```python\n{code}\n```\n"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("print('  3 * 4 =', 3 * 4, '  ')", "3 * 4 = 12"),
        ("import math\nprint(math.comb(5, 2))", "10"),
        ("x = 1 / 0", "Code execute Error: ZeroDivisionError: division by zero"),
        ("print(undefined)", "Code execute Error: NameError: name 'undefined' is not defined"),
        ("while True:\n    pass", TIMED_OUT),
        ("print(1", "Code execute Error: SyntaxError: '(' was never closed (<string>, line 1)"),
    ],
)
def test_execute_for_genprm_end_to_end(session: WorkerSession, code: str, expected: str) -> None:
    timeout_s = 1.0 if expected == TIMED_OUT else 5.0
    assert execute_for_genprm(session, step(code), timeout_s=timeout_s) == expected


def test_text_without_code_is_a_format_result(session: WorkerSession) -> None:
    assert run_last_block(session, "<analyze>no code here</analyze>").kind == "format"
    assert execute_for_genprm(session, "<analyze>no code here</analyze>") == NO_CODE


def test_later_blocks_see_names_from_earlier_steps(session: WorkerSession) -> None:
    execute_for_genprm(session, step("total = 3 + 4"))
    text = "earlier\n" + step("x = 1") + step("print(total * 2)")
    assert execute_for_genprm(session, text) == "14"
