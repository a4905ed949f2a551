"""What the PRM-guided strategies share: steps, PRM scoring, and the lockstep step-level tree.

Beam search and DVTS are the same machine with different shapes (reference/tts-frameworks.md
§1.1, §2.4, §3.2): a :class:`Tree` expands the root into ``width`` children, then keeps the best
``keep`` partial solutions per round and expands each into ``beam_width`` children (paper
semantics), or refills to ``width`` live beams (search-and-learn semantics). Beam search is one
tree per problem (width N, keep N/M); DVTS is N/M trees per problem (width M, keep 1).

:func:`run_trees` advances every tree of every problem together: per round one ``generate``
call for all expansions and one ``score`` call for all new children, never one problem or
beam at a time (the public beam search runs one problem at a time: sal #26).

A child whose step hit ``max_tokens`` is dropped, never treated as finished; so are empty steps
and duplicates of a sibling. A child is finished at EOS, or when its step states ``\\boxed``
(compute-optimal-tts's rule). The last round generates to the end of the solution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from ttscale.config import PolicyConfig
from ttscale.data.extraction import extract_answer
from ttscale.engines.base import LLMEngine
from ttscale.errors import EngineError
from ttscale.rewards.base import ProcessRewardModel, ScoreRequest, StepScores
from ttscale.search.prompting import derive_seed, problem_messages
from ttscale.search.selection import Reduction, reduce_rewards
from ttscale.types import (
    Candidate,
    ChatMessage,
    Completion,
    GenerationRequest,
    Problem,
    SearchResult,
    Usage,
)

STEP_SEPARATOR = "\n\n"
Scored = tuple[tuple[float, ...] | None, str | None, Usage]
"""A solution's rewards (None when unusable), why unusable, and the PRM's usage."""


def solution_steps(text: str) -> tuple[str, ...]:
    """The steps of a solution: split at ``"\\n\\n"``, blank pieces dropped."""
    return tuple(s.strip() for s in text.split(STEP_SEPARATOR) if s.strip())


def score_solutions(prm: ProcessRewardModel, requests: Sequence[ScoreRequest]) -> list[Scored]:
    """(rewards or None, why not, usage) per request, from one ``prm.score`` call.

    A solution whose rewards do not match its steps one to one is a per-sample failure (None
    and the reason); a PRM that answers a different number of requests is a broken backend.

    Raises:
        EngineError: the PRM returned a different number of results than requests.
    """
    if not requests:
        return []
    results: list[StepScores] = prm.score(requests)
    if len(results) != len(requests):
        raise EngineError(
            f"PRM {prm.name!r} returned {len(results)} results for {len(requests)} solutions; "
            "it must return one StepScores per request"
        )
    out: list[Scored] = []
    for request, result in zip(requests, results, strict=True):
        if result.error is not None:
            out.append((None, result.error, result.usage))
        elif len(result.rewards) != len(request.steps):
            why = f"{len(result.rewards)} rewards for {len(request.steps)} steps"
            out.append((None, why, result.usage))
        else:
            out.append((tuple(result.rewards), None, result.usage))
    return out


def describe_failures(errors: Sequence[str], total: int) -> str | None:
    """One line for a problem's unscored solutions, e.g. "prm: 2 of 16 solutions unscored"."""
    if not errors:
        return None
    return f"prm: {len(errors)} of {total} solutions unscored ({errors[0]})"


@dataclass
class Node:
    """A partial (or finished) solution: the assistant text so far and its PRM rewards."""

    text: str
    tokens: int
    """Completion tokens generated along this path (the whole solution's budget is shared)."""
    finished: bool = False
    rewards: tuple[float, ...] | None = None
    score: float = 0.0


@dataclass
class Tree:
    """One search of one problem: a whole beam search, or one DVTS subtree."""

    problem: Problem
    index: int
    """Its subtree number within the problem (the candidates' ``group``)."""
    width: int
    """Children of the root (N for beam search, M for a DVTS subtree)."""
    keep: int
    """Partial solutions kept per round (N/M, or 1 for a DVTS subtree)."""
    refill: bool = False
    frontier: list[Node] = field(default_factory=list)
    finished: list[Node] = field(default_factory=list)
    done: bool = False
    rounds: int = 0
    seen: set[str] = field(default_factory=set)
    """Every child text so far: a duplicate of a sibling is dropped."""
    dropped: Counter[str] = field(default_factory=Counter)
    prm_errors: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    prm_usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class TreeSettings:
    """How the trees of one strategy grow."""

    stream: str
    """Seed stream name, so beam search and DVTS draw different samples."""
    beam_width: int
    max_steps: int
    step_max_tokens: int
    aggregation: Reduction


def run_trees(
    trees: list[Tree],
    *,
    policy: LLMEngine,
    prm: ProcessRewardModel,
    settings: TreeSettings,
    sampling: PolicyConfig,
    seed: int,
) -> None:
    """Grow every tree until it is done: one generate and one score call per round."""
    for step in range(settings.max_steps):
        live = [t for t in trees if not t.done]
        if not live:
            return
        last = step == settings.max_steps - 1
        plan = [  # j numbers a tree's expansions: seeds must not depend on the batch
            (t, node, count, j)
            for t in live
            for j, (node, count) in enumerate(_expansions(t, step, settings))
            if _budget(node, sampling) > 0
        ]
        requests = [
            _request(t, node, count, j, step=step, last=last, settings=settings,
                     sampling=sampling, seed=seed)
            for t, node, count, j in plan
        ]
        outputs = policy.generate(requests) if requests else []
        children: list[tuple[Tree, Node]] = []
        for (t, node, _, _), completions in zip(plan, outputs, strict=True):
            t.usage += Usage.of(completions, num_parameters=policy.num_parameters)
            children += [(t, child) for c in completions if (child := _child(t, node, c))]
        _score(children, prm, settings.aggregation)
        by_tree: dict[int, list[Node]] = {id(t): [] for t in live}
        for t, child in children:
            by_tree[id(t)].append(child)
        for t in live:
            t.rounds += 1
            _select(t, by_tree[id(t)], last=last)


