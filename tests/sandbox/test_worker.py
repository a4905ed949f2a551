"""Pieces of the in-sandbox supervisor that can be checked on their own, on the host."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import time
from types import ModuleType

import pytest

from ttscale.sandbox._process import WORKER_SCRIPT


def load_worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ttscale_sandbox_worker", WORKER_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = load_worker()


def test_both_ways_of_finding_descendants_agree() -> None:
    tree = subprocess.Popen(["/bin/sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        found = {}
        for _ in range(100):  # until the shell has started both sleeps
            found = {"children": sorted(worker.descendants(tree.pid)),
                     "scan": sorted(worker.descendants_by_scan(tree.pid))}
            if len(found["children"]) == 2:
                break
            time.sleep(0.02)
        assert len(found["children"]) == 2
        assert found["children"] == found["scan"]
    finally:
        for pid in worker.descendants(tree.pid):
            os.kill(pid, signal.SIGKILL)
        tree.kill()
        tree.wait()


@pytest.mark.parametrize(
    ("chunks", "kept", "truncated"),
    [
        ([b"abc", b"def"], b"abcdef", False),
        ([b"x" * 700, b"y" * 700], None, True),
    ],
)
def test_capture_keeps_head_and_tail_within_the_cap(
    chunks: list[bytes], kept: bytes | None, truncated: bool
) -> None:
    capture = worker.Capture(1024)
    for chunk in chunks:
        capture.add(chunk)
    value, cut = capture.value()
    assert cut is truncated
    assert len(value) <= 1024
    if kept is not None:
        assert value == kept
    else:
        assert value.startswith(b"x" * 700) and value.endswith(b"y" * 256)
        assert b"bytes truncated" in value
