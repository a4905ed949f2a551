"""The ttscale error hierarchy.

Every error a user can cause derives from :class:`TTScaleError`; the CLI turns these into a
one-line message and exit code 2 (a traceback only with ``--debug``). Messages name the
parameter, the value and what is allowed.
"""

from __future__ import annotations


class TTScaleError(Exception):
    """Base class of every error ttscale raises on purpose."""


class ConfigError(TTScaleError):
    """A recipe, override or argument is invalid (unknown key, bad value, unknown name)."""


class DataError(TTScaleError):
    """A dataset cannot be found or read (missing file, malformed line, missing column)."""


class EngineError(TTScaleError):
    """A model cannot be loaded or a generation request is invalid."""


class GradingError(TTScaleError):
    """An answer could not be graded (e.g. the grader worker died)."""


class SandboxError(TTScaleError):
    """Code execution was refused or the sandbox itself failed."""


class SandboxUnavailableError(SandboxError):
    """The isolation a sandbox backend requires is missing, so it refuses to run code."""


class SandboxTimeoutError(SandboxError):
    """A code block ran past its wall-clock deadline and was killed (distinct from a kill)."""


class SandboxKilledError(SandboxError):
    """The sandbox killed a code block (a signal, an output flood) or its worker died."""


class SandboxCodeError(SandboxError):
    """Sandboxed code raised, exited, or there was no code to run."""
