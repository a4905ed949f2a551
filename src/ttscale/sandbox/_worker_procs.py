"""Process-tree helpers (stdlib only): loaded by the in-sandbox _worker.py, imported by the host."""

from __future__ import annotations

import os


def proc_stat(pid: int) -> tuple[str, int]:
    """(state letter, parent pid) of pid from /proc, or ("", 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return "", 0
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1])


def alive(pid: object) -> bool:
    return isinstance(pid, int) and proc_stat(pid)[0] not in ("", "Z", "X")


def descendants(root: int) -> list[int]:
    """Every descendant of root, from /proc/<pid>/task/<tid>/children (or a full /proc scan
    on kernels built without CONFIG_PROC_CHILDREN)."""
    if not HAS_CHILDREN_FILES:
        return descendants_by_scan(root)
    found: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


def descendants_by_scan(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(proc_stat(int(entry))[1], []).append(int(entry))
    found: list[int] = []
    stack = [root]
    while stack:
        kids = children.get(stack.pop(), [])
        found.extend(kids)
        stack.extend(kids)
    return found


HAS_CHILDREN_FILES = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
