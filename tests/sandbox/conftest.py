"""Fixtures for the sandbox tests (real bwrap, real processes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ttscale.sandbox import open_sandbox
from ttscale.sandbox.session import WorkerSession
from ttscale.sandbox.worker_sandbox import WorkerSandbox

from .helpers import FAST, require_bwrap


@pytest.fixture(scope="module")
def sandbox() -> Iterator[WorkerSandbox]:
    require_bwrap()
    sb = open_sandbox(FAST)
    assert isinstance(sb, WorkerSandbox)
    yield sb
    sb.close()


@pytest.fixture
def session(sandbox: WorkerSandbox) -> Iterator[WorkerSession]:
    with sandbox.open_session() as s:
        yield s
