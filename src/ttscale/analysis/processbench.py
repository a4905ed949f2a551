"""ProcessBench F1 for any PRM (reference/genprm.md §4).

A PRM predicts a sample's first error as the first step whose reward is below the threshold
(0.5), or -1 when there is none. Per subset: accuracy on erroneous samples (prediction = label),
accuracy on correct samples (prediction = -1), F1 = their harmonic mean; Avg = the mean of the
subsets' F1 (the paper's "Avg.", not a pooled F1).

``stop_at_gold`` scores less for the same F1. Whether a sample is judged right depends only on
its rewards up to the gold first-error step (all steps when label = -1): right iff none of
steps 0..label-1 is below the threshold and step ``label`` is. A PRM scores a step from its
prefix alone, so dropping the later steps changes no reward that matters (36% fewer steps on
ProcessBench). It also passes ``ScoreRequest.stop_below``: a PRM that stops at the first reward
below the threshold leaves the first predicted error where it was. Only the predicted index of
a *wrong* prediction past the gold step changes (it reads -1); the F1 does not.

A PRM failure (``StepScores.error``, or a wrong reward count) is recorded per sample and counts
as a wrong prediction, as an unparseable verdict does in the official evaluation; the table
shows how many there were, so no failure is scored silently.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args

from ttscale.data.processbench import ProcessBenchSample
from ttscale.errors import ConfigError
from ttscale.rewards.base import ProcessRewardModel, ScoreRequest, StepScores
from ttscale.types import Ablation, Usage

THRESHOLD = 0.5


@dataclass(frozen=True)
class SampleOutcome:
    """How the PRM judged one sample."""

    id: str
    subset: str
    label: int
    predicted: int | None
    """First step with reward < threshold, -1 if none; None when the PRM failed."""
    rewards: tuple[float, ...]
    steps_sent: int
    steps_scored: int
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.error is None and self.predicted == self.label


@dataclass(frozen=True)
class SubsetScore:
    """One subset's ProcessBench scores (accuracies and F1 as fractions in [0, 1])."""

    subset: str
    samples: int
    erroneous: int
    correct: int
    error_acc: float
    correct_acc: float
    f1: float
    failures: int


@dataclass(frozen=True)
class ProcessBenchReport:
    """Scores per subset, their mean F1, and every sample's outcome."""

    prm: str
    subsets: tuple[SubsetScore, ...]
    average_f1: float
    outcomes: tuple[SampleOutcome, ...]
    threshold: float
    stop_at_gold: bool
    usage: Usage = field(default_factory=Usage)

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self.subsets)

    @property
    def steps_sent(self) -> int:
        return sum(o.steps_sent for o in self.outcomes)

    @property
    def steps_scored(self) -> int:
        return sum(o.steps_scored for o in self.outcomes)


def predict_first_error(rewards: Sequence[float], threshold: float = THRESHOLD) -> int:
    """Index of the first reward below ``threshold``, or -1 when every step passes."""
    return next((i for i, r in enumerate(rewards) if r < threshold), -1)


def f1(error_acc: float, correct_acc: float) -> float:
    """Harmonic mean of the two accuracies (0 when both are 0)."""
    total = error_acc + correct_acc
    return 2 * error_acc * correct_acc / total if total else 0.0


