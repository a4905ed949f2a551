"""A seccomp filter the in-sandbox supervisor installs on itself before forking anything.

Standard library only (hand-assembled classic BPF, installed with prctl through ctypes);
loaded by _worker.py from its own directory. Defence in depth behind the namespaces
(reference/sandbox-and-reliability.md §3.3 L5): the calls below fail with EPERM for every
process of the sandbox. It matters most when ttscale runs as root: the sandbox's uid then maps
to the host's uid 0, which owns root's kernel keyrings (keyctl) and the like. x86-64 only;
elsewhere nothing is installed and the start-up check reports the layer missing.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
DENIED_X86_64 = {
    "ptrace": 101, "syslog": 103, "personality": 135, "vhangup": 153, "pivot_root": 155,
    "acct": 163, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_EPERM = 0x00050000 | errno.EPERM
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def program() -> bytes:
    """Deny the listed calls, any other ABI (int 0x80, x32) and allow the rest."""
    denied = sorted(DENIED_X86_64.values())
    n = len(denied)
    ops = [_op(_LD_W_ABS, 4), _op(_JEQ_K, AUDIT_ARCH_X86_64, jt=1)]  # seccomp_data.arch
    ops.append(_op(_RET_K, _RET_EPERM))
    ops.append(_op(_LD_W_ABS, 0))  # seccomp_data.nr
    ops.append(_op(_JGE_K, X32_SYSCALL_BIT, jt=n + 1))  # x32 numbers: to the deny at the end
    ops += [_op(_JEQ_K, nr, jt=n - i) for i, nr in enumerate(denied)]
    ops += [_op(_RET_K, _RET_ALLOW), _op(_RET_K, _RET_EPERM)]
    return b"".join(ops)


class _Prog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install() -> bool:
    """Install the filter on this process (inherited by every child); False if unsupported."""
    if platform.machine() != "x86_64":
        return False
    code = ctypes.create_string_buffer(program())
    prog = _Prog(len(code.raw) // 8, ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0
