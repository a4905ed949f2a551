import pytest

from ttscale.errors import ConfigError
from ttscale.mini import task


def test_generate_is_deterministic_in_split_level_and_seed():
    assert task.generate(3, 7, split="test") == task.generate(3, 7, split="test")
    assert task.generate(3, 7, split="test") != task.generate(3, 7, split="train")


def test_benchmark_set_has_100_distinct_problems_per_level():
    problems = task.benchmark_set()
    assert len(problems) == 500
    assert len({p.text for p in problems}) == 500
    for level in range(1, 6):
        assert sum(p.level == level for p in problems) == 100


def test_levels_grow_in_number_of_steps():
    steps = [len(task.generate(level, 0).ops) for level in range(1, 6)]
    assert steps == sorted(steps) and steps[0] < steps[-1]


def test_train_problems_never_repeat_a_benchmark_problem():
    bench = {p.text for p in task.benchmark_set()}
    assert not any(p.text in bench for p in task.train_problems(3000))


def test_values_stay_nonnegative_and_bounded():
    for p in task.train_problems(2000):
        assert all(0 <= v <= task.MAX_VALUE for v in p.values)


def test_reference_solution_has_one_step_per_op_then_the_boxed_answer():
    p = task.generate(4, 11, split="test")
    steps = p.solution().split("\n\n")
    assert len(steps) == len(p.ops) + 1
    assert steps[-1] == f"The answer is \\boxed{{{p.answer}}}."


def test_reference_solutions_have_no_error():
    assert all(task.first_error(p, p.solution()) == -1 for p in task.benchmark_set())


def test_unknown_level_is_a_config_error():
    with pytest.raises(ConfigError, match="level"):
        task.generate(6, 0)


# A fixed problem: 9 + 1 = 10, 10 - 7 = 3, answer 3.
P = task.generate(1, 3, split="test")


@pytest.mark.parametrize(
    ("solution", "expected"),
    [
        # all right
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 - 7 = 3\n\nThe answer is \\boxed{3}.", -1),
        # arithmetic slip in step 1
        ("Step 1: 9 + 1 = 11\n\nStep 2: 11 - 7 = 4\n\nThe answer is \\boxed{4}.", 0),
        # wrong operand copied from the problem
        ("Step 1: 9 + 2 = 11\n\nStep 2: 11 - 7 = 4\n\nThe answer is \\boxed{4}.", 0),
        # wrong operation
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 + 7 = 17\n\nThe answer is \\boxed{17}.", 1),
        # does not carry the previous result
        ("Step 1: 9 + 1 = 10\n\nStep 2: 9 - 7 = 2\n\nThe answer is \\boxed{2}.", 1),
        # boxes a number other than the last result
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 - 7 = 3\n\nThe answer is \\boxed{10}.", 2),
        # answers too early
        ("Step 1: 9 + 1 = 10\n\nThe answer is \\boxed{10}.", 1),
        # stops before answering
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 - 7 = 3", 2),
        # an extra step after the answer
        ("Step 1: 9 + 1 = 10\n\nStep 2: 10 - 7 = 3\n\nThe answer is \\boxed{3}.\n\nStep 3: 3", 3),
        # wrong step number
        ("Step 1: 9 + 1 = 10\n\nStep 3: 10 - 7 = 3\n\nThe answer is \\boxed{3}.", 1),
        # unparseable step
        ("Nine plus one is ten.\n\nStep 2: 10 - 7 = 3\n\nThe answer is \\boxed{3}.", 0),
    ],
)
def test_first_error_finds_the_first_wrong_step(solution, expected):
    assert P.start == 9 and [(o.kind, o.operand) for o in P.ops] == [("+", 1), ("-", 7)]
    assert task.first_error(P, solution) == expected


def test_inexact_division_is_never_correct():
    problem = task.MiniProblem("x", 3, 10, (task.Op("/", 3),), "")
    assert not task.step_is_correct(problem, ["Step 1: 10 / 3 = 3"], 0)


@pytest.mark.parametrize(
    ("level", "seed", "split"),
    [
        (level, seed, split)
        for level in range(1, 6)
        for seed in (0, 7, 42)
        for split in ("test", "train")
    ],
)
def test_parse_problem_reads_back_what_generate_wrote(level, seed, split):
    problem = task.generate(level, seed, split=split)
    parsed = task.parse_problem(problem.text)
    assert (parsed.start, parsed.ops, parsed.text) == (problem.start, problem.ops, problem.text)
    assert parsed.answer == problem.answer
    # levels 2 and 3 both have 3 operations, so the level read back is the lowest that fits
    assert task.LEVELS[parsed.level].num_ops == task.LEVELS[problem.level].num_ops


def test_parse_problem_reads_every_benchmark_problem():
    for problem in task.benchmark_set():
        assert task.parse_problem(problem.text).values == problem.values


@pytest.mark.parametrize(
    "text",
    [
        "",
        "What is 2 + 2?",
        # a sentence no template makes
        "Ann has 5 coins. Ann eats 2. How many coins does Ann have now?",
        # the question names another item or person
        "Ann has 5 coins. Ann finds 2 more. Ann finds 3 more. How many pens does Ann have now?",
        "Ann has 5 coins. Ann finds 2 more. Ann finds 3 more. How many coins does Ben have now?",
        # one operation: no level has so few
        "Ann has 5 coins. Ann finds 2 more. How many coins does Ann have now?",
        # a step for someone else
        "Ann has 5 coins. Ben finds 2 more. Ann finds 3 more. How many coins does Ann have now?",
    ],
)
def test_parse_problem_rejects_text_that_is_not_a_mini_problem(text):
    from ttscale.errors import DataError

    with pytest.raises(DataError, match="not a mini problem"):
        task.parse_problem(text)