def _expansions(t: Tree, step: int, settings: TreeSettings) -> list[tuple[Node, int]]:
    """(node, children to sample) pairs of one tree for this round."""
    if step == 0:
        return [(Node("", 0), t.width)]
    if not t.refill:
        return [(node, settings.beam_width) for node in t.frontier]
    k = len(t.frontier)  # refill: share width among the survivors, the best first
    return [(node, t.width // k + (i < t.width % k)) for i, node in enumerate(t.frontier)]


def _budget(node: Node, sampling: PolicyConfig) -> int:
    return sampling.max_tokens - node.tokens


def _request(
    t: Tree,
    node: Node,
    count: int,
    j: int,
    *,
    step: int,
    last: bool,
    settings: TreeSettings,
    sampling: PolicyConfig,
    seed: int,
) -> GenerationRequest:
    """The next step of ``node``, continuing its assistant turn; seeds follow the problem, the
    subtree, the round and the expansion, never the batch."""
    messages = problem_messages(t.problem, sampling.system_prompt)
    if node.text:
        messages = (*messages, ChatMessage("assistant", node.text))
    budget = _budget(node, sampling)
    return GenerationRequest(
        messages,
        n=count,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        max_tokens=budget if last else min(settings.step_max_tokens, budget),
        stop=() if last else (STEP_SEPARATOR,),
        include_stop=True,
        seed=derive_seed(seed, t.problem.id, f"{settings.stream}:{t.index}:{step}:{j}"),
        continue_final=bool(node.text),
    )


def _child(t: Tree, parent: Node, c: Completion) -> Node | None:
    """The child a completion makes, or None (counted by reason) when it cannot go on."""
    text = parent.text + c.text
    if c.finish_reason == "length":
        t.dropped["truncated at max_tokens"] += 1
    elif not c.text.strip():
        t.dropped["empty step"] += 1
    elif text in t.seen:
        t.dropped["duplicate"] += 1
    else:
        t.seen.add(text)
        finished = c.stop_reason is None or "\\boxed" in c.text
        return Node(text, parent.tokens + c.completion_tokens, finished=finished)
    return None


def _score(children: list[tuple[Tree, Node]], prm: ProcessRewardModel, how: Reduction) -> None:
    """Score every new child of every tree in one PRM call (the whole prefix, as the papers)."""
    requests = [ScoreRequest(t.problem.question, solution_steps(n.text)) for t, n in children]
    for (t, node), (rewards, error, usage) in zip(
        children, score_solutions(prm, requests), strict=True
    ):
        t.prm_usage += usage
        if rewards is None:
            t.dropped["unscored by the PRM"] += 1
            t.prm_errors.append(error or "")
        else:
            node.rewards, node.score = rewards, reduce_rewards(rewards, how)


def _select(t: Tree, children: list[Node], *, last: bool) -> None:
    """Keep the best children (ties: the first generated) and decide whether the tree is done.

    Paper: the top ``keep - finished`` children survive, finished or not, so a finished
    solution takes a beam's place for good (no refill). Refill: every finished child is kept,
    the top ``keep`` unfinished ones go on, and the next round refills to ``width``.
    """
    ranked = sorted((c for c in children if c.rewards is not None), key=lambda c: -c.score)
    if t.refill:
        t.finished += [c for c in ranked if c.finished]
        t.frontier = [c for c in ranked if not c.finished][: t.keep]
    else:
        chosen = ranked[: t.keep - len(t.finished)]
        t.finished += [c for c in chosen if c.finished]
        t.frontier = [c for c in chosen if not c.finished]
    t.done = last or not t.frontier or (not t.refill and len(t.finished) >= t.keep)


def tree_result(problem: Problem, trees: Sequence[Tree]) -> SearchResult:
    """One problem's result: the finished solutions of all its trees, pooled.

    With refill a tree can finish more than ``width`` solutions; its best ``width`` are kept
    (search-and-learn's ``sort_completed``).
    """
    candidates: list[Candidate] = []
    for t in trees:
        best = sorted(t.finished, key=lambda c: -c.score)[: t.width] if t.refill else t.finished
        candidates += [
            Candidate(n.text, extract_answer(n.text), "stop", n.score, n.rewards, group=t.index)
            for n in best
        ]
    usage = sum((t.usage for t in trees), Usage())
    prm_usage = sum((t.prm_usage for t in trees), Usage())
    return SearchResult(
        problem, None, tuple(candidates), usage, prm_usage, _failure(trees, bool(candidates))
    )


def _failure(trees: Sequence[Tree], any_finished: bool) -> str | None:
    errors = [e for t in trees for e in t.prm_errors]
    if any_finished:
        return describe_failures(errors, sum(len(t.seen) for t in trees))
    dropped: Counter[str] = sum((t.dropped for t in trees), Counter())
    why = ", ".join(f"{n} {reason}" for reason, n in dropped.most_common()) or "nothing generated"
    rounds = max(t.rounds for t in trees)
    first = f"; first PRM error: {errors[0]}" if errors else ""
    return f"no finished candidate after {rounds} rounds ({why}){first}"
