"""Sandbox throughput: code blocks per second on a warm session, and the cold-start cost.

Measures, in one run: (a) cold start, i.e. constructing the sandbox (start-up check plus one
worker importing the preloads) and running the first block; (b) opening a session from the
warm pool; (c) many small stateful blocks (``x = x + 1; print(x)``) on one warm session, as a
GenPRM step's verification code runs, reporting blocks/s, p50/p90 latency and the CPU time
the whole process tree spent per block (less sensitive than wall time to other jobs on the
machine); and (d) one sympy-heavy block for scale. The final ``x`` is checked, so a block that
silently lost state fails the run.

    python bench/sandbox.py [--backend bwrap] [--blocks 300] [--no-sympy]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from ttscale.sandbox import SandboxConfig, open_sandbox


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="bwrap", help="bwrap (default) or rlimits-only")
    parser.add_argument("--blocks", type=int, default=300, help="warm blocks (default 300)")
    parser.add_argument("--no-sympy", action="store_true", help="preload nothing")
    args = parser.parse_args()
    if args.blocks < 10:
        parser.error("--blocks must be >= 10")
    return args


def cpu_seconds() -> float:
    """CPU time of this process (the host side)."""
    t = os.times()
    return t.user + t.system


def tree_cpu_seconds(root: int) -> float:
    """CPU time of the live process tree under root, plus every child it has reaped.

    Each process's utime+stime+cutime+cstime counts itself and its reaped descendants once,
    and reaped processes are no longer in the tree, so the sum counts every process once.
    """
    total, stack, tick = 0, [root], os.sysconf("SC_CLK_TCK")
    while stack:
        pid = stack.pop()
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rfind(")") + 2 :].split()
            total += sum(int(f) for f in fields[11:15])
            for tid in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{tid}/children").read_text()
                stack += [int(k) for k in children.split()]
        except OSError:
            continue
    return total / tick


def main() -> None:
    args = parse_args()
    preload = () if args.no_sympy else ("sympy",)
    cfg = SandboxConfig(backend=args.backend, preload=preload, pool_size=1)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    sandbox = open_sandbox(cfg)
    constructed = time.perf_counter() - t0
    with sandbox.open_session() as session:
        session.run("x = 0").raise_for_status()
    cold = time.perf_counter() - t0
    print(f"backend {args.backend}, preload {list(preload)}; isolation: "
          f"{', '.join(sandbox.isolation.layers())}")
    print(f"cold start: {cold * 1000:.0f} ms (start-up check + worker + preload "
          f"{constructed * 1000:.0f} ms, first block {(cold - constructed) * 1000:.0f} ms)")

    t1 = time.perf_counter()
    session = sandbox.open_session()
    print(f"session from the warm pool: {(time.perf_counter() - t1) * 1000:.1f} ms")
    session.run("x = 0").raise_for_status()
    root = session.worker_pid
    assert root is not None
    latencies = []
    cpu1, tree1, t2 = cpu_seconds(), tree_cpu_seconds(root), time.perf_counter()
    for _ in range(args.blocks):
        start = time.perf_counter()
        result = session.run("x = x + 1; print(x)")
        latencies.append(time.perf_counter() - start)
    wall = time.perf_counter() - t2
    cpu = cpu_seconds() - cpu1 + tree_cpu_seconds(root) - tree1
    if result.stdout.strip() != str(args.blocks):
        raise SystemExit(f"state lost: last block printed {result.stdout!r}")
    heavy = session.run("import sympy\nprint(sympy.factorint(2**64 + 1), sympy.solve('x**3-8'))")
    session.close()
    sandbox.close()
    q = statistics.quantiles(latencies, n=10)
    print(f"warm blocks: {args.blocks / wall:.1f} blocks/s "
          f"(p50 {q[4] * 1000:.1f} ms, p90 {q[8] * 1000:.1f} ms, "
          f"CPU {cpu / args.blocks * 1000:.1f} ms/block over all processes)")
    print(f"sympy block (factorint(2**64+1), solve): {heavy.kind}, {heavy.wall_s * 1000:.0f} ms")
    print(f"host CPU of the run: {cpu_seconds() - cpu0:.2f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
