"""GenPRM's exact code-execution strings, its code extraction, and the [Code Output] block.

The GenPRM model was trained on these strings, so they are reproduced byte for byte from the
official ``CodeExecutor`` (reference/genprm.md §3.4; sandbox-and-reliability.md §1.1):
stdout ``.strip()``-ed on success, the timeout and error strings below, and the output block
``[Code Output]\\n\\n```\\n{out}\\n```\\n`` (the paper's "[Code output: ...]" is not what the code
does; the code is followed).
"""

from __future__ import annotations

import re

from ttscale.sandbox.base import ExecResult, Session

NO_CODE = "Code format error: No code found."
TIMED_OUT = "Code execute time out: Code execution timed out"
CODE_OUTPUT_OPEN = "[Code Output]\n\n```\n"
"""What the no-execution ablation appends before letting the model write the output itself."""

# GenPRM: re.findall(r'```python\s*(.*?)\s*```', text, re.DOTALL)[-1]
_PYTHON_BLOCK = re.compile(r"```python\s*(.*?)\s*```", re.DOTALL)


def extract_last_python_block(text: str) -> str | None:
    """The last ```python block of a model's text, as GenPRM's regex finds it; None if none.

    Example:
        >>> extract_last_python_block("```python\\nx = 1\\n```\\n```python\\nx = 2\\n```")
        'x = 2'
    """
    blocks = _PYTHON_BLOCK.findall(text)
    return blocks[-1] if blocks else None


def error_text(exc_type: str, message: str) -> str:
    """``f"Code execute Error: {type(e).__name__}: {e}"``."""
    return f"Code execute Error: {exc_type}: {message}"


def genprm_output(result: ExecResult) -> str:
    """The string GenPRM's executor returns for this result.

    ok and output_limit give the (kept) stdout stripped; timeout gives the time-out string
    (output before it is dropped, as in GenPRM); format gives "No code found". error, exit
    and killed give the error string; GenPRM's in-process exec had no outcome for exits and
    crashes (they took the evaluator down), so those use ``SystemExit: <code>`` and
    ``SandboxKilled: <what happened>``.

    Example:
        >>> genprm_output(ExecResult(kind="error", exc_type="NameError",
        ...                          exc_message="name 'x' is not defined"))
        "Code execute Error: NameError: name 'x' is not defined"
    """
    if result.kind in ("ok", "output_limit"):
        return result.stdout.strip()
    if result.kind == "timeout":
        return TIMED_OUT
    if result.kind == "format":
        return NO_CODE
    return error_text(result.exc_type or "SandboxKilled", result.exc_message or "")


def code_output_block(output: str) -> str:
    """The block appended after the model's code: ``[Code Output]\\n\\n```\\n{out}\\n```\\n``.

    Example:
        >>> code_output_block("6")
        '[Code Output]\\n\\n```\\n6\\n```\\n'
    """
    return f"{CODE_OUTPUT_OPEN}{output}\n```\n"


def run_last_block(session: Session, text: str, *, timeout_s: float = 5.0) -> ExecResult:
    """Run the last python block of ``text`` in the session; kind "format" when there is none."""
    code = extract_last_python_block(text)
    if code is None:
        return ExecResult(kind="format")
    return session.run(code, timeout_s=timeout_s)


def execute_for_genprm(session: Session, text: str, *, timeout_s: float = 5.0) -> str:
    """GenPRM's ``CodeExecutor.execute``: extract, run, and return the output string."""
    return genprm_output(run_last_block(session, text, timeout_s=timeout_s))
