"""GenPRM: a generative PRM that analyses each step, writes and runs code, then judges it.

Follows reference/genprm.md §3 exactly (conversation, forced prefixes, stops, the verify loop
with its fallback, the decision from the final ``<output>`` block, r = p(Yes)/(p(Yes)+p(No))),
but unlike the public code it is batched: every (solution, sample) has its own state machine
(:mod:`ttscale.rewards._genprm_machine`) and sandbox session, and each engine call carries the
pending request of every machine of every solution. Prompts of one solution grow by appending,
so prefix caching pays. Maj@N runs N independent histories per solution (the likely ProcessBench
Maj@8 protocol, §3.7) and averages the step rewards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ttscale.engines.base import LLMEngine
from ttscale.errors import ConfigError
from ttscale.rewards._genprm_machine import StepMachine
from ttscale.rewards.base import ScoreRequest, StepScores
from ttscale.rewards.genprm_protocol import (
    ChatForm,
    RewardMode,
    RewardTokens,
    conversation,
    decision_position,
    step_reward,
)
from ttscale.types import Ablation, ChatMessage, GenerationRequest, Usage

if TYPE_CHECKING:
    from ttscale.config import PRMConfig
    from ttscale.sandbox import CodeSandbox, Session


class GenPRMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    maj: int = Field(1, ge=1)
    """Maj@N: independent rationales per step (each with its own history); reward = their mean."""
    reward_mode: RewardMode = "official_like"
    """official_like: p(Yes) after T and top-p truncation (near-hard, as vLLM V0 returned);
    calibrated: two-way softmax of the raw logprobs; hard: 1/0 from the decision."""
    ablation: Ablation = "full"
    """full (CoT + code + execution), cot_only, or code_no_exec (§3.8)."""
    chat_form: ChatForm = "continue"
    """How the forced prefix follows the chat (§3.1); "continue" needs no renderer."""
    temperature: float = Field(0.6, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(20, ge=0)
    logprobs: int = Field(20, ge=2)
    """Top logprobs returned at each token (§3.5 reads the top 20)."""
    budget_tokens: int = Field(2048, ge=16)
    """Rationale budget per step, counted on the assistant text only (§3.3 ``left``)."""
    analyze_max_tokens: int = Field(2048, ge=1)
    code_timeout_s: float = Field(5.0, gt=0)
    """Wall limit of one code block (GenPRM: 5 s)."""
    seed: int = 0
    """Seeds derive from (seed, solution, sample, step, call), never from batch position."""


class ChatRenderer(Protocol):
    """Renders a chat to text with the model's own template (the ``main`` forms need it)."""

    def render(self, messages: tuple[ChatMessage, ...], *, add_generation_prompt: bool) -> str: ...


class HFChatRenderer:
    """A :class:`ChatRenderer` from a Hugging Face tokenizer folder or Hub id."""

    def __init__(self, tokenizer: str) -> None:
        from transformers import AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(tokenizer)

    def render(self, messages: tuple[ChatMessage, ...], *, add_generation_prompt: bool) -> str:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        text = str(
            self._tok.apply_chat_template(
                chat, tokenize=False, add_generation_prompt=add_generation_prompt
            )
        )
        eos = self._tok.eos_token or ""
        # main: build_prompt strips the trailing EOS so the prefix continues the user turn
        return text[: -len(eos)] if eos and text.endswith(eos) else text


class _LazySession:
    """One (solution, sample)'s sandbox session, opened at its first code block (most steps of
    an ablation or an early-stopped solution never need one) and closed when it finishes."""

    def __init__(self, sandbox: CodeSandbox, timeout_s: float) -> None:
        self._sandbox, self._timeout = sandbox, timeout_s
        self._session: Session | None = None

    def __call__(self, text: str) -> str:
        from ttscale.sandbox import execute_for_genprm

        if self._session is None:
            self._session = self._sandbox.open_session()
        return execute_for_genprm(self._session, text, timeout_s=self._timeout)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


@dataclass(frozen=True)
class Verified:
    """A solution's step scores and sample 0's full rationale for each scored step."""

    scores: StepScores
    rationales: tuple[str, ...]
    sample_rewards: tuple[tuple[float, ...], ...] = ()
    """Every sample's own reward per scored step (Maj@N averages these)."""


@dataclass
class _Run:
    """One (solution, sample): its history of rationales and its current step's machine."""

    solution: int
    sample: int
    execute: _LazySession | None
    rationales: list[str] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    machine: StepMachine | None = None


