"""SandboxConfig: how model-written code is isolated and limited (pydantic, extra="forbid").

Defaults follow reference/sandbox-and-reliability.md §0: AS 1 GiB (sympy and numpy import at
512 MiB, fail at 256), CPU a few seconds, FSIZE 16 MiB, NOFILE 64, a pids cap, a 64 MiB tmpfs,
and GenPRM's 5 s per block (reference/genprm.md §3.4).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    backend: str = "bwrap"
    """Sandbox backend by registry name: "bwrap" (required isolation: user, pid, net and mount
    namespaces, rlimits, a process cap) or "rlimits-only" (explicit opt-in to weaker isolation:
    a plain subprocess with rlimits and a scrubbed environment, no namespaces)."""
    bwrap_path: str = "bwrap"
    """The bubblewrap binary (a path, or a name looked up on PATH)."""
    timeout_s: float = Field(5.0, gt=0)
    """Default wall-clock limit of one code block, in seconds (GenPRM uses 5)."""
    cpu_s: int = Field(10, ge=1)
    """CPU seconds one block may use (RLIMIT_CPU); a backstop behind the wall deadline that also
    stops several threads spinning at once."""
    memory_mb: int = Field(1024, ge=256)
    """Address-space limit of every sandboxed process (RLIMIT_AS), in MiB."""
    file_size_mb: int = Field(16, ge=1)
    """Largest file a block may write (RLIMIT_FSIZE), in MiB."""
    max_open_files: int = Field(64, ge=16)
    """Open file descriptors per process (RLIMIT_NOFILE)."""
    max_processes: int | None = Field(64, ge=8)
    """Processes and threads in one sandbox (pids cgroup when running as root, RLIMIT_NPROC
    otherwise). None runs without a process cap, an explicit opt-out."""
    tmpfs_mb: int = Field(64, ge=1)
    """Size of the private tmpfs mounted at /tmp, the only writable place (bwrap)."""
    max_output_bytes: int = Field(65536, ge=1024)
    """Bytes of stdout (and of stderr) kept per block; longer output keeps head and tail."""
    kill_output_bytes: int = Field(1 << 20, ge=1024)
    """A block that writes more than this (stdout + stderr) is killed as an output flood."""
    preload: tuple[str, ...] = ("sympy",)
    """Modules the warm worker imports once, before it forks a process per block."""
    startup_timeout_s: float = Field(60.0, gt=0)
    """Wall-clock limit for starting a worker (interpreter start plus the preloads)."""
    kill_grace_s: float = Field(1.5, gt=0)
    """Extra seconds past a block's deadline before ttscale kills the whole sandbox itself."""
    pool_size: int = Field(2, ge=0)
    """Warm workers kept after their session closes, reset to a fresh namespace and reused."""

    @model_validator(mode="after")
    def _kill_above_kept(self) -> SandboxConfig:
        if self.kill_output_bytes < self.max_output_bytes:
            raise ValueError(
                f"kill_output_bytes ({self.kill_output_bytes}) must be >= max_output_bytes "
                f"({self.max_output_bytes})"
            )
        return self
