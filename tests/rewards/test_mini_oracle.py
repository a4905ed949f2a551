import pytest

from ttscale.config import PRMConfig
from ttscale.mini import task
from ttscale.rewards import prms
from ttscale.rewards.base import ProcessRewardModel, ScoreRequest
from ttscale.rewards.mini_oracle import MiniOraclePRM

# 9 + 1 = 10, 10 - 7 = 3, answer 3
P = task.generate(1, 3, split="test")


def steps(solution: str) -> tuple[str, ...]:
    return tuple(solution.split("\n\n"))


@pytest.mark.parametrize(
    ("solution", "rewards"),
    [
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 - 7 = 3\n\nThe answer is \\boxed{3}.", (1, 1, 1)),
        # a slip in step 1: every later step is scored as the prefix it extends (0)
        ("Step 1: 9 + 1 = 11\n\nStep 2: 11 - 7 = 4\n\nThe answer is \\boxed{4}.", (0, 0, 0)),
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 + 7 = 17\n\nThe answer is \\boxed{17}.", (1, 0, 0)),
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 - 7 = 3\n\nThe answer is \\boxed{10}.", (1, 1, 0)),
        # a partial solution: only its steps are scored
        ("Step 1: 9 + 1 = 10", (1,)),
    ],
)
def test_oracle_rewards_each_step_by_the_correctness_of_its_prefix(solution, rewards):
    (scores,) = MiniOraclePRM().score([ScoreRequest(P.text, steps(solution))])
    assert scores.rewards == rewards and scores.error is None


def test_oracle_agrees_with_first_error_on_policy_like_solutions():
    prm = MiniOraclePRM()
    for problem in task.benchmark_set(per_level=4):
        for solution in (problem.solution(), problem.solution().replace(" = ", " = 1", 1)):
            (scores,) = prm.score([ScoreRequest(problem.text, steps(solution))])
            first = task.first_error(problem, solution)
            expected = [1.0] * len(scores.rewards) if first == -1 else [
                1.0 if k < first else 0.0 for k in range(len(scores.rewards))
            ]
            assert list(scores.rewards) == expected


def test_question_that_is_not_a_mini_problem_is_a_per_sample_error():
    good = ScoreRequest(P.text, ("Step 1: 9 + 1 = 10",))
    bad = ScoreRequest("What is 2 + 2?", ("4",))
    out = MiniOraclePRM().score([bad, good])
    assert out[0].rewards == () and "not a mini problem" in (out[0].error or "")
    assert out[1].rewards == (1.0,)


def test_stop_below_stops_at_the_first_low_reward():
    solution = steps("Step 1: 9 + 1 = 11\n\nStep 2: 11 - 7 = 4\n\nThe answer is \\boxed{4}.")
    (scores,) = MiniOraclePRM().score([ScoreRequest(P.text, solution, stop_below=0.5)])
    assert scores.rewards == (0.0, 0.0, 0.0) and scores.scored == 1


def test_flip_rate_flips_about_that_share_and_depends_only_on_the_content():
    problems = task.benchmark_set(per_level=20)
    requests = [ScoreRequest(p.text, steps(p.solution())) for p in problems]
    noisy = MiniOraclePRM(flip_rate=0.2)
    first = noisy.score(requests)
    flipped = sum(r == 0.0 for s in first for r in s.rewards)
    total = sum(len(s.rewards) for s in first)
    assert 0.1 < flipped / total < 0.3
    assert noisy.score(requests[::-1]) == first[::-1]  # the same in any order or batch


def test_oracle_satisfies_the_protocol_and_is_registered_as_mini_oracle():
    prm = prms.get("mini-oracle")(PRMConfig(flip_rate=0.1))
    assert isinstance(prm, ProcessRewardModel)
    assert isinstance(prm, MiniOraclePRM) and prm.flip_rate == 0.1 and prm.num_parameters == 0
