"""ProcessBench: solutions with the index of their first wrong step (reference/genprm.md §4).

The official subsets live in ``shared/data/processbench/<subset>.jsonl`` (see its SOURCES.md;
omnimath is held out there). Each line has ``id``, ``generator``, ``problem``, ``steps``,
``final_answer_correct`` and ``label`` (0-based first wrong step, -1 when every step is right);
an optional ``subset`` field (the miniature set uses it) overrides the file's subset.

Sets are chosen by name through :data:`processbench_sets`, a registry of its own because a
ProcessBench sample is a labelled solution, not a :class:`~ttscale.types.Problem` with an answer:
``processbench`` (every subset present), ``processbench:<subset>``, ``mini-processbench``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ttscale.data.datasets import DATA_DIR_ENV, Row, _read_jsonl, find_data_dir
from ttscale.errors import ConfigError, DataError
from ttscale.registry import Registry

SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")
"""The paper's four subsets, in its table order."""


@dataclass(frozen=True)
class ProcessBenchSample:
    """One solution to judge: its problem, its steps and where it first goes wrong."""

    id: str
    subset: str
    question: str
    steps: tuple[str, ...]
    label: int
    """0-based index of the first wrong step; -1 when every step is right."""


SetLoader = Callable[[Path | None], list[ProcessBenchSample]]
"""A registered set: takes the explicit ``data_dir`` (or None) and returns every sample."""

processbench_sets: Registry[SetLoader] = Registry("processbench set")


def _sample(row: Row, subset: str) -> ProcessBenchSample:
    """One row as a sample; a ValueError names what is wrong with it."""
    missing = [k for k in ("id", "problem", "steps", "label") if k not in row]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(map(repr, missing))}")
    sid, problem, steps, label = row["id"], row["problem"], row["steps"], row["label"]
    if not isinstance(sid, str) or not sid:
        raise ValueError(f"id must be a non-empty string, got {sid!r}")
    if not isinstance(problem, str) or not problem.strip():
        raise ValueError(f"problem must be a non-empty string, got {problem!r}")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise ValueError(f"steps must be a non-empty list of strings, got {steps!r:.80}")
    if not isinstance(label, int) or isinstance(label, bool) or not -1 <= label < len(steps):
        raise ValueError(f"label must be -1 or a step index 0..{len(steps) - 1}, got {label!r}")
    final = row.get("final_answer_correct", False)
    if not isinstance(final, bool):
        raise ValueError(f"final_answer_correct must be true or false, got {final!r}")
    own = row.get("subset", subset)
    if not isinstance(own, str) or not own:
        raise ValueError(f"subset must be a non-empty string, got {own!r}")
    return ProcessBenchSample(sid, own, problem, tuple(steps), label)


def read_processbench(path: Path, *, subset: str | None = None) -> list[ProcessBenchSample]:
    """Every sample of one ProcessBench-format JSONL file.

    ``subset`` names the samples' subset (default: the file's stem) unless a row has its own
    ``subset`` field.

    Raises:
        DataError: the file is missing or unreadable, a line is not a JSON object, a field is
            missing or of the wrong type, a label is out of range, or an id repeats.
    """
    if not path.is_file():
        raise DataError(f"ProcessBench file {path} does not exist or is not a file")
    samples: list[ProcessBenchSample] = []
    seen: dict[str, str] = {}
    for where, _, row in _read_jsonl(path):
        try:
            sample = _sample(row, subset or path.stem)
        except ValueError as exc:
            raise DataError(f"{where}: {exc}") from None
        if sample.id in seen:
            raise DataError(f"{where}: duplicate id {sample.id!r} (first at {seen[sample.id]})")
        seen[sample.id] = where
        samples.append(sample)
    if not samples:
        raise DataError(f"ProcessBench file {path} holds no samples")
    return samples


def _shared_dir(data_dir: Path | None) -> Path:
    root = find_data_dir(data_dir)
    if root is None:
        raise DataError(
            "cannot find the ProcessBench data: no shared/data directory above the current "
            f"directory or the ttscale package; set ${DATA_DIR_ENV} or pass data_dir"
        )
    return root / "processbench"


def load_subset(subset: str, data_dir: Path | None = None) -> list[ProcessBenchSample]:
    """One official subset from ``shared/data/processbench/<subset>.jsonl``."""
    if subset not in SUBSETS:
        raise ConfigError(
            f"ProcessBench subset must be one of {', '.join(SUBSETS)}, got {subset!r}"
        )
    path = _shared_dir(data_dir) / f"{subset}.jsonl"
    if not path.is_file():
        raise DataError(
            f"ProcessBench subset {subset!r}: {path} does not exist (the shared copy holds "
            f"{', '.join(available_subsets(data_dir)) or 'no subset'}; see its SOURCES.md)"
        )
    return read_processbench(path, subset=subset)


def available_subsets(data_dir: Path | None = None) -> list[str]:
    """The official subsets present in the shared data directory, in the paper's order."""
    folder = _shared_dir(data_dir)
    return [s for s in SUBSETS if (folder / f"{s}.jsonl").is_file()]


@processbench_sets.register("processbench")
def load_all(data_dir: Path | None = None) -> list[ProcessBenchSample]:
    """Every official subset present (the shared copy lacks omnimath, so Avg is over 3)."""
    subsets = available_subsets(data_dir)
    if not subsets:
        raise DataError(f"no ProcessBench subset file in {_shared_dir(data_dir)}")
    return [sample for s in subsets for sample in load_subset(s, data_dir)]


def _register_subset(subset: str) -> None:
    def load(data_dir: Path | None = None) -> list[ProcessBenchSample]:
        return load_subset(subset, data_dir)

    load.__doc__ = f"The official ProcessBench {subset} subset."
    processbench_sets.register(f"processbench:{subset}", load)


for _subset in SUBSETS:
    _register_subset(_subset)
processbench_sets.register("mini-processbench", "ttscale.mini.processbench:load")


def first_per_subset(samples: Iterable[ProcessBenchSample], limit: int) -> list[ProcessBenchSample]:
    """The first ``limit`` samples of each subset, in order (so every subset keeps a score)."""
    kept: list[ProcessBenchSample] = []
    counts: dict[str, int] = {}
    for sample in samples:
        if counts.get(sample.subset, 0) < limit:
            kept.append(sample)
            counts[sample.subset] = counts.get(sample.subset, 0) + 1
    return kept


def load_processbench(
    name_or_path: str, *, data_dir: Path | None = None, limit: int | None = None
) -> list[ProcessBenchSample]:
    """A ProcessBench set by registered name or ``.jsonl`` path; ``limit`` is per subset.

    Raises:
        ConfigError: an unknown name that is not a file either, or a negative limit.
        DataError: the data cannot be found or is malformed.
    """
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be >= 0 or None, got {limit!r}")
    if name_or_path in processbench_sets:
        samples = processbench_sets.get(name_or_path)(data_dir)
    elif name_or_path.endswith((".jsonl", ".json")) or Path(name_or_path).exists():
        samples = read_processbench(Path(name_or_path).expanduser())
    else:
        try:
            processbench_sets.get(name_or_path)
        except ConfigError as exc:
            raise ConfigError(f"{exc}; a ProcessBench-format .jsonl path also works") from None
        raise AssertionError("unreachable")
    return samples if limit is None else first_per_subset(samples, limit)
