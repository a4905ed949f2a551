"""mini-processbench: miniature-policy solutions with exact first-error labels (DESIGN.md).

ProcessBench (reference/genprm.md §4) asks a PRM where a solution first goes wrong. Here the
solutions come from the shipped policies (greedy and sampled at temperature 0.7) on test-split
problems, labelled by :func:`ttscale.mini.task.first_error`, which is exact: a perfect PRM
scores F1 = 100.

Subsets are the five levels ("L1".."L5"): the level is the task's only difficulty axis, as the
paper's subsets rise from GSM8K to Omni-MATH. Each subset is balanced (as many right as wrong
solutions), so its two accuracies are equally precise and Avg is the mean over levels. Balance
must be per level because the policies solve L1 nearly always and L5 rarely; a level where
they found too few right solutions is left out (and reported) rather than scored on noise.

``ttscale mini build-processbench`` rebuilds the shipped file (deterministic given the seed).
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ttscale.data.extraction import last_boxed
from ttscale.data.processbench import ProcessBenchSample, read_processbench
from ttscale.engines.base import LLMEngine
from ttscale.errors import ConfigError
from ttscale.mini import task
from ttscale.search.prompting import derive_seed, problem_messages
from ttscale.types import Completion, GenerationRequest

DEFAULT_PATH = Path(__file__).parent / "data" / "mini-processbench.jsonl"


@dataclass(frozen=True)
class BuildSettings:
    """How mini-processbench is drawn; the defaults build the shipped file."""

    policies: tuple[str, ...] = ("mini-policy-s", "mini-policy-l")
    """The generators; each samples every problem."""
    samples: int = 2
    """Sampled solutions per problem and policy. A problem has one right solution text, so
    right solutions grow with the number of problems, not of samples."""
    temperature: float = 0.7
    """Of the sampled solutions: high enough that the policies err on easy levels."""
    greedy: bool = True
    """Add each policy's greedy solution: sampling rarely solves the hard levels (mini-policy-s
    at 0.7 solved 0 of 200 level-4 problems in 4 samples; greedy solves 4%)."""
    max_tokens: int = 160
    """A solution cut at this length is dropped (it has no answer step to judge)."""
    per_class: int = 50
    """Right (label -1) and wrong solutions kept per level; fewer when a class runs short."""
    chunk: int = 100
    """Problems per level sampled at a time (test seeds 0-99 are mini-500, later ones fresh)."""
    max_problems: int = 300
    """The most problems sampled per level."""
    min_per_class: int = 10
    """A level with fewer right (or wrong) solutions than this is left out: its F1 would be noise.
    Sampling a level stops early once this many cannot be reached by ``max_problems``."""
    seed: int = 0


@dataclass(frozen=True)
class LabelledSolution:
    """One sampled solution with its exact label."""

    problem: task.MiniProblem
    generator: str
    steps: tuple[str, ...]
    label: int
    final_answer_correct: bool


@dataclass(frozen=True)
class LevelPool:
    """What sampling one level gave before balancing."""

    problems: int
    right: int
    wrong: int
    dropped: dict[str, int]
    """Samples not usable as items: "length" (cut off), "incomplete" (stops before the answer
    step, so no written step is wrong), "duplicate" (same steps as another of the problem)."""


@dataclass(frozen=True)
class BuildReport:
    """The kept solutions and, per subset, what sampling found."""

    solutions: tuple[LabelledSolution, ...]
    pools: dict[str, LevelPool]
    left_out: tuple[str, ...]
    """Subsets with fewer than ``min_per_class`` right or wrong solutions."""


def subset_of(problem: task.MiniProblem) -> str:
    return f"L{problem.level}"


def source_problems(count: int = 100) -> list[task.MiniProblem]:
    """Test-split problems with seeds 0..count-1 of every level (what a build may draw)."""
    return [task.generate(lv, s, split="test") for lv in task.LEVELS for s in range(count)]


def label_solution(
    problem: task.MiniProblem, completion: Completion, generator: str
) -> LabelledSolution | str:
    """The labelled solution, or why it cannot be an item ("length" or "incomplete")."""
    if completion.finish_reason == "length":
        return "length"
    steps = tuple(s.strip() for s in completion.text.split(task.STEP_SEPARATOR) if s.strip())
    label = task.first_error(problem, task.STEP_SEPARATOR.join(steps))
    if label >= len(steps):
        return "incomplete"
    answer = last_boxed(steps[-1])
    return LabelledSolution(problem, generator, steps, label, answer == str(problem.answer))


def _requests(
    problems: Sequence[task.MiniProblem], policy: str, settings: BuildSettings
) -> list[GenerationRequest]:
    """Per problem: the sampled request, then (with ``greedy``) a greedy one."""
    requests = []
    for problem in problems:
        prompt = problem_messages(problem.to_problem(), None)
        seed = derive_seed(settings.seed, problem.id, f"processbench:{policy}")
        requests.append(
            GenerationRequest(
                prompt,
                n=settings.samples,
                temperature=settings.temperature,
                max_tokens=settings.max_tokens,
                seed=seed,
            )
        )
        if settings.greedy:
            requests.append(GenerationRequest(prompt, max_tokens=settings.max_tokens))
    return requests


def sample_level(
    level: int, engines: Mapping[str, LLMEngine], settings: BuildSettings
) -> tuple[list[LabelledSolution], LevelPool]:
    """Sample one level chunk by chunk until both classes have ``per_class`` solutions.

    Stops early when the right solutions found so far, extrapolated to ``max_problems``, stay
    below ``min_per_class`` (a policy that cannot solve the level), which keeps a CPU build short.
    """
    usable: list[LabelledSolution] = []
    dropped: Counter[str] = Counter()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    right = wrong = used = 0
    while used < settings.max_problems:
        count = min(settings.chunk, settings.max_problems - used)
        problems = [task.generate(level, s, split="test") for s in range(used, used + count)]
        used += count
        for name, engine in engines.items():
            outputs = engine.generate(_requests(problems, name, settings))
            if settings.greedy:  # two requests per problem: merge their completions
                outputs = [a + b for a, b in zip(outputs[::2], outputs[1::2], strict=True)]
            usable += _label_new(problems, outputs, name, seen=seen, dropped=dropped)
        right = sum(s.label == -1 for s in usable)
        wrong = len(usable) - right
        enough = min(right, wrong) >= settings.per_class
        hopeless = right * settings.max_problems < settings.min_per_class * used
        if enough or hopeless:
            break
    return usable, LevelPool(used, right, wrong, dict(dropped))


def _label_new(
    problems: Sequence[task.MiniProblem],
    outputs: Sequence[Sequence[Completion]],
    generator: str,
    *,
    seen: set[tuple[str, tuple[str, ...]]],
    dropped: Counter[str],
) -> list[LabelledSolution]:
    """Label every completion; unusable and already-seen solutions are counted in ``dropped``."""
    new: list[LabelledSolution] = []
    for problem, completions in zip(problems, outputs, strict=True):
        for completion in completions:
            item = label_solution(problem, completion, generator)
            if isinstance(item, str):
                dropped[item] += 1
            elif (problem.id, item.steps) in seen:
                dropped["duplicate"] += 1
            else:
                seen.add((problem.id, item.steps))
                new.append(item)
    return new


def balance(
    pool: Sequence[LabelledSolution], *, per_class: int, seed: int
) -> list[LabelledSolution]:
    """Per subset, the same number of right and wrong solutions, spread over problems.

    Each class is shuffled, then its first solution of every problem comes before any second
    one, so few problems cannot fill a class. Deterministic given ``seed``.
    """
    groups: dict[tuple[str, bool], list[LabelledSolution]] = defaultdict(list)
    for s in pool:
        groups[(subset_of(s.problem), s.label == -1)].append(s)
    kept: list[LabelledSolution] = []
    for subset in sorted({key[0] for key in groups}):
        right, wrong = (
            _spread(groups[(subset, ok)], f"{seed}:{subset}:{ok}") for ok in (True, False)
        )
        count = min(per_class, len(right), len(wrong))
        chosen = right[:count] + wrong[:count]
        random.Random(f"{seed}:{subset}:order").shuffle(chosen)
        kept += chosen
    return kept


def _spread(items: list[LabelledSolution], seed: str) -> list[LabelledSolution]:
    order = items[:]
    random.Random(seed).shuffle(order)
    rank: Counter[str] = Counter()
    keyed = []
    for s in order:
        keyed.append((rank[s.problem.id], s))
        rank[s.problem.id] += 1
    return [s for _, s in sorted(keyed, key=lambda pair: pair[0])]


def build(
    settings: BuildSettings | None = None,
    *,
    levels: Sequence[int] = tuple(task.LEVELS),
    progress: bool = False,
) -> BuildReport:
    """Sample, label and balance mini-processbench (the policies run on the default device)."""
    from tqdm import tqdm

    from ttscale.engines.transformers_engine import TransformersEngine
    from ttscale.mini.models import resolve_model

    settings = settings or BuildSettings()
    _check(settings)
    engines = {name: TransformersEngine(resolve_model(name)) for name in settings.policies}
    pool: list[LabelledSolution] = []
    pools: dict[str, LevelPool] = {}
    for level in tqdm(levels, desc="mini-processbench levels", disable=not progress):
        found, pools[f"L{level}"] = sample_level(level, engines, settings)
        pool += found
    left_out = tuple(
        name for name, p in pools.items() if min(p.right, p.wrong) < settings.min_per_class
    )
    kept = [s for s in pool if subset_of(s.problem) not in left_out]
    return BuildReport(
        solutions=tuple(balance(kept, per_class=settings.per_class, seed=settings.seed)),
        pools=pools,
        left_out=left_out,
    )


def _check(settings: BuildSettings) -> None:
    counts = {
        "samples": settings.samples,
        "per_class": settings.per_class,
        "chunk": settings.chunk,
        "max_problems": settings.max_problems,
        "min_per_class": settings.min_per_class,
    }
    for name, value in counts.items():
        if value < 1:
            raise ConfigError(f"mini-processbench {name} must be >= 1, got {value!r}")
    if not settings.policies:
        raise ConfigError("mini-processbench policies must name at least one policy")


def to_rows(solutions: Sequence[LabelledSolution]) -> list[dict]:
    """ProcessBench-format rows (its field order), plus ``subset`` and the source problem id."""
    index: Counter[str] = Counter()
    rows = []
    for s in solutions:
        subset = subset_of(s.problem)
        rows.append(
            {
                "id": f"mini-{subset}-{index[subset]}",
                "generator": s.generator,
                "problem": s.problem.text,
                "steps": list(s.steps),
                "final_answer_correct": s.final_answer_correct,
                "label": s.label,
                "subset": subset,
                "problem_id": s.problem.id,
            }
        )
        index[subset] += 1
    return rows


def write_jsonl(solutions: Sequence[LabelledSolution], path: Path = DEFAULT_PATH) -> Path:
    """Write the set as JSONL (one ProcessBench row per line, UTF-8, LF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False) for row in to_rows(solutions)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(data_dir: Path | None = None) -> list[ProcessBenchSample]:
    """The shipped mini-processbench (``data_dir`` is ignored: it ships with the package)."""
    return read_processbench(DEFAULT_PATH)
