"""Answer extraction and math-verify grading, on real answers from the shared sets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ttscale.data import Grader, extract_answer, load_dataset
from ttscale.errors import GradingError


@pytest.fixture(scope="module")
def grader() -> Iterator[Grader]:
    with Grader() as g:
        yield g


# ---------------------------------------------------------------------------------------------
# extract_answer

EXTRACTION = [
    # plain and nested boxes
    ("So the answer is $\\boxed{42}$.", "42"),
    ("$\\boxed{\\frac{14}{3}}$", "\\frac{14}{3}"),
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
    ("\\boxed{\\text{(C)}}", "\\text{(C)}"),
    # several boxes: the last one wins; a box inside a box stays part of the outer one
    ("First \\boxed{3}, then corrected: \\boxed{5}.", "5"),
    ("\\boxed{x = \\boxed{2}}", "x = \\boxed{2}"),
    # \fbox and the brace-less form
    ("hence \\fbox{204} minutes", "204"),
    ("The result is \\boxed 7.", "7"),
    # a truncated last box falls back to the last complete one
    ("\\boxed{12} ... wait, \\boxed{\\frac{1}{", "12"),
    # no box: the Minerva "final answer is $X$" and "The answer is X" fallbacks
    ("Final Answer: The final answer is $28 \\%$. I hope it is correct.", "28 \\%"),
    ("Step 2: 84 - 4 = 80\n\nThe answer is 80.", "80"),
    ("The answer is $\\frac{1}{2}$. Done.", "\\frac{1}{2}"),
    ("The answer is 3.5 meters.", "3.5 meters"),
    ("the answer is: -12", "-12"),
    # nothing to extract
    ("I am not sure.", None),
    ("\\boxed{}", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTION)
def test_extract_answer_finds_the_final_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_extract_answer_is_fast_on_long_text() -> None:
    text = "Step: 1 + 1 = 2.\n\n" * 20_000 + "The answer is \\boxed{2}."
    start = time.perf_counter()
    assert extract_answer(text) == "2"
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------------------------------------
# is_correct: (gold from a shared set, model output, equivalent?)

EQUIVALENCE = [
    # math500 tuples and coordinates
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\frac{\\pi}{2})", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi)", False),
    # math500 fractions and radicals
    ("\\frac{14}{3}", "14/3", True),
    ("\\frac{14}{3}", "\\dfrac{14}{3}", True),
    ("\\frac{14}{3}", "4\\frac{2}{3}", True),
    ("\\frac{14}{3}", "4.67", False),
    ("3\\sqrt{13}", "\\sqrt{117}", True),
    ("0.15", "\\frac{3}{20}", True),
    # math500 expressions in variables
    ("p - q", "-q + p", True),
    ("p - q", "q - p", False),
    ("x=5", "5", True),
    ("6 - 5i", "6-5i", True),
    # math500 intervals and sets
    ("(-\\infty, 0]", "(-\\infty,0]", True),
    ("(-\\infty, 0]", "(-\\infty, 0)", False),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)", True),
    ("1,-2", "-2, 1", True),
    # math500 multiple choice and text answers
    ("\\text{(C)}", "C", True),
    ("\\text{(C)}", "(C)", True),
    ("\\text{(C)}", "\\textbf{(C)}", True),
    ("\\text{(C)}", "D", False),
    ("\\text{Evelyn}", "Evelyn", True),
    # math500 units and degrees
    ("90^\\circ", "90", True),
    ("5.4 \\text{ cents}", "5.4", True),
    # gsm8k numbers (loader removes the commas from the gold) vs outputs with commas or money
    ("2125", "2,125", True),
    ("1450000", "1,450,000", True),
    ("18", "\\$18", True),
    ("18", "18.00", True),
    ("18", "19", False),
    # amc23 floats rendered by the loader ("27.0" -> "27")
    ("27", "27.0", True),
    ("-1", "-1", True),
    ("3159", "3158", False),
    # aime24 zero-padded golds
    ("025", "25", True),
    ("073", "73", True),
    ("204", "240", False),
    # olympiadbench final answers (after the loader strips the $)
    ("\\frac{1}{2 n+2}", "\\frac{1}{2(n+1)}", True),
    ("2^{1009}", "2^{1009}", True),
    ("(1,8,19), (2,7,13), (4,5,7)", "(4,5,7),(2,7,13),(1,8,19)", True),
    ("\\binom{2n}{n}", "\\frac{(2n)!}{(n!)^2}", True),
    ("(2,4)", "(4,2)", False),
    ("2n-2", "2n+2", False),
    # minerva_math boxed answers, scientific notation
    ("4.5e33", "4.5 \\times 10^{33}", True),
    ("1.6", "1.6 \\mathrm{~cm}", True),
    # mini integers
    ("84", "84", True),
    ("84", "84.", True),
    ("84", "48", False),
]


@pytest.mark.parametrize(("gold", "prediction", "expected"), EQUIVALENCE)
def test_is_correct_judges_equivalence(
    grader: Grader, gold: str, prediction: str, expected: bool
) -> None:
    assert grader.is_correct([prediction], [gold]) == [expected]


def test_is_correct_grades_a_batch_in_order(grader: Grader) -> None:
    golds = [g for g, _, _ in EQUIVALENCE]
    predictions = [p for _, p, _ in EQUIVALENCE]
    assert grader.is_correct(predictions, golds) == [e for _, _, e in EQUIVALENCE]


def test_is_correct_counts_a_missing_prediction_as_wrong(grader: Grader) -> None:
    assert grader.is_correct([None, "", "7"], ["7", "7", "7"]) == [False, False, True]


def test_is_correct_rejects_mismatched_lengths(grader: Grader) -> None:
    with pytest.raises(GradingError, match="one gold per prediction"):
        grader.is_correct(["1", "2"], ["1"])


@pytest.mark.parametrize(
    ("prediction", "gold"),
    [("42", "42"), ("025", "25"), ("1,319", "1319"), ("p-q", "p - q"), ("$7$", "7")],
)
def test_identical_answers_are_graded_without_the_worker(prediction: str, gold: str) -> None:
    with Grader() as fresh:
        assert fresh.is_correct([prediction], [gold]) == [True]
        assert not fresh.worker_running


def test_aime_golds_match_unpadded_integers(grader: Grader, shared_data_dir: Path) -> None:
    problems = load_dataset("aime24", data_dir=shared_data_dir)
    predictions = [str(int(p.answer)) for p in problems]
    assert all(grader.is_correct(predictions, [p.answer for p in problems]))


# ---------------------------------------------------------------------------------------------
# cluster

CLUSTERS = [
    # fractions, decimals, LaTeX: one class
    (["1/2", "0.5", "\\frac{1}{2}", "\\dfrac12"], [0, 0, 0, 0]),
    # integers with padding, commas and trailing .0
    (["25", "025", "24", "25.0", "1,000", "1000"], [0, 0, 1, 0, 2, 2]),
    # classes numbered in first-seen order, mixed kinds
    (["x", "3", "\\frac{6}{2}", "x", "2x", "x+x"], [0, 1, 1, 0, 2, 2]),
    # multiple choice letters
    (["\\text{(C)}", "C", "(D)"], [0, 0, 1]),
    ([], []),
]


@pytest.mark.parametrize(("answers", "expected"), CLUSTERS)
def test_cluster_groups_equivalent_answers(
    grader: Grader, answers: list[str], expected: list[int]
) -> None:
    assert grader.cluster(answers) == expected


def test_cluster_of_integers_needs_no_worker() -> None:
    with Grader() as fresh:
        assert fresh.cluster(["18", "18", "17", "018"]) == [0, 0, 1, 0]
        assert not fresh.worker_running


# ---------------------------------------------------------------------------------------------
# timeouts and worker failures


def test_late_item_counts_as_wrong_and_worker_restarts() -> None:
    with Grader(timeout=0.002) as g:
        golds = ["(x+1)^3", "\\frac{x^2-1}{x-1}"]
        predictions = ["x^3+3x^2+3x+1", "x+1"]
        assert g.is_correct(predictions, golds) == [False, False]
        assert g.restarts >= 1
        g.timeout = 10.0
        assert g.is_correct(predictions, golds) == [True, True]


def test_late_comparison_in_cluster_makes_a_new_class() -> None:
    with Grader(timeout=0.002) as g:
        labels = g.cluster(["(x+1)^3", "x^3+3x^2+3x+1", "y"])
        assert labels[0] == 0 and len(set(labels)) >= 2
        g.timeout = 10.0
        assert g.cluster(["(x+1)^3", "x^3+3x^2+3x+1", "y"]) == [0, 0, 1]


def test_worker_that_cannot_start_raises_grading_error() -> None:
    with Grader(start_timeout=0.001) as g, pytest.raises(GradingError, match="could not start"):
        g.is_correct(["x+1"], ["1+x"])


def test_closed_grader_starts_a_new_worker_on_use() -> None:
    g = Grader()
    assert g.is_correct(["\\frac{1}{2}"], ["0.5"]) == [True]
    g.close()
    assert not g.worker_running
    assert g.is_correct(["\\frac{1}{2}"], ["0.5"]) == [True]
    g.close()
