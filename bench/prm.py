"""Batched (token budget) vs one-solution-at-a-time scoring throughput of a classifier PRM.

Scores the same ``--n`` mini solutions (reference solutions of mini-500, all levels) (a) in one
``score`` call, packed into forward passes under ``--token-budget``, and (b) one ``score`` call
per solution, and prints the steps scored per second of each and their ratio. Both sides are
timed ``--repeats`` times, interleaved, keeping the fastest, so a busy machine skews them alike.

    python bench/prm.py [--prm mini-prm|PATH] [--spec mini-prm] [--random-init] [--n 256]
                        [--token-budget 8192] [--threads 1]

``--random-init`` scores with random weights of the same architecture (the ``--prm`` folder's
config.json if it exists, else mini-policy-s's), for when the trained mini-prm is not there yet:
throughput does not depend on the weights.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from ttscale.mini import task
from ttscale.mini.models import load_tokenizer, model_path
from ttscale.rewards import prms
from ttscale.rewards.base import ScoreRequest
from ttscale.rewards.classifier import ClassifierPRM


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prm", default="mini-prm",
                        help="a registered PRM name or a model folder (default mini-prm)")
    parser.add_argument("--spec", default="mini-prm",
                        help="the spec that reads a model folder (default mini-prm)")
    parser.add_argument("--random-init", action="store_true",
                        help="random weights of the same architecture (see above)")
    parser.add_argument("--n", type=int, default=256, help="solutions scored (default 256)")
    parser.add_argument("--token-budget", type=int, default=8192,
                        help="tokens per forward pass in (a) (default 8192)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--repeats", type=int, default=3,
                        help="measure both sides this many times, keep the fastest (default 3)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default 0: torch's default)")
    args = parser.parse_args()
    if args.n < 1 or args.repeats < 1:
        parser.error("--n and --repeats must be >= 1")
    return args


def random_model(prm: str, out_dir: Path) -> Path:
    """A randomly initialised LlamaForCausalLM with the mini tokenizer, saved in out_dir."""
    from transformers import AutoConfig, AutoModelForCausalLM

    folder = Path(prm) if Path(prm).is_dir() else model_path(prm)
    if not (folder / "config.json").is_file():
        folder = model_path("mini-policy-s")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(folder)))
    out = out_dir / f"{folder.name}-random-init"
    model.save_pretrained(str(out))
    load_tokenizer().save_pretrained(str(out))
    return out


def requests(n: int) -> list[ScoreRequest]:
    problems = task.benchmark_set()
    return [ScoreRequest(p.text, tuple(p.solution().split("\n\n")))
            for p in (problems[i % len(problems)] for i in range(n))]


def timed(prm: ClassifierPRM, batch: list[ScoreRequest]) -> tuple[int, float]:
    """Steps scored by one ``score`` call, and its wall-clock seconds."""
    started = time.perf_counter()
    scores = prm.score(batch)
    elapsed = time.perf_counter() - started
    return sum(len(s.rewards) for s in scores if s.error is None), elapsed


def main() -> None:
    args = parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    name_is_spec = args.prm in prms
    spec = prms.get(args.prm if name_is_spec else args.spec)
    with tempfile.TemporaryDirectory() as tmp:
        source = random_model(args.prm, Path(tmp)) if args.random_init else (
            None if name_is_spec else args.prm)
        prm = ClassifierPRM(spec, source, device=args.device, token_budget=args.token_budget)
    batch = requests(args.n)
    timed(prm, batch[:4])  # warm-up
    batched_s = single_s = float("inf")
    for _ in range(args.repeats):  # interleaved, best of each: both see the same machine load
        steps, seconds = timed(prm, batch)
        batched_s = min(batched_s, seconds)
        single_steps, seconds = 0, 0.0
        for request in batch:
            done, call_s = timed(prm, [request])
            single_steps, seconds = single_steps + done, seconds + call_s
        single_s = min(single_s, seconds)
    print(f"prm {prm.name} (spec {spec.name}, {prm.num_parameters:,} params) on "
          f"{args.device} ({torch.get_num_threads()} CPU threads), n={args.n} solutions, "
          f"token budget {args.token_budget}")
    print(f"(a) one batched call    : {steps:6d} steps in {batched_s:7.2f} s "
          f"= {steps / batched_s:9.1f} steps/s")
    print(f"(b) {args.n} single calls : {single_steps:6d} steps in {single_s:7.2f} s "
          f"= {single_steps / single_s:9.1f} steps/s")
    print(f"speed-up (a)/(b): {(steps / batched_s) / (single_steps / single_s):.1f}x")


if __name__ == "__main__":
    main()
