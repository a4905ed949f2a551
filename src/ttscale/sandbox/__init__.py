"""The only place model-written code runs: stateful sessions in bwrap, exact GenPRM strings.

Backends are chosen by name through :data:`sandboxes` ("bwrap", the default; "rlimits-only",
an explicit opt-in to weaker isolation). Constructing one checks its isolation and raises
SandboxUnavailableError, with how to fix it, when a required layer is missing.

Example::

    from ttscale.sandbox import SandboxConfig, open_sandbox

    with open_sandbox(SandboxConfig()) as sandbox, sandbox.open_session() as session:
        session.run("x = 6 * 7")
        print(session.run("print(x)").stdout)   # 42
"""

from ttscale.registry import Registry
from ttscale.sandbox.base import CodeSandbox, ExecKind, ExecResult, IsolationReport, Session
from ttscale.sandbox.config import SandboxConfig
from ttscale.sandbox.genprm_format import (
    code_output_block,
    execute_for_genprm,
    extract_last_python_block,
    genprm_output,
)

sandboxes: Registry = Registry("sandbox")
sandboxes.register("bwrap", "ttscale.sandbox.bwrap:bwrap_sandbox")
sandboxes.register("rlimits-only", "ttscale.sandbox.rlimits_only:rlimits_only_sandbox")


def open_sandbox(cfg: SandboxConfig | None = None) -> CodeSandbox:
    """The sandbox named by ``cfg.backend``, checked at start-up.

    Raises:
        ConfigError: unknown backend name.
        SandboxUnavailableError: the backend's required isolation is missing here.
    """
    cfg = cfg or SandboxConfig()
    factory = sandboxes.get(cfg.backend)
    sandbox: CodeSandbox = factory(cfg)
    return sandbox


__all__ = [
    "CodeSandbox",
    "ExecKind",
    "ExecResult",
    "IsolationReport",
    "SandboxConfig",
    "Session",
    "code_output_block",
    "execute_for_genprm",
    "extract_last_python_block",
    "genprm_output",
    "open_sandbox",
    "sandboxes",
]
