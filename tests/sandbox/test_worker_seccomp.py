"""The hand-assembled seccomp program, run through a small classic-BPF interpreter."""

from __future__ import annotations

import importlib.util
import struct
from types import ModuleType

import pytest

from ttscale.sandbox._process import WORKER_FILES


def load_seccomp() -> ModuleType:
    path = next(p for p in WORKER_FILES if p.name == "_worker_seccomp.py")
    spec = importlib.util.spec_from_file_location("ttscale_sandbox_seccomp", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seccomp = load_seccomp()
I386 = 0x40000003
EPERM = 0x00050001
ALLOW = 0x7FFF0000


def run_filter(arch: int, nr: int) -> int:
    """Evaluate the program on seccomp_data {nr, arch}: the subset of cBPF it uses."""
    ops = [struct.unpack("HBBI", seccomp.program()[i : i + 8])
           for i in range(0, len(seccomp.program()), 8)]
    data = {0: nr, 4: arch}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = ops[pc]
        if code == 0x20:
            acc = data[k]
        elif code == 0x06:
            return k
        elif code in (0x15, 0x35):
            taken = acc == k if code == 0x15 else acc >= k
            pc += jt if taken else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


@pytest.mark.parametrize(
    ("arch", "nr", "expected"),
    [
        (seccomp.AUDIT_ARCH_X86_64, 0, ALLOW),  # read
        (seccomp.AUDIT_ARCH_X86_64, 57, ALLOW),  # fork
        (seccomp.AUDIT_ARCH_X86_64, 250, EPERM),  # keyctl
        (seccomp.AUDIT_ARCH_X86_64, 101, EPERM),  # ptrace
        (seccomp.AUDIT_ARCH_X86_64, 442, EPERM),  # mount_setattr, the last one
        (seccomp.AUDIT_ARCH_X86_64, 443, ALLOW),
        (seccomp.AUDIT_ARCH_X86_64, 0x40000000 + 250, EPERM),  # the x32 ABI
        (I386, 0, EPERM),  # int 0x80 from a 64-bit process
    ],
)
def test_filter_denies_the_list_and_other_abis(arch: int, nr: int, expected: int) -> None:
    assert run_filter(arch, nr) == expected


def test_every_listed_call_is_denied() -> None:
    for name, nr in seccomp.DENIED_X86_64.items():
        assert run_filter(seccomp.AUDIT_ARCH_X86_64, nr) == EPERM, name
