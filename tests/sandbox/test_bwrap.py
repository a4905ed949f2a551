"""The start-up check of the bwrap backend: what it finds, and when it refuses to run code.

Faults are injected with real stand-ins for bwrap (small shell scripts on disk) that behave
like the broken environments of reference/sandbox-and-reliability.md §1.9: no bwrap at all,
bwrap denied user namespaces (Ubuntu's AppArmor, Docker's seccomp), a network namespace that
silently is not there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ttscale.errors import ConfigError, SandboxUnavailableError
from ttscale.sandbox import SandboxConfig, open_sandbox
from ttscale.sandbox import worker_sandbox as worker_sandbox_module
from ttscale.sandbox.session import WorkerSession
from ttscale.sandbox.worker_sandbox import WorkerSandbox

from .helpers import FAST, require_bwrap


def fake_bwrap(tmp_path: Path, body: str) -> str:
    script = tmp_path / "bwrap"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def refusal(cfg: SandboxConfig) -> str:
    with pytest.raises(SandboxUnavailableError) as info:
        open_sandbox(cfg)
    message = str(info.value)
    assert "\n" not in message
    assert "apt-get install -y bubblewrap" in message
    assert "backend='rlimits-only'" in message
    return message


def test_start_up_check_finds_every_required_layer(sandbox: WorkerSandbox) -> None:
    report = sandbox.isolation
    assert report.backend == "bwrap"
    assert report.bwrap is not None and report.bwrap.endswith("bwrap")
    assert (report.user_ns, report.pid_ns, report.net_ns, report.mount_ns, report.rlimits) == (
        True, True, True, True, True,
    )
    assert report.process_cap in ("pids-cgroup", "rlimit-nproc")
    assert set(report.layers()) >= {"user_ns", "pid_ns", "net_ns", "mount_ns", "rlimits"}


def test_rlimits_are_set_inside(session: WorkerSession) -> None:
    code = (
        "import resource as r\nprint([r.getrlimit(getattr(r, n))[0] for n in "
        "('RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CORE', 'RLIMIT_CPU')])"
    )
    mib = 1 << 20
    expected = [FAST.memory_mb * mib, FAST.file_size_mb * mib, FAST.max_open_files, 0, FAST.cpu_s]
    assert session.run(code).stdout == f"{expected}\n"


def test_missing_bwrap_is_refused_with_how_to_install(tmp_path: Path) -> None:
    message = refusal(FAST.model_copy(update={"bwrap_path": str(tmp_path / "no-bwrap")}))
    assert "bubblewrap not found" in message


def test_bwrap_denied_user_namespaces_is_refused_with_its_error(tmp_path: Path) -> None:
    path = fake_bwrap(tmp_path, 'echo "bwrap: setting up uid map: Permission denied" >&2; exit 1')
    message = refusal(FAST.model_copy(update={"bwrap_path": path}))
    assert "setting up uid map: Permission denied" in message


def test_a_missing_network_namespace_is_detected_and_refused(tmp_path: Path) -> None:
    require_bwrap()
    body = (
        'for a in "$@"; do shift; [ "$a" = "--unshare-net" ] || set -- "$@" "$a"; done\n'
        'exec bwrap "$@"'
    )
    path = fake_bwrap(tmp_path, body)
    message = refusal(FAST.model_copy(update={"bwrap_path": path}))
    assert "missing net_ns" in message


def test_root_without_a_pids_cgroup_is_refused_unless_the_cap_is_waived(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_bwrap()
    if os.geteuid() != 0:
        pytest.skip("as non-root, RLIMIT_NPROC is the process cap")
    monkeypatch.setattr(worker_sandbox_module, "pids_cgroup_root", lambda: None)
    assert "a process cap" in refusal(FAST)
    with open_sandbox(FAST.model_copy(update={"max_processes": None})) as sandbox:
        assert sandbox.isolation.process_cap is None
        with sandbox.open_session() as session:
            assert session.run("print(1)").stdout == "1\n"


def test_unknown_backend_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"Did you mean 'bwrap'.*Available: bwrap, rlimits-only"):
        open_sandbox(SandboxConfig(backend="bwarp"))
