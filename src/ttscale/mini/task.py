"""The miniature task: multi-step integer arithmetic word problems with exact step checking.

A problem starts from a quantity and applies 2-6 operations to it. The reference solution
writes one operation per step ("Step 2: 162 - 78 = 84"), steps are separated by ``"\\n\\n"``
(the step delimiter of both papers), and the last step states ``\\boxed{answer}``. Because every
step is one arithmetic fact, :func:`first_error` gives exact ProcessBench-style labels.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Literal

from ttscale.errors import ConfigError, DataError
from ttscale.types import Problem

OpKind = Literal["+", "-", "*", "/"]
STEP_SEPARATOR = "\n\n"
NUM_LEVELS = 5
MAX_VALUE = 9999


@dataclass(frozen=True)
class LevelSpec:
    """How hard one level is: more operations and larger operands as levels rise."""

    num_ops: int
    start: tuple[int, int]
    add: tuple[int, int]
    mul: tuple[int, int]
    kinds: tuple[OpKind, ...]


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec(2, (2, 20), (1, 9), (2, 2), ("+", "-")),
    2: LevelSpec(3, (10, 50), (2, 15), (2, 2), ("+", "-", "*")),
    3: LevelSpec(3, (10, 99), (2, 30), (2, 3), ("+", "-", "*")),
    4: LevelSpec(4, (10, 199), (2, 99), (2, 5), ("+", "-", "*", "/")),
    5: LevelSpec(5, (20, 499), (10, 199), (2, 9), ("+", "-", "*", "/")),
}

_NAMES = ("Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kim", "Lea")
_ITEMS = ("apples", "coins", "books", "stamps", "shells", "cards", "marbles", "pens")
_SENTENCES: dict[OpKind, tuple[str, ...]] = {
    "+": ("{p} gets {x} more.", "{p} finds {x} more.", "{p} buys {x} more."),
    "-": ("{p} gives away {x}.", "{p} loses {x}.", "{p} sells {x}."),
    "*": ("{p} ends up with {x} times as many.", "The number grows {x} times."),
    "/": ("{p} splits them into {x} equal groups and keeps one.",),
}


@dataclass(frozen=True)
class Op:
    kind: OpKind
    operand: int

    def apply(self, value: int) -> int:
        return _apply(self.kind, value, self.operand)


@dataclass(frozen=True)
class MiniProblem:
    """A generated problem: its text, the start value and the operations."""

    id: str
    level: int
    start: int
    ops: tuple[Op, ...]
    text: str

    @property
    def values(self) -> list[int]:
        """The running value after each operation (values[0] is the start)."""
        out = [self.start]
        for op in self.ops:
            out.append(op.apply(out[-1]))
        return out

    @property
    def answer(self) -> int:
        return self.values[-1]

    def solution(self) -> str:
        """The reference step-by-step solution."""
        return STEP_SEPARATOR.join(solution_steps(self))

    def to_problem(self) -> Problem:
        return Problem(self.id, self.text, str(self.answer), level=self.level, dataset="mini")


def _apply(kind: str, a: int, b: int) -> int:
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    return a // b if b and a % b == 0 else -1  # -1 marks an inexact division: never correct


def _choose_op(rng: random.Random, spec: LevelSpec, value: int) -> Op:
    for _ in range(100):
        kind = rng.choice(spec.kinds)
        if kind in "+-":
            x = rng.randint(*spec.add)
            if (kind == "+" and value + x <= MAX_VALUE) or (kind == "-" and x <= value):
                return Op(kind, x)
        elif kind == "*":
            x = rng.randint(*spec.mul)
            if value * x <= MAX_VALUE:
                return Op(kind, x)
        else:
            divisors = [d for d in range(spec.mul[0], spec.mul[1] + 1) if value % d == 0]
            if divisors and value > 0:
                return Op("/", rng.choice(divisors))
    return Op("+", rng.randint(*spec.add))


def generate(
    level: int, seed: int, *, split: str = "train", levels: dict[int, LevelSpec] | None = None
) -> MiniProblem:
    """Draw one problem deterministically from (split, level, seed); ``levels`` defaults to
    :data:`LEVELS` (the tokenizer's corpus pins the level specs it was built from)."""
    levels = LEVELS if levels is None else levels
    if level not in levels:
        raise ConfigError(f"mini level must be one of 1-{NUM_LEVELS}, got {level!r}")
    spec = levels[level]
    rng = random.Random(f"{split}:{level}:{seed}")
    person, item = rng.choice(_NAMES), rng.choice(_ITEMS)
    value = rng.randint(*spec.start)
    start, ops = value, []
    for _ in range(spec.num_ops):
        op = _choose_op(rng, spec, value)
        ops.append(op)
        value = op.apply(value)
    sentences = [f"{person} has {start} {item}."]
    sentences += [rng.choice(_SENTENCES[op.kind]).format(p=person, x=op.operand) for op in ops]
    sentences.append(f"How many {item} does {person} have now?")
    return MiniProblem(
        f"mini-{split}-L{level}-{seed}", level, start, tuple(ops), " ".join(sentences)
    )


_START_RE = re.compile(r"^(\w+) has (\d+) (\w+)\.$")
_QUESTION_RE = re.compile(r"^How many (\w+) does (\w+) have now\?$")


def _sentence_patterns(person: str) -> list[tuple[re.Pattern[str], OpKind]]:
    """Each op sentence template of ``person`` as a regex capturing the operand."""
    return [
        (re.compile(re.escape(t.format(p=person, x="OPERAND")).replace("OPERAND", r"(\d+)")), kind)
        for kind, templates in _SENTENCES.items()
        for t in templates
    ]


def parse_problem(text: str) -> MiniProblem:
    """The problem :func:`generate` wrote as ``text`` (its sentences read back).

    The id is ``""`` (the text does not carry it) and the level follows from the number of
    operations, which is distinct per level. Used by the mini-oracle PRM, which sees only the
    question text.

    Raises:
        DataError: ``text`` is not a mini problem.
    """
    sentences = re.split(r"(?<=[.?]) ", text.strip())
    start = _START_RE.match(sentences[0])
    question = _QUESTION_RE.match(sentences[-1]) if len(sentences) > 1 else None
    if start is None or question is None or question.groups() != (start[3], start[1]):
        raise DataError(
            f"not a mini problem: {text[:60]!r} (expected '<name> has <n> <items>. ...')"
        )
    patterns = _sentence_patterns(start[1])
    ops = [_parse_op(sentence, patterns, text) for sentence in sentences[1:-1]]
    levels = [lv for lv, spec in LEVELS.items() if spec.num_ops == len(ops)]
    if not levels:
        raise DataError(f"not a mini problem: {len(ops)} operations in {text[:60]!r}")
    return MiniProblem("", levels[0], int(start[2]), tuple(ops), text)


def _parse_op(sentence: str, patterns: list[tuple[re.Pattern[str], OpKind]], text: str) -> Op:
    for pattern, kind in patterns:
        m = pattern.fullmatch(sentence)
        if m:
            return Op(kind, int(m[1]))
    raise DataError(f"not a mini problem: unknown sentence {sentence!r} in {text[:60]!r}")


def solution_steps(problem: MiniProblem) -> list[str]:
    values = problem.values
    steps = [
        f"Step {i + 1}: {values[i]} {op.kind} {op.operand} = {values[i + 1]}"
        for i, op in enumerate(problem.ops)
    ]
    steps.append(f"The answer is \\boxed{{{problem.answer}}}.")
    return steps


def benchmark_set(per_level: int = 100) -> list[MiniProblem]:
    """The fixed benchmark ``mini-500``: ``per_level`` problems for each of the 5 levels."""
    return [generate(lv, s, split="test") for lv in LEVELS for s in range(per_level)]


def train_problems(
    count: int, *, offset: int = 0, level_weights: tuple[int, ...] = (1, 1, 1, 1, 1)
) -> list[MiniProblem]:
    """Training problems from seeds disjoint from the test set.

    Levels cycle in proportion to ``level_weights`` (evenly by default). Any problem whose text
    equals a test problem's is skipped, so no test item leaks in.
    """
    if len(level_weights) != NUM_LEVELS or min(level_weights) < 0 or sum(level_weights) == 0:
        raise ConfigError(f"level_weights must be {NUM_LEVELS} counts >= 0, got {level_weights}")
    cycle = [lv for lv, w in zip(LEVELS, level_weights, strict=True) for _ in range(w)]
    test_texts = {p.text for p in benchmark_set()}
    out: list[MiniProblem] = []
    seed = offset
    while len(out) < count:
        p = generate(cycle[seed % len(cycle)], seed, split="train")
        if p.text not in test_texts:
            out.append(p)
        seed += 1
    return out


_STEP_RE = re.compile(r"^Step (\d+): (-?\d+) ([-+*/]) (-?\d+) = (-?\d+)$")
_ANSWER_RE = re.compile(r"^The answer is \\boxed\{(-?\d+)\}\.?$")


def step_is_correct(problem: MiniProblem, steps: list[str], k: int) -> bool:
    """Is step ``k`` (0-based) right, assuming the steps before it are as written?

    Right means: step ``k`` applies the problem's ``k``-th operation to the previous step's
    stated result (or the start value) and computes it exactly; the final step must box
    the last stated result after every operation has been applied.
    """
    step = steps[k].strip()
    prev = problem.start if k == 0 else _stated_result(steps[k - 1])
    if prev is None:
        return False
    if k == len(problem.ops):
        m = _ANSWER_RE.match(step)
        return m is not None and int(m.group(1)) == prev
    m = _STEP_RE.match(step)
    if m is None or k > len(problem.ops):
        return False
    num, a, kind, b, c = int(m[1]), int(m[2]), m[3], int(m[4]), int(m[5])
    op = problem.ops[k]
    return (
        num == k + 1
        and a == prev
        and (kind, b) == (op.kind, op.operand)
        and c == _apply(kind, a, b)
    )


def _stated_result(step: str) -> int | None:
    m = _STEP_RE.match(step.strip())
    return int(m.group(5)) if m else None


def first_error(problem: MiniProblem, solution: str) -> int:
    """Index of the first wrong step (ProcessBench convention), or -1 if all are right.

    A solution that stops before its answer step counts as wrong at the missing step.
    """
    steps = [s for s in solution.split(STEP_SEPARATOR) if s.strip()]
    for k in range(len(steps)):
        if not step_is_correct(problem, steps, k):
            return k
    return -1 if len(steps) == len(problem.ops) + 1 else len(steps)
