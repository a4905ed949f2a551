"""GenPRM's state machine and batched verifier, on a real miniature model."""

from __future__ import annotations

import os

import pytest

from ttscale.errors import ConfigError
from ttscale.rewards._genprm_machine import StepMachine
from ttscale.rewards.base import ScoreRequest
from ttscale.rewards.genprm import GenPRM, GenPRMConfig, load_genprm
from ttscale.rewards.genprm_protocol import (
    ANALYZE_START,
    CODE_OUTPUT_OPEN,
    CODE_STOP,
    OUTPUT_START,
    OUTPUT_STOP,
    VERIFY_START,
)
from ttscale.types import Completion

os.environ.setdefault("OMP_NUM_THREADS", "1")
Q = "Hana has 31 books. Hana gives away 7. Hana gives away 10. How many books does Hana have now?"
GOOD = ScoreRequest(
    Q, ("Step 1: 31 - 7 = 24", "Step 2: 24 - 10 = 14", "The answer is \\boxed{14}.")
)
BAD = ScoreRequest(Q, ("Step 1: 31 - 7 = 23", "Step 2: 23 - 10 = 13", "The answer is \\boxed{13}."))
SHORT = ScoreRequest(Q, ("Step 1: 31 - 7 = 24", "The answer is \\boxed{24}."))


def _done(text: str, reason: str | None) -> Completion:
    return Completion(text, (1,), "stop", reason)


def _machine(ablation: str = "full", executed: list[str] | None = None) -> StepMachine:
    def execute(text: str) -> str:
        (executed if executed is not None else []).append(text)
        return "True"

    return StepMachine(2, ablation=ablation, execute=execute,  # type: ignore[arg-type]
                       count_tokens=len, budget=10_000, analyze_max_tokens=50)  # fmt: skip


def test_machine_forces_the_prefixes_and_inserts_the_exact_code_output_block() -> None:
    executed: list[str] = []
    m = _machine(executed=executed)
    want = m.request()
    assert want is not None and want.text == ANALYZE_START.format(k=2)
    m.advance(want.text, _done("ok.\n</analyze>\n", "</analyze>\n"))
    want = m.request()
    assert want is not None and want.text.endswith("ok.\n</analyze>\n" + VERIFY_START)
    assert want.stop == (CODE_STOP, OUTPUT_STOP)
    m.advance(want.text, _done("print(1)\n```\n", CODE_STOP))
    assert m.text.endswith("print(1)\n```\n[Code Output]\n\n```\nTrue\n```\n")
    assert executed == [want.text + "print(1)\n```\n"]
    m.advance(m.text, _done("</verify>\n<output>\n**Judgement**: $\\boxed{No}$\n</output>\n",
                            OUTPUT_STOP))  # fmt: skip
    assert m.stage == "done" and m.decision is False


def test_fallback_after_three_rounds_keeps_only_the_analysis() -> None:
    m = _machine()
    m.advance(ANALYZE_START.format(k=2), _done("fine.\n</analyze>\n", "</analyze>\n"))
    for _ in range(3):
        want = m.request()
        assert want is not None and want.max_tokens > 20
        m.advance(want.text, _done("x = 1\n```\n", CODE_STOP))
    want = m.request()
    assert m.stage == "fallback"
    assert want is not None and want.max_tokens == 20 and want.stop == (OUTPUT_STOP,)
    assert want.text == ANALYZE_START.format(k=2) + "fine.\n</analyze>\n" + OUTPUT_START


def test_cot_only_outputs_right_after_the_analysis() -> None:
    m = _machine("cot_only")
    m.advance(ANALYZE_START.format(k=2), _done("fine.\n</analyze>\n", "</analyze>\n"))
    want = m.request()
    assert want is not None and want.text.endswith("</analyze>\n" + OUTPUT_START)
    assert want.stop == (OUTPUT_STOP,)


def test_code_without_execution_lets_the_model_write_the_output() -> None:
    executed: list[str] = []
    m = _machine("code_no_exec", executed)
    m.advance(ANALYZE_START.format(k=2), _done("fine.\n</analyze>\n", "</analyze>\n"))
    m.advance(m.text, _done("print(1)\n```\n", CODE_STOP))
    want = m.request()
    assert executed == [] and m.text.endswith("```\n" + CODE_OUTPUT_OPEN)
    assert want is not None and want.stop == (OUTPUT_STOP,)


@pytest.fixture(scope="module")
def prm() -> GenPRM:
    # an untrained judge (the policy) still exercises every stage; budgets keep it fast
    cfg = GenPRMConfig(ablation="cot_only", budget_tokens=48, analyze_max_tokens=12, maj=1)
    return load_genprm("mini-policy-s", cfg=cfg, device="cpu")


def _with(prm: GenPRM, **changes: object) -> GenPRM:
    return GenPRM(prm._engine, tokens=prm._tokens, cfg=prm.cfg.model_copy(update=changes))


def test_rewards_are_independent_of_the_rest_of_the_batch(prm: GenPRM) -> None:
    alone = prm.verify([GOOD])[0]
    batched = prm.verify([BAD, GOOD, SHORT])[1]
    assert batched.scores.rewards == alone.scores.rewards
    assert batched.rationales == alone.rationales


def test_all_solutions_advance_in_one_engine_call_per_tick(prm: GenPRM) -> None:
    counts = []
    for request in (GOOD, BAD, SHORT):
        prm.calls = 0
        prm.score([request])
        counts.append(prm.calls)
    prm.calls = 0
    prm.score([GOOD, BAD, SHORT])
    assert prm.calls == max(counts)


def test_maj_n_reward_is_the_mean_of_independent_samples(prm: GenPRM) -> None:
    maj = _with(prm, maj=3, reward_mode="calibrated")
    single = _with(prm, reward_mode="calibrated")
    verified = maj.verify([GOOD])[0]
    assert len(verified.sample_rewards) == 3
    for t, reward in enumerate(verified.scores.rewards):
        assert reward == pytest.approx(sum(s[t] for s in verified.sample_rewards) / 3)
    # sample 0's seeds do not depend on N, so it is the Pass@1 run
    assert verified.sample_rewards[0] == single.verify([GOOD])[0].scores.rewards


def test_early_stop_at_the_first_step_below_the_threshold(prm: GenPRM) -> None:
    full = prm.score([BAD])[0].rewards
    cut = next(i for i, r in enumerate(full) if r < 1.01)  # every reward is below 1.01
    stopped = prm.score([ScoreRequest(BAD.question, BAD.steps, stop_below=1.01)])[0]
    assert stopped.scored == cut + 1
    assert stopped.rewards[: cut + 1] == full[: cut + 1]
    assert stopped.rewards[cut + 1 :] == (0.0,) * (len(full) - cut - 1)


def test_full_mode_without_a_sandbox_is_refused(prm: GenPRM) -> None:
    with pytest.raises(ConfigError, match="needs a sandbox"):
        GenPRM(prm._engine, tokens=prm._tokens, cfg=GenPRMConfig(ablation="full"))
