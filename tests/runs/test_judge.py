"""Judging search results with the real math-verify grader."""

import pytest

from ttscale.data.grading import Grader
from ttscale.runs.judge import judge
from ttscale.types import Candidate, Problem, SearchResult, Usage

PROBLEM = Problem("p", "q", "\\frac{1}{2}", level=2)


def cand(answer, scores=(1.0,), finish="stop", group=0):
    return Candidate(f"\\boxed{{{answer}}}", answer, finish, None, scores, group)


@pytest.fixture(scope="module")
def grader():
    with Grader() as g:
        yield g


def test_answers_are_grouped_by_equivalence_and_graded_once_per_class(grader):
    result = SearchResult(PROBLEM, None, (
        cand("0.5", (0.2,)), cand("3", (0.9,)), cand("1/2", (0.3,)), cand(None, None),
    ), Usage(1, 2, 3.0), Usage(4, 5, 6.0))
    (rec,) = judge("bon", [result], grader, rule="majority", wall_per_problem=0.1)
    assert rec.classes == (0, 1, 0, -1)
    assert rec.verdicts == (True, False, True, False)
    assert (rec.answer, rec.correct, rec.any_correct) == ("0.5", True, True)
    assert (rec.prm_tokens, rec.prm_flops, rec.flops) == (9, 6.0, 3.0)


@pytest.mark.parametrize(
    ("rule", "answer"),
    [("majority", "0.5"), ("prm_last_max", "3"), ("prm_last_vote", "3"), ("prm_min_vote", "3")],
)
def test_the_strategy_rule_selects_the_answer(grader, rule, answer):
    result = SearchResult(PROBLEM, None, (cand("0.5", (0.2,)), cand("3", (0.9,)),
                                          cand("1/2", (0.3,))))
    (rec,) = judge("bon", [result], grader, rule=rule, wall_per_problem=0.0)
    assert rec.answer == answer and rec.correct == (answer == "0.5")


def test_unfinished_candidates_are_never_selected(grader):
    result = SearchResult(PROBLEM, None, (cand("1/2", (1.0,), finish="length"),
                                          cand("3", (0.1,))))
    (rec,) = judge("bon", [result], grader, rule="prm_last_max", wall_per_problem=0.0)
    assert rec.answer == "3" and not rec.correct and rec.any_correct


def test_no_finished_candidate_gives_no_answer_and_keeps_the_failure(grader):
    result = SearchResult(PROBLEM, None, (), failure="no finished candidate after 3 rounds")
    (rec,) = judge("beam", [result], grader, rule="prm_last_vote", wall_per_problem=0.0)
    assert rec.answer is None and not rec.correct and rec.failure == result.failure


def test_a_strategy_that_chose_its_answer_keeps_it(grader):
    result = SearchResult(PROBLEM, "3", (cand("3", None),))
    (rec,) = judge("cot", [result], grader, rule="majority", wall_per_problem=0.0)
    assert rec.answer == "3" and not rec.correct
