"""GenPRM as a critic: refine each solution from its first wrong step, up to k turns (§6).

Turn 0 is the policy's greedy solution. Every turn scores all current solutions in one GenPRM
call (stopping at the first step below the threshold), hands the policy that step's
``<analyze>`` text with the paper's refinement prompt (``policy_refine.py``), and rebuilds the
solution as ``steps[:idx] + refinement.split("\\n\\n")`` (``prm_critique.py``). Solutions with no
step below the threshold are kept. ``candidates[t]`` of each result is the solution after turn
t, so accuracy per turn is read off the results (:func:`accuracy_per_turn`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ttscale.config import CoTConfig, PolicyConfig, RefineConfig
from ttscale.data.extraction import extract_answer
from ttscale.engines.base import LLMEngine
from ttscale.errors import ConfigError
from ttscale.mini.task import STEP_SEPARATOR
from ttscale.rewards.base import ScoreRequest
from ttscale.rewards.genprm import GenPRM
from ttscale.search.cot import cot
from ttscale.search.prompting import derive_seed
from ttscale.types import (
    Candidate,
    ChatMessage,
    GenerationRequest,
    Problem,
    SearchResult,
    Usage,
)

REFINE_PROMPT = (
    "There might be some problem in this paragraph of your reasoning, please rethink and "
    "refine your answer:\n>"
)


def critique_of(rationale: str) -> str:
    """The ``<analyze>`` content cut after its first colon (drops "Let's analyze ... step by
    step:", as policy_refine.py does)."""
    analysis = rationale.split("<analyze>", 1)[-1].split("</analyze>", 1)[0]
    return analysis.split(":", 1)[-1].strip() if ":" in analysis else analysis.strip()


def refine_messages(
    problem: Problem, steps: Sequence[str], idx: int, analysis: str, *, cfg: RefineConfig,
    system_prompt: str | None,
) -> tuple[ChatMessage, ...]:  # fmt: skip
    """The four messages of policy_refine.py (the system message only when the policy has one)."""
    chat = [
        ChatMessage("user", problem.question + cfg.user_suffix),
        ChatMessage("assistant", STEP_SEPARATOR.join(steps)),
        ChatMessage("user", REFINE_PROMPT + steps[idx] + "\n\n" + analysis),
    ]
    return tuple([ChatMessage("system", system_prompt)] if system_prompt else []) + tuple(chat)


def refine(
    problems: Sequence[Problem],
    *,
    policy: LLMEngine,
    prm: object | None,
    cfg: RefineConfig,
    sampling: PolicyConfig,
    seed: int,
) -> list[SearchResult]:
    """Zero-shot CoT, then ``cfg.turns`` batched critique-and-refine rounds."""
    if not isinstance(prm, GenPRM):
        raise ConfigError(f"strategy 'refine' needs a generative PRM critic (mini-genprm, "
                          f"genprm), got {getattr(prm, 'name', prm)!r}")  # fmt: skip
    results = cot(problems, policy=policy, prm=None, cfg=CoTConfig(), sampling=sampling, seed=seed)
    history = [[r.candidates[0]] for r in results]
    usage = [r.usage for r in results]
    for turn in range(1, cfg.turns + 1):
        current = [_steps(h[-1].text) for h in history]
        verified = prm.verify([
            ScoreRequest(p.question, tuple(s), stop_below=cfg.threshold)
            for p, s in zip(problems, current, strict=True)
        ])  # fmt: skip
        todo: list[tuple[int, int, GenerationRequest]] = []
        for j, (p, steps, v) in enumerate(zip(problems, current, verified, strict=True)):
            usage[j] += v.scores.usage
            idx = _first_below(v.scores.rewards[: v.scores.scored or len(steps)], cfg.threshold)
            if idx is None:
                continue
            messages = refine_messages(p, steps, idx, critique_of(v.rationales[idx]), cfg=cfg,
                                       system_prompt=sampling.system_prompt)  # fmt: skip
            todo.append((j, idx, GenerationRequest(
                messages, temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k,
                max_tokens=sampling.max_tokens, seed=derive_seed(seed, p.id, f"refine{turn}"),
            )))  # fmt: skip
        outputs = policy.generate([r for _, _, r in todo]) if todo else []
        refined = {j: (idx, out[0]) for (j, idx, _), out in zip(todo, outputs, strict=True)}
        for j, h in enumerate(history):
            if j not in refined:
                h.append(h[-1])
                continue
            idx, out = refined[j]
            usage[j] += Usage.of([out], num_parameters=policy.num_parameters)
            text = STEP_SEPARATOR.join([*current[j][:idx], *_steps(out.text)])
            h.append(Candidate(text, extract_answer(text), out.finish_reason))
    return [
        SearchResult(p, h[-1].answer, tuple(h), u)
        for p, h, u in zip(problems, history, usage, strict=True)
    ]


def accuracy_per_turn(
    results: Sequence[SearchResult], is_correct: Callable[[Problem, str | None], bool]
) -> list[float]:
    """Accuracy of the solutions after each turn (index 0: zero-shot)."""
    turns = min(len(r.candidates) for r in results) if results else 0
    return [
        sum(is_correct(r.problem, r.candidates[t].answer) for r in results) / len(results)
        for t in range(turns)
    ]


def _steps(text: str) -> list[str]:
    return [s.strip() for s in text.split(STEP_SEPARATOR) if s.strip()]


def _first_below(rewards: Sequence[float], threshold: float) -> int | None:
    return next((i for i, r in enumerate(rewards) if r < threshold), None)
