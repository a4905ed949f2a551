"""ProcessBench F1: prediction rule, the per-subset table, Avg, stop-at-gold, failures, the CLI."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ttscale.analysis.processbench import (
    SampleOutcome,
    evaluate,
    f1,
    predict_first_error,
    subset_scores,
)
from ttscale.cli import app
from ttscale.data.processbench import ProcessBenchSample, load_processbench
from ttscale.errors import ConfigError
from ttscale.rewards.base import ScoreRequest, StepScores

from .conftest import EXACT_PRM, ExactCheckerPRM


@pytest.mark.parametrize(
    ("rewards", "threshold", "expected"),
    [
        ((0.9, 0.8, 0.7), 0.5, -1),  # nothing below: no error
        ((0.9, 0.4, 0.1), 0.5, 1),  # the first below wins, not the lowest
        ((0.5, 0.5), 0.5, -1),  # exactly the threshold passes (reward < threshold errs)
        ((0.2,), 0.5, 0),
        ((0.7, 0.6), 0.65, 1),
        ((), 0.5, -1),
    ],
)
def test_predicted_error_is_the_first_reward_below_the_threshold(
    rewards: tuple[float, ...], threshold: float, expected: int
) -> None:
    assert predict_first_error(rewards, threshold) == expected


def _outcome(
    subset: str, label: int, predicted: int | None, error: str | None = None
) -> SampleOutcome:
    return SampleOutcome("x", subset, label, predicted, (), 1, 1, error)


def test_subset_table_matches_hand_computed_accuracies_and_f1() -> None:
    # subset a: erroneous 3 of 4 right (0.75), correct 1 of 2 right (0.5) -> F1 = 0.6
    # subset b: erroneous 1 of 1 right, correct 0 of 1 right -> F1 = 0
    outcomes = [
        _outcome("a", 2, 2),
        _outcome("a", 0, 0),
        _outcome("a", 1, 1),
        _outcome("a", 3, -1),
        _outcome("a", -1, -1),
        _outcome("a", -1, 4),
        _outcome("b", 1, 1),
        _outcome("b", -1, 0),
    ]
    a, b = subset_scores(outcomes)
    assert (a.subset, a.samples, a.erroneous, a.correct) == ("a", 6, 4, 2)
    assert (a.error_acc, a.correct_acc) == (0.75, 0.5)
    assert a.f1 == pytest.approx(0.6)
    assert (b.error_acc, b.correct_acc, b.f1) == (1.0, 0.0, 0.0)


def test_f1_is_the_harmonic_mean_and_zero_when_both_accuracies_are_zero() -> None:
    assert f1(0.8, 0.6) == pytest.approx(2 * 0.8 * 0.6 / 1.4)
    assert f1(0.0, 0.0) == 0.0


def test_a_failed_sample_counts_as_wrong_and_is_counted() -> None:
    (score,) = subset_scores(
        [_outcome("a", -1, -1), _outcome("a", -1, None, "too long"), _outcome("a", 0, 0)]
    )
    assert (score.correct_acc, score.error_acc, score.failures) == (0.5, 1.0, 1)


@pytest.fixture(scope="module")
def mini_samples() -> list[ProcessBenchSample]:
    return load_processbench("mini-processbench")


def _mislabelled(samples: Sequence[ProcessBenchSample]) -> list[ProcessBenchSample]:
    """Every third label moved (earlier, later, or to/from -1), so a perfect PRM errs there."""
    out = []
    for i, s in enumerate(samples):
        if i % 3 == 0:
            label = 0 if s.label == -1 else (-1 if i % 2 else (s.label + 1) % len(s.steps))
            s = dataclasses.replace(s, label=label)
        out.append(s)
    return out


def test_exact_checker_prm_scores_f1_100_on_every_mini_subset(
    mini_samples: list[ProcessBenchSample], exact_prm: ExactCheckerPRM
) -> None:
    report = evaluate(mini_samples, exact_prm)
    assert [s.subset for s in report.subsets] == list(dict.fromkeys(s.subset for s in mini_samples))
    assert all(s.f1 == 1.0 and s.failures == 0 for s in report.subsets)
    assert report.average_f1 == 1.0


def test_average_is_the_mean_of_subset_f1_not_a_pooled_f1(
    mini_samples: list[ProcessBenchSample], exact_prm: ExactCheckerPRM
) -> None:
    report = evaluate(_mislabelled(mini_samples), exact_prm)
    f1s = [s.f1 for s in report.subsets]
    assert len(set(f1s)) > 1 and report.average_f1 < 1.0
    assert report.average_f1 == pytest.approx(sum(f1s) / len(f1s))
    per_sample = subset_scores(report.outcomes)
    assert [s.f1 for s in per_sample] == f1s


def test_stop_at_gold_gives_the_same_scores_with_fewer_steps_scored(
    mini_samples: list[ProcessBenchSample],
) -> None:
    samples = _mislabelled(mini_samples)
    full_prm, gold_prm = ExactCheckerPRM(), ExactCheckerPRM()
    full = evaluate(samples, full_prm)
    gold = evaluate(samples, gold_prm, stop_at_gold=True)
    assert full.average_f1 < 1.0
    assert gold.subsets == full.subsets
    assert gold.average_f1 == full.average_f1
    assert [o.correct for o in gold.outcomes] == [o.correct for o in full.outcomes]
    assert gold_prm.steps_scored == gold.steps_scored < full.steps_scored == full_prm.steps_scored
    assert gold.steps_sent < full.steps_sent
    assert gold.usage.prompt_tokens == gold.steps_scored


def test_prm_error_is_recorded_per_sample_and_the_rest_are_scored(
    mini_samples: list[ProcessBenchSample], exact_prm: ExactCheckerPRM
) -> None:
    stranger = dataclasses.replace(mini_samples[0], question="Zed has 3 cards.", id="stranger")
    report = evaluate([stranger, *mini_samples[1:4]], exact_prm)
    first, *rest = report.outcomes
    assert first.predicted is None and "not a mini test problem" in (first.error or "")
    assert all(o.error is None and o.correct for o in rest)
    assert report.failures == 1


class _ShortRewardsPRM(ExactCheckerPRM):
    """Injects a fault: drops the last reward of every solution."""

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]:
        return [StepScores(s.rewards[:-1]) for s in super().score(requests)]


def test_wrong_reward_count_is_a_recorded_failure_not_a_score(
    mini_samples: list[ProcessBenchSample],
) -> None:
    report = evaluate(mini_samples[:5], _ShortRewardsPRM())
    assert report.failures == 5
    assert all("rewards for" in (o.error or "") and not o.correct for o in report.outcomes)


@pytest.mark.parametrize(
    ("threshold", "batch_size", "match"),
    [(0.0, 8, "threshold"), (1.5, 8, "threshold"), (0.5, 0, "batch_size")],
)
def test_bad_evaluation_settings_are_config_errors(
    mini_samples: list[ProcessBenchSample],
    exact_prm: ExactCheckerPRM,
    threshold: float,
    batch_size: int,
    match: str,
) -> None:
    with pytest.raises(ConfigError, match=match):
        evaluate(mini_samples[:2], exact_prm, threshold=threshold, batch_size=batch_size)


def test_cli_prints_the_table_and_writes_results_json(tmp_path: Path) -> None:
    args = ["processbench", "--prm", EXACT_PRM, "--data", "mini-processbench", "--limit", "20"]
    result = CliRunner().invoke(app, [*args, "--stop-at-gold", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "L1" in result.output and "Avg" in result.output and "100.0" in result.output
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["prm"] == EXACT_PRM and saved["stop_at_gold"] is True
    subsets = len(saved["subsets"])
    assert [s["samples"] for s in saved["subsets"]] == [20] * subsets
    assert saved["samples"] == 20 * subsets and saved["average_f1"] == 1.0
    outcomes = (tmp_path / "outcomes.jsonl").read_text().splitlines()
    assert len(outcomes) == saved["samples"]
    assert {"id", "label", "predicted", "rewards", "error"} <= set(json.loads(outcomes[0]))


def test_cli_unknown_prm_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    args = ["processbench", "--prm", "no-such-prm", "--output-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "unknown prm 'no-such-prm'" in result.output