def subset_scores(outcomes: Sequence[SampleOutcome]) -> list[SubsetScore]:
    """Per subset (in first-seen order): both accuracies and their F1.

    A subset with no erroneous (or no correct) samples has that accuracy 0, so its F1 is 0:
    ProcessBench F1 needs both kinds.
    """
    groups: dict[str, list[SampleOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.subset].append(o)
    scores = []
    for subset, group in groups.items():
        wrong = [o for o in group if o.label != -1]
        right = [o for o in group if o.label == -1]
        error_acc = sum(o.correct for o in wrong) / len(wrong) if wrong else 0.0
        correct_acc = sum(o.correct for o in right) / len(right) if right else 0.0
        scores.append(
            SubsetScore(
                subset=subset,
                samples=len(group),
                erroneous=len(wrong),
                correct=len(right),
                error_acc=error_acc,
                correct_acc=correct_acc,
                f1=f1(error_acc, correct_acc),
                failures=sum(o.error is not None for o in group),
            )
        )
    return scores


def request_for(
    sample: ProcessBenchSample, *, threshold: float, stop_at_gold: bool
) -> ScoreRequest:
    """What the PRM is sent for one sample (see the module docstring for ``stop_at_gold``)."""
    if not stop_at_gold:
        return ScoreRequest(sample.question, sample.steps)
    end = len(sample.steps) if sample.label == -1 else sample.label + 1
    return ScoreRequest(sample.question, sample.steps[:end], stop_below=threshold)


def judge(
    sample: ProcessBenchSample, request: ScoreRequest, scores: StepScores, *, threshold: float
) -> SampleOutcome:
    """The outcome of one sample; malformed PRM output becomes a recorded failure."""
    sent = len(request.steps)
    error = scores.error
    if error is None and len(scores.rewards) != sent:
        error = f"PRM returned {len(scores.rewards)} rewards for {sent} steps"
    if error is None and not all(0.0 <= r <= 1.0 for r in scores.rewards):
        error = f"PRM returned rewards outside [0, 1]: {scores.rewards}"
    if error is not None:
        return SampleOutcome(sample.id, sample.subset, sample.label, None, (), sent, 0, error)
    scored = sent if scores.scored is None else scores.scored
    predicted = predict_first_error(scores.rewards[:scored], threshold)
    return SampleOutcome(
        sample.id, sample.subset, sample.label, predicted, scores.rewards, sent, scored
    )


def evaluate(
    samples: Sequence[ProcessBenchSample],
    prm: ProcessRewardModel,
    *,
    threshold: float = THRESHOLD,
    stop_at_gold: bool = False,
    batch_size: int = 128,
    on_batch: Callable[[int], None] | None = None,
) -> ProcessBenchReport:
    """Score every sample with ``prm`` in batches and compute the ProcessBench table.

    ``batch_size`` samples go to the PRM per call (it batches by its own token budget inside);
    ``on_batch(n)`` is called after each batch of ``n`` samples (a progress bar hook).

    Raises:
        ConfigError: a threshold outside (0, 1], a batch size below 1, or no samples.
    """
    if not 0.0 < threshold <= 1.0:  # also refuses NaN
        raise ConfigError(f"threshold must be in (0, 1], got {threshold!r}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
    if not samples:
        raise ConfigError("ProcessBench evaluation got no samples (is --limit 0?)")
    outcomes: list[SampleOutcome] = []
    usage = Usage()
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        requests = [request_for(s, threshold=threshold, stop_at_gold=stop_at_gold) for s in batch]
        results = prm.score(requests)
        if len(results) != len(requests):
            lost = StepScores((), error=f"PRM returned {len(results)} results for {len(requests)}")
            results = [lost] * len(requests)
        for sample, request, scores in zip(batch, requests, results, strict=True):
            outcomes.append(judge(sample, request, scores, threshold=threshold))
            usage = usage + scores.usage
        if on_batch is not None:
            on_batch(len(batch))
    subsets = subset_scores(outcomes)
    return ProcessBenchReport(
        prm=prm.name,
        subsets=tuple(subsets),
        average_f1=sum(s.f1 for s in subsets) / len(subsets),
        outcomes=tuple(outcomes),
        threshold=threshold,
        stop_at_gold=stop_at_gold,
        usage=usage,
    )


def summary_json(report: ProcessBenchReport, *, data: str) -> dict[str, Any]:
    """``results.json``: the settings, the table, Avg, the failure and step counts."""
    return {
        "prm": report.prm,
        "data": data,
        "threshold": report.threshold,
        "stop_at_gold": report.stop_at_gold,
        "average_f1": report.average_f1,
        "subsets": [asdict(s) for s in report.subsets],
        "samples": len(report.outcomes),
        "failures": report.failures,
        "steps_sent": report.steps_sent,
        "steps_scored": report.steps_scored,
        "usage": asdict(report.usage),
    }


def write_results(report: ProcessBenchReport, folder: Path, *, data: str) -> Path:
    """Write ``results.json`` and ``outcomes.jsonl`` (one line per sample) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(asdict(o), ensure_ascii=False) for o in report.outcomes]
    (folder / "outcomes.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = folder / "results.json"
    path.write_text(json.dumps(summary_json(report, data=data), indent=2) + "\n")
    return path


def run_processbench(
    prm_name: str,
    data: str,
    *,
    limit: int | None = None,
    stop_at_gold: bool = False,
    output_dir: Path | None = None,
    progress: bool = False,
    maj: int = 1,
    ablation: str = "full",
    model: str | None = None,
) -> tuple[ProcessBenchReport, Path]:
    """Load ``data``, build the registered PRM ``prm_name``, evaluate, write the results.

    Returns the report and the ``results.json`` path (``outcomes.jsonl`` lies beside it).
    ``limit`` keeps the first N samples per subset. ``maj`` > 1 asks a generative PRM for
    Maj@N (N rationales per step, mean reward), ``ablation`` one of GenPRM's §3.8 ablations;
    other PRMs refuse both. ``model`` reads other
    weights (e.g. a freshly trained folder) with ``prm_name``'s classifier recipe.

    Raises:
        ConfigError: an unknown PRM or set name, or a bad limit.
        DataError: the data cannot be found or is malformed.
    """
    from tqdm import tqdm

    from ttscale.data.processbench import load_processbench
    from ttscale.rewards import load_prm

    samples = load_processbench(data, limit=limit)
    if model is not None:
        prm = load_prm(model, spec=prm_name)
    else:
        generative = maj > 1 or ablation != "full"
        prm = _generative(prm_name, maj, ablation) if generative else load_prm(prm_name)
    with tqdm(total=len(samples), desc=f"processbench {prm_name}", disable=not progress) as bar:

        def advance(done: int) -> None:
            bar.update(done)

        report = evaluate(samples, prm, stop_at_gold=stop_at_gold, on_batch=advance)
    suffix = (f"-maj{maj}" if maj > 1 else "") + (f"-{ablation}" if ablation != "full" else "")
    name = Path(model).name if model is not None else prm_name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{name}{suffix}-{Path(data).stem}")
    folder = output_dir or Path("runs") / f"processbench-{slug}"
    return report, write_results(report, folder, data=data)


def _generative(prm_name: str, maj: int, ablation: str) -> ProcessRewardModel:
    """A registered generative PRM (a factory reading ``maj`` and ``ablation``)."""
    from ttscale.config import PRMConfig
    from ttscale.rewards import load_prm, prms
    from ttscale.rewards.specs import PRMSpec

    if ablation not in get_args(Ablation):
        allowed = ", ".join(get_args(Ablation))
        raise ConfigError(f"--ablation must be one of {allowed}; got {ablation!r}")
    if isinstance(prms.get(prm_name), PRMSpec):
        raise ConfigError(
            f"--maj {maj} / --ablation {ablation} need a generative PRM (mini-genprm, genprm); "
            f"{prm_name!r} is a classifier PRM without Maj@N or ablations"
        )
    return load_prm(prm_name, cfg=PRMConfig(name=prm_name, maj=maj, ablation=ablation))