class GenPRM:
    """ProcessRewardModel on any LLMEngine; code runs only in ``sandbox`` (None: no execution).

    Raises:
        ConfigError: the ablation needs a sandbox that was not given, or the chat form needs a
            renderer.
    """

    def __init__(
        self, engine: LLMEngine, *, tokens: RewardTokens, cfg: GenPRMConfig | None = None,
        sandbox: CodeSandbox | None = None, renderer: ChatRenderer | None = None,
    ) -> None:  # fmt: skip
        self.cfg = cfg or GenPRMConfig()
        if self.cfg.ablation == "full" and sandbox is None:
            raise ConfigError(
                "GenPRM ablation='full' executes code and needs a sandbox; give "
                "sandbox=open_sandbox(...) or use 'cot_only' / 'code_no_exec'"
            )
        if self.cfg.chat_form != "continue" and renderer is None:
            raise ConfigError(
                f"chat_form={self.cfg.chat_form!r} needs a renderer "
                "(HFChatRenderer(tokenizer)); 'continue' needs none"
            )
        self._engine, self._tokens, self._sandbox, self._renderer = (
            engine,
            tokens,
            sandbox,
            renderer,
        )
        self.calls = 0
        """Engine calls made so far (the batching tests and bench read it)."""

    @property
    def name(self) -> str:
        return f"genprm:{self._engine.name}"

    @property
    def num_parameters(self) -> int:
        return self._engine.num_parameters

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        return [v.scores for v in self.verify(requests)]

    def verify(self, requests: Sequence[ScoreRequest]) -> list[Verified]:
        """Scores plus sample 0's rationale of every scored step (the critic reads them)."""
        usage = [Usage() for _ in requests]
        with ExitStack() as stack:
            runs = [
                _Run(j, i, self._executor(stack))
                for j in range(len(requests))
                for i in range(self.cfg.maj)
            ]
            means: list[list[float]] = [[] for _ in requests]
            live = {j for j, r in enumerate(requests) if r.steps}
            for run in runs:
                if run.solution in live:
                    self._start_step(run, requests[run.solution])
            while live:
                self._tick([r for r in runs if r.solution in live], requests, usage)
                self._finish_steps(runs, requests, means, live)
        per = [
            tuple(tuple(r.rewards) for r in runs if r.solution == j) for j in range(len(requests))
        ]
        return [
            Verified(self._scores(r, m, u), tuple(runs[j * self.cfg.maj].rationales), per[j])
            for j, (r, m, u) in enumerate(zip(requests, means, usage, strict=True))
        ]

    def _executor(self, stack: ExitStack) -> _LazySession | None:
        if self._sandbox is None or self.cfg.ablation != "full":
            return None
        lazy = _LazySession(self._sandbox, self.cfg.code_timeout_s)
        stack.callback(lazy.close)
        return lazy

    def _start_step(self, run: _Run, request: ScoreRequest) -> None:
        run.machine = StepMachine(
            len(run.rationales) + 1, ablation=self.cfg.ablation, execute=run.execute,
            count_tokens=self._engine.count_tokens, budget=self.cfg.budget_tokens,
            analyze_max_tokens=self.cfg.analyze_max_tokens,
        )  # fmt: skip

    def _tick(self, runs: list[_Run], requests: Sequence[ScoreRequest], usage: list[Usage]) -> None:
        """One batched engine call: the pending request of every unfinished machine."""
        pending, batch = [], []
        for run in runs:
            want = run.machine.request() if run.machine else None
            if want is None:
                continue
            prompt, sent = self._prompt(requests[run.solution], run, want.text)
            seed = self._seed(requests[run.solution], run)
            batch.append(GenerationRequest(
                prompt, temperature=self.cfg.temperature, top_p=self.cfg.top_p,
                top_k=self.cfg.top_k, max_tokens=want.max_tokens, stop=want.stop,
                include_stop=True, seed=seed, logprobs=self.cfg.logprobs if want.logprobs else 0,
                continue_final=self.cfg.chat_form == "continue",
            ))  # fmt: skip
            pending.append((run, sent))
        if not batch:
            return
        self.calls += 1
        outputs = self._engine.generate(batch)
        for (run, sent), out in zip(pending, outputs, strict=True):
            assert run.machine is not None
            run.machine.advance(sent, out[0])
            usage[run.solution] += Usage.of(out, num_parameters=self.num_parameters)

    def _prompt(
        self, request: ScoreRequest, run: _Run, text: str
    ) -> tuple[str | tuple[ChatMessage, ...], str]:
        """The prompt and the exact text it ends with (the completion continues that text)."""
        steps = request.steps[: len(run.rationales) + 1]
        chat = conversation(request.question, steps, run.rationales)
        if self.cfg.chat_form == "continue":
            # chat templates strip the continued message's trailing whitespace; the model then
            # writes it itself, which also keeps token boundaries as in training
            sent = text.rstrip()
            return (*chat, ChatMessage("assistant", sent)), sent
        assert self._renderer is not None
        head = self._renderer.render(
            chat, add_generation_prompt=self.cfg.chat_form == "generation_prompt"
        )
        return head + text, text

    def _seed(self, request: ScoreRequest, run: _Run) -> int:
        assert run.machine is not None
        key = (
            f"{self.cfg.seed}|{request.question}|{'␞'.join(request.steps)}|{run.sample}|"
            f"{len(run.rationales)}|{run.machine.rounds}|{run.machine.stage}"
        )
        return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little") & 0x3FFFFFFF

    def _finish_steps(
        self, runs: list[_Run], requests: Sequence[ScoreRequest], means: list[list[float]],
        live: set[int],
    ) -> None:  # fmt: skip
        """Close every step whose N machines are done: average, early-stop or start the next."""
        for j in sorted(live):
            group = [r for r in runs if r.solution == j]
            if any(r.machine is None or r.machine.stage != "done" for r in group):
                continue
            for run in group:
                run.rewards.append(self._reward(run))
                run.rationales.append(run.machine.text if run.machine else "")
            mean = sum(r.rewards[-1] for r in group) / len(group)
            means[j].append(mean)
            threshold = requests[j].stop_below
            below = threshold is not None and mean < threshold
            if below or len(means[j]) == len(requests[j].steps):
                live.discard(j)
                for run in group:  # back to the sandbox's warm pool for the next solutions
                    if run.execute is not None:
                        run.execute.close()
                continue
            for run in group:
                self._start_step(run, requests[j])

    def _reward(self, run: _Run) -> float:
        machine = run.machine
        assert machine is not None and machine.final is not None
        decision = machine.decision
        logprobs = machine.final.logprobs or ()
        position = None if decision is None else decision_position(logprobs, self._tokens, decision)
        return step_reward(position, self._tokens, decision=decision, mode=self.cfg.reward_mode,
                           temperature=self.cfg.temperature, top_p=self.cfg.top_p)  # fmt: skip

    def _scores(self, request: ScoreRequest, means: list[float], usage: Usage) -> StepScores:
        scored = len(means)
        rewards = tuple(means) + (0.0,) * (len(request.steps) - scored)
        return StepScores(rewards, usage, scored if scored < len(request.steps) else None)


