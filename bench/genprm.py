"""GenPRM throughput: ttscale's batched verifier vs the public protocol's pattern, same model.

The public pattern (reference/genprm.md §3.3, §3.6) sends one request at a time, without prefix
reuse, and scores every step even after the first error. ttscale sends every pending request of
every solution in one engine call per tick, and (for ProcessBench) stops a solution at its first
step below 0.5. Both run here on the same engine, model, sandbox and solutions; the figure is
steps verified per second and their ratio. Sandbox blocks/s on a warm session is
``bench/sandbox.py``.

    python bench/genprm.py [--model mini-genprm] [--solutions 24] [--ablation full]
"""

from __future__ import annotations

import argparse
import time

from ttscale.data.processbench import load_processbench
from ttscale.rewards.base import ScoreRequest
from ttscale.rewards.genprm import GenPRM, GenPRMConfig, load_genprm
from ttscale.sandbox import SandboxConfig, open_sandbox


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mini-genprm", help="GenPRM model (default mini)")
    parser.add_argument("--data", default="mini-processbench", help="ProcessBench set")
    parser.add_argument("--solutions", type=int, default=24, help="solutions (default 24)")
    parser.add_argument("--ablation", default="full", help="full, cot_only or code_no_exec")
    args = parser.parse_args()
    if args.solutions < 2:
        parser.error("--solutions must be >= 2")
    return args


def timed(prm: GenPRM, batches: list[list[ScoreRequest]]) -> tuple[int, float, int]:
    """(steps scored, seconds, engine calls) over the batches, one score call each."""
    prm.calls = 0
    began, steps = time.perf_counter(), 0
    for batch in batches:
        for scores in prm.score(batch):
            steps += scores.scored if scores.scored is not None else len(scores.rewards)
    return steps, time.perf_counter() - began, prm.calls


def main() -> None:
    args = parse_args()
    samples = load_processbench(args.data)
    step = max(1, len(samples) // args.solutions)
    chosen = samples[::step][: args.solutions]
    every = [ScoreRequest(s.question, s.steps) for s in chosen]
    early = [ScoreRequest(s.question, s.steps, stop_below=0.5) for s in chosen]
    # both patterns share one warm pool: the comparison is batching and early stop, not starts
    sandbox = open_sandbox(SandboxConfig(preload=(), pool_size=64))
    cfg = GenPRMConfig(ablation=args.ablation)
    prm = load_genprm(args.model, cfg=cfg, sandbox=sandbox, device="cpu")
    rows = [
        ("public pattern: one at a time, every step", timed(prm, [[r] for r in every])),
        ("ttscale: one batch, every step", timed(prm, [every])),
        ("ttscale: one batch, stop at first error", timed(prm, [early])),
    ]
    base = rows[0][1][0] / rows[0][1][1]
    print(f"{args.model} ({args.ablation}), {len(chosen)} solutions of {args.data}")
    for name, (steps, seconds, calls) in rows:
        rate = steps / seconds
        print(f"  {name:45s} {steps:4d} steps {seconds:7.1f} s {calls:5d} calls "
              f"{rate:6.2f} steps/s  {rate / base:5.1f}x")  # fmt: skip
    whole = rows[0][1][0] / rows[0][1][1]
    solutions_rate = len(chosen) / rows[2][1][1] / (len(chosen) / rows[0][1][1])
    print(f"  solutions judged per second, batched+early-stop vs public: {solutions_rate:.1f}x "
          f"(public {whole:.2f} steps/s)")  # fmt: skip


if __name__ == "__main__":
    main()
