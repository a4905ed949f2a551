"""Step-forced solutions, Monte-Carlo completions from every step prefix, and their labels.

GenPRM's data pipeline (reference/genprm.md §7.1), batched: stage 1 samples solutions for every
problem of a batch in one generate call; stage 2 completes every step prefix of every kept
solution of every problem in one more call, K times each with K set per problem by its pass@1
(dynamic K). Results are appended to a JSONL file after each batch, so a crash loses at most the
batch in flight, and a rerun skips the problems already written.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ttscale.data.extraction import extract_answer
from ttscale.errors import DataError
from ttscale.labeling.config import LabelConfig
from ttscale.labeling.rpe import dynamic_k, hard_labels, rpe_labels
from ttscale.mini.task import STEP_SEPARATOR
from ttscale.search.prompting import derive_seed, problem_messages, sampling_request
from ttscale.types import ChatMessage, GenerationRequest, Problem


@dataclass(frozen=True)
class LabeledSolution:
    """One policy solution with a Monte-Carlo estimate and labels for each of its steps."""

    problem_id: str
    question: str
    answer: str
    level: int | None
    steps: tuple[str, ...]
    correct: bool
    pass1: float
    """Share of the stage-1 samples that were right: the MC(s_1) of the RPE recurrence."""
    k: int
    mc: tuple[float, ...]
    rpe: tuple[int, ...]
    hard: tuple[int, ...]

    @classmethod
    def from_json(cls, line: str) -> LabeledSolution:
        row = json.loads(line)
        for key in ("steps", "mc", "rpe", "hard"):
            row[key] = tuple(row[key])
        return cls(**row)


@dataclass(frozen=True)
class _Sampled:
    problem: Problem
    pass1: float
    solutions: tuple[tuple[tuple[str, ...], bool], ...]
    """Kept solutions as (steps, final answer correct)."""


def split_steps(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(STEP_SEPARATOR) if s.strip())


def balanced_choice(correct: Sequence[bool], keep: int, rng: random.Random) -> list[int]:
    """Up to ``keep`` indices, half right and half wrong where both exist (GenPRM §7.1)."""
    right = [i for i, c in enumerate(correct) if c]
    wrong = [i for i, c in enumerate(correct) if not c]
    rng.shuffle(right)
    rng.shuffle(wrong)
    half = keep // 2
    take_right = min(len(right), max(half, keep - len(wrong)))
    take_wrong = min(len(wrong), keep - take_right)
    return sorted(right[:take_right] + wrong[:take_wrong])


def _prompt(problem: Problem, prefix: str, cfg: LabelConfig) -> tuple[ChatMessage, ...]:
    return (*problem_messages(problem, cfg.policy.system_prompt), ChatMessage("assistant", prefix))


def sample_solutions(
    problems: Sequence[Problem], *, policy: Any, grader: Any, cfg: LabelConfig
) -> list[_Sampled]:
    """Stage 1: step-forced samples for every problem in one call; keep balanced paths."""
    requests = [
        sampling_request(
            _prompt(p, cfg.first_prefix, cfg),
            n=cfg.samples_per_problem,
            sampling=cfg.policy,
            seed=derive_seed(cfg.seed, p.id, "label:solutions"),
            continue_final=True,
        )
        for p in problems
    ]
    out: list[_Sampled] = []
    for problem, completions in zip(problems, policy.generate(requests), strict=True):
        # identical samples would be kept twice and weigh double in training
        finished = [cfg.first_prefix + c.text for c in completions if c.finish_reason == "stop"]
        texts = list(dict.fromkeys(finished))
        verdicts = grader.is_correct(
            [extract_answer(t) for t in texts], [problem.answer] * len(texts)
        )
        verdict_of = dict(zip(texts, verdicts, strict=True))
        pass1 = sum(verdict_of[t] for t in finished) / len(completions)
        mixed = any(verdicts) and not all(verdicts)
        if not texts or not (mixed or cfg.keep_unmixed):
            continue
        rng = random.Random(derive_seed(cfg.seed, problem.id, "label:paths"))
        kept = balanced_choice(verdicts, cfg.paths_per_problem, rng)
        solutions = tuple((split_steps(texts[i]), verdicts[i]) for i in kept)
        out.append(_Sampled(problem, pass1, tuple(s for s in solutions if s[0])))
    return out


def estimate_mc(
    sampled: Sequence[_Sampled], *, policy: Any, grader: Any, cfg: LabelConfig
) -> list[LabeledSolution]:
    """Stage 2: K completions from every step prefix of every kept solution, in one call."""
    keys: list[tuple[int, int, int]] = []
    requests: list[GenerationRequest] = []
    for i, item in enumerate(sampled):
        k = dynamic_k(item.pass1, cfg.k_schedule)
        for j, (steps, _) in enumerate(item.solutions):
            for t in range(len(steps) - 1):  # the last step's MC is its own correctness
                prefix = STEP_SEPARATOR.join(steps[: t + 1]) + cfg.continuation.format(next=t + 2)
                seed = derive_seed(cfg.seed, item.problem.id, f"label:mc:{j}:{t}")
                keys.append((i, j, t))
                requests.append(
                    sampling_request(
                        _prompt(item.problem, prefix, cfg),
                        n=k,
                        sampling=cfg.policy,
                        seed=seed,
                        continue_final=True,
                    )
                )
    completions = policy.generate(requests) if requests else []
    mc: dict[tuple[int, int, int], float] = {}
    for key, request, outs in zip(keys, requests, completions, strict=True):
        prefix = request.prompt[-1].content if isinstance(request.prompt, tuple) else ""
        answers = [extract_answer(prefix + c.text) for c in outs]
        gold = sampled[key[0]].problem.answer
        mc[key] = sum(grader.is_correct(answers, [gold] * len(answers))) / len(outs)
    return [
        _labeled(item, i, j, mc, cfg)
        for i, item in enumerate(sampled)
        for j in range(len(item.solutions))
    ]


def _labeled(
    item: _Sampled, i: int, j: int, mc: dict[tuple[int, int, int], float], cfg: LabelConfig
) -> LabeledSolution:
    steps, correct = item.solutions[j]
    values = tuple([mc[(i, j, t)] for t in range(len(steps) - 1)] + [float(correct)])
    p = item.problem
    return LabeledSolution(
        p.id, p.question, p.answer, p.level, steps, correct, item.pass1,
        dynamic_k(item.pass1, cfg.k_schedule), values,
        tuple(rpe_labels(values, item.pass1, epsilon=cfg.epsilon)), tuple(hard_labels(values)),
    )  # fmt: skip


def label_batches(
    problems: Sequence[Problem], *, policy: Any, grader: Any, cfg: LabelConfig
) -> Iterator[tuple[list[Problem], list[LabeledSolution]]]:
    """Label problems batch by batch, yielding each batch's problems and labeled solutions."""
    for start in range(0, len(problems), cfg.batch_problems):
        batch = list(problems[start : start + cfg.batch_problems])
        sampled = sample_solutions(batch, policy=policy, grader=grader, cfg=cfg)
        yield batch, estimate_mc(sampled, policy=policy, grader=grader, cfg=cfg)


