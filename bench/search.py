"""Wall time of beam search against Best-of-N, and the share spent outside the models.

On the same problems and the same N, runs Best-of-N and step-level beam search (paper and
refill semantics) and DVTS with mini-policy-s and a PRM (default the exact mini-oracle), each
``--repeats`` times interleaved, keeping the fastest. Prints, per strategy, wall seconds, the
seconds inside ``policy.generate`` and ``prm.score``, the share of wall time outside both (the
strategy's own Python: aim <= 10%), and beam search's wall time over Best-of-N's (aim <= 1.5).

    python bench/search.py [--problems 50] [--n 16] [--prm mini-oracle] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ttscale.config import (
    BeamSearchConfig,
    BestOfNConfig,
    DVTSConfig,
    PolicyConfig,
    PRMConfig,
    StrategyConfig,
    strategy_label,
)
from ttscale.data.datasets import load_dataset
from ttscale.runs.runner import build_policy, build_prm
from ttscale.search import strategies


class Timed:
    """Wraps a policy or PRM and adds up the seconds spent in its one batch method."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner, self.seconds, self.calls = inner, 0.0, 0
        self.name, self.num_parameters = inner.name, inner.num_parameters
        setattr(self, method, self._timed(getattr(inner, method)))

    def _timed(self, fn: Callable[[Sequence[Any]], Any]) -> Callable[[Sequence[Any]], Any]:
        def call(batch: Sequence[Any]) -> Any:
            began = time.perf_counter()
            try:
                return fn(batch)
            finally:
                self.seconds += time.perf_counter() - began
                self.calls += 1

        return call

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))


@dataclass
class Timing:
    wall: float
    engine: float
    prm: float
    rounds: int
    tokens: int

    @property
    def outside(self) -> float:
        return (self.wall - self.engine - self.prm) / self.wall


def measure(cfg: StrategyConfig, problems: list, policy: Any, prm: Any,
            sampling: PolicyConfig) -> Timing:
    timed_policy, timed_prm = Timed(policy, "generate"), Timed(prm, "score")
    strategy = strategies.get(cfg.name)
    began = time.perf_counter()
    results = strategy(problems, policy=timed_policy, prm=timed_prm, cfg=cfg, sampling=sampling,
                       seed=0)
    wall = time.perf_counter() - began
    tokens = sum(r.usage.completion_tokens for r in results)
    return Timing(wall, timed_policy.seconds, timed_prm.seconds, timed_policy.calls, tokens)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=50,
                        help="problems, spread evenly over mini-500's levels (default 50)")
    parser.add_argument("--n", type=int, default=16, help="N for every strategy (default 16)")
    parser.add_argument("--beam-width", type=int, default=4, help="M (default 4)")
    parser.add_argument("--prm", default="mini-oracle", help="PRM registry name")
    parser.add_argument("--policy", default="mini-policy-s", help="policy model")
    parser.add_argument("--max-tokens", type=int, default=160, help="per solution (default 160)")
    parser.add_argument("--repeats", type=int, default=2, help="keep the fastest (default 2)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default 0: torch's default)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    everything = load_dataset("mini-500")
    step = max(1, len(everything) // args.problems)
    problems = everything[::step][: args.problems]
    sampling = PolicyConfig(model=args.policy, max_tokens=args.max_tokens)
    policy = build_policy(sampling)
    prm = build_prm(PRMConfig(name=args.prm))
    beam = {"n": args.n, "beam_width": args.beam_width, "max_steps": 10, "step_max_tokens": 48}
    configs: list[StrategyConfig] = [
        BestOfNConfig(n=args.n),
        BeamSearchConfig(**beam),
        BeamSearchConfig(**beam, semantics="refill"),
        DVTSConfig(**beam),
    ]
    measure(configs[0], problems[:2], policy, prm, sampling)  # warm-up
    best: dict[str, Timing] = {}
    for _ in range(args.repeats):
        for cfg in configs:
            t = measure(cfg, problems, policy, prm, sampling)
            label = strategy_label(cfg)
            if label not in best or t.wall < best[label].wall:
                best[label] = t
    print(f"{len(problems)} problems, N={args.n}, M={args.beam_width}, policy {args.policy}, "
          f"PRM {args.prm}, torch threads {torch.get_num_threads()}")
    print(f"{'strategy':<26}{'wall s':>8}{'engine s':>10}{'PRM s':>8}{'outside':>9}"
          f"{'rounds':>8}{'tokens':>9}")
    for label, t in best.items():
        print(f"{label:<26}{t.wall:>8.2f}{t.engine:>10.2f}{t.prm:>8.2f}{100 * t.outside:>8.1f}%"
              f"{t.rounds:>8}{t.tokens:>9}")
    bon = best[strategy_label(configs[0])].wall
    for cfg in configs[1:3]:
        label = strategy_label(cfg)
        print(f"wall-time ratio {label} / {strategy_label(configs[0])}: "
              f"{best[label].wall / bon:.2f} (aim <= 1.5)")


if __name__ == "__main__":
    main()