def reward_tokens(tokenizer: Any) -> RewardTokens:
    """§3.5: ``encode('Yes')[-1]`` and ``encode('No')[-1]``."""
    yes = tokenizer.encode("Yes", add_special_tokens=False)[-1]
    no = tokenizer.encode("No", add_special_tokens=False)[-1]
    return RewardTokens(int(yes), int(no))


def load_genprm(
    model: str = "mini-genprm", *, cfg: GenPRMConfig | None = None,
    sandbox: CodeSandbox | None = None, device: str = "auto", dtype: str = "auto",
) -> GenPRM:  # fmt: skip
    """A GenPRM on the transformers engine: a shipped mini model name, a folder or a Hub id.

    With ``ablation="full"`` and no ``sandbox``, the default sandbox is opened (it refuses, with
    how to fix it, when its isolation is missing).
    """
    from transformers import AutoTokenizer

    from ttscale.engines.transformers_engine import TransformersEngine
    from ttscale.mini.models import resolve_model

    cfg = cfg or GenPRMConfig()
    path = resolve_model(model)
    engine = TransformersEngine(path, device=device, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if sandbox is None and cfg.ablation == "full":
        from ttscale.sandbox import open_sandbox

        sandbox = open_sandbox()
    renderer = None if cfg.chat_form == "continue" else HFChatRenderer(path)
    return GenPRM(engine, tokens=reward_tokens(tokenizer), cfg=cfg, sandbox=sandbox,
                  renderer=renderer)  # fmt: skip


def mini_genprm(cfg: PRMConfig | None = None) -> GenPRM:
    """The shipped miniature GenPRM on CPU (registered as "mini-genprm").

    Its code is plain arithmetic, so the sandbox preloads nothing (a fresh worker starts 5x
    faster than with sympy), and a large warm pool lets Maj@N reuse workers across solutions.
    """
    maj, ablation = (cfg.maj, cfg.ablation) if cfg is not None else (1, "full")
    sandbox = None
    if ablation == "full":
        from ttscale.sandbox import SandboxConfig, open_sandbox

        sandbox = open_sandbox(SandboxConfig(preload=(), pool_size=8 * maj))
    settings = GenPRMConfig(maj=maj, ablation=ablation)
    return load_genprm("mini-genprm", cfg=settings, sandbox=sandbox, device="cpu")


def genprm_7b(cfg: PRMConfig | None = None) -> GenPRM:
    """GenPRM-7B (or ``cfg.model``) in the ``main`` chat form (registered "genprm")."""
    model = cfg.model if cfg is not None and cfg.model else "GenPRM/GenPRM-7B"
    settings = GenPRMConfig(
        maj=cfg.maj if cfg else 1, ablation=cfg.ablation if cfg else "full", chat_form="main"
    )
    return load_genprm(model, cfg=settings)