class LabelFile:
    """Append-only JSONL of labeled solutions plus a sidecar list of finished problem ids.

    The ids file is written after the solutions, so a problem counts as done only once all of
    its solutions are on disk; a torn last line from a crash is ignored on reading.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done_path = path.with_suffix(path.suffix + ".done")

    def done_ids(self) -> set[str]:
        if not self.done_path.exists():
            return set()
        return {line.strip() for line in self.done_path.read_text().splitlines() if line.strip()}

    def append(self, problems: Sequence[Problem], solutions: Sequence[LabeledSolution]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        done = {p.id for p in problems}
        with self.path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(asdict(s)) + "\n" for s in solutions)
            f.flush()
        with self.done_path.open("a", encoding="utf-8") as f:
            f.writelines(f"{pid}\n" for pid in sorted(done))

    def read(self) -> list[LabeledSolution]:
        """Solutions of finished problems (a partial batch after a crash is left out)."""
        return read_labels(self.path, only=self.done_ids())


def read_labels(path: Path, *, only: set[str] | None = None) -> list[LabeledSolution]:
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist; write it with `ttscale label`")
    out: list[LabeledSolution] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, start=1):
        try:
            item = LabeledSolution.from_json(line)
        except (json.JSONDecodeError, TypeError) as e:
            if n == len(lines):
                break  # a line torn by a crash mid-write
            raise DataError(f"{path}:{n}: not a labeled solution ({e})") from e
        if (only is None or item.problem_id in only) and (item.problem_id, item.steps) not in seen:
            seen.add((item.problem_id, item.steps))
            out.append(item)
    return out


@dataclass(frozen=True)
class LabelReport:
    path: Path
    problems: int
    solutions: int
    wall_s: float


def label(cfg: LabelConfig, *, out_path: Path, progress: bool = True) -> LabelReport:
    """``ttscale label``: roll out, estimate MC, write RPE and hard labels; resumable."""
    import time

    from tqdm import tqdm

    from ttscale.data.datasets import load_dataset
    from ttscale.data.grading import Grader
    from ttscale.runs.runner import build_policy

    data_dir = Path(cfg.data.data_dir) if cfg.data.data_dir else None
    problems = load_dataset(cfg.data.dataset, limit=cfg.data.limit, data_dir=data_dir)
    store = LabelFile(out_path)
    done = store.done_ids()
    todo = [p for p in problems if p.id not in done]
    began = time.perf_counter()
    policy = build_policy(cfg.policy)
    bar = tqdm(total=len(problems), initial=len(problems) - len(todo), desc="label",
               unit="problem", disable=not progress)  # fmt: skip
    with Grader(cfg.grading_timeout_s) as grader:
        for batch, solutions in label_batches(todo, policy=policy, grader=grader, cfg=cfg):
            store.append(batch, solutions)
            bar.update(len(batch))
    bar.close()
    return LabelReport(out_path, len(problems), len(store.read()), time.perf_counter() - began)
