"""Benchmark loaders: the shared evaluation sets, mini-500, local JSONL files and HF datasets.

Every loader returns :class:`~ttscale.types.Problem` objects with a stable unique ``id`` and
``dataset`` set to the name it was loaded by. The shared sets live in ``shared/data`` (see its
SOURCES.md); :func:`find_data_dir` says where that is.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ttscale.data.extraction import last_boxed
from ttscale.errors import ConfigError, DataError
from ttscale.registry import Registry
from ttscale.types import Problem

DATA_DIR_ENV = "TTSCALE_DATA_DIR"
QUESTION_FIELDS = ("problem", "question", "prompt", "input")
ANSWER_FIELDS = ("answer", "final_answer", "gold", "target", "expected_answer")
ID_FIELDS = ("id", "unique_id", "idx")

Loader = Callable[[Path | None], list[Problem]]
"""A registered loader: takes the explicit ``data_dir`` (or None) and returns every problem."""

datasets: Registry[Loader] = Registry("dataset")

Row = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class _Fields:
    """What a row converter extracts; ``id`` None means ``<name>-<line index>``."""

    question: str
    answer: str
    id: str | None = None
    level: int | None = None


class _RowError(Exception):
    """A row lacks something; turned into a DataError naming ``file:line``."""


# ---------------------------------------------------------------------------------------------
# Finding the shared data


def find_data_dir(data_dir: Path | str | None = None) -> Path | None:
    """The shared data directory: ``data_dir``, else $TTSCALE_DATA_DIR, else a ``shared/data``.

    The search walks up from the current directory, then from this file, and returns the first
    existing ``<ancestor>/shared/data``; None when there is none.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for ancestor in (start, *start.parents):
            candidate = ancestor / "shared" / "data"
            if candidate.is_dir():
                return candidate
    return None


def _shared_file(name: str, data_dir: Path | None) -> Path:
    root = find_data_dir(data_dir)
    if root is None:
        raise DataError(
            f"cannot find the data for dataset {name!r}: no shared/data directory above the "
            f"current directory or the ttscale package; set ${DATA_DIR_ENV} or pass data_dir"
        )
    path = root / name / "test.jsonl"
    if not path.is_file():
        raise DataError(
            f"dataset {name!r}: {path} does not exist (data directory {root}; set "
            f"${DATA_DIR_ENV} or pass data_dir to use another one)"
        )
    return path


# ---------------------------------------------------------------------------------------------
# Reading rows


def _read_jsonl(path: Path) -> Iterator[tuple[str, int, Row]]:
    """Yield ``("file:line", line index, row)``; empty lines are skipped."""
    try:
        with path.open(encoding="utf-8") as f:
            for index, line in enumerate(f):
                where = f"{path}:{index + 1}"
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"{where}: malformed JSON ({exc.msg} at column {exc.colno})"
                    ) from None
                if not isinstance(row, dict):
                    raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
                yield where, index, row
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def _problems(
    name: str, rows: Iterable[tuple[str, int, Row]], convert: Callable[[Row], _Fields]
) -> list[Problem]:
    """Convert rows to problems; a bad row or a repeated id is a DataError naming its place."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for where, index, row in rows:
        try:
            fields = convert(row)
        except _RowError as exc:
            raise DataError(f"{where}: {exc}") from None
        pid = fields.id if fields.id is not None else f"{name}-{index}"
        if pid in seen:
            raise DataError(f"{where}: duplicate id {pid!r} (first at {seen[pid]})")
        seen[pid] = where
        problems.append(Problem(pid, fields.question, fields.answer, fields.level, name))
    return problems


def _field(row: Row, key: str) -> Any:
    if key not in row:
        raise _RowError(f"missing field {key!r} (fields found: {', '.join(row) or 'none'})")
    return row[key]


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _RowError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _answer_text(value: Any) -> str:
    """An answer value as a string: ``27.0`` -> ``"27"``, a one-element list -> its element."""
    if isinstance(value, (list, tuple)) and value:
        return _answer_text(value[0])
    if isinstance(value, bool) or value is None or isinstance(value, (list, tuple, dict)):
        raise _RowError(f"answer must be a string or a number, got {value!r}")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value).strip()


def _id_of(name: str, value: Any) -> str:
    """A dataset's own id: strings as they are, numbers prefixed with the dataset name."""
    return value if isinstance(value, str) else f"{name}-{value}"


def _level(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.fullmatch(r"(?:level\s*)?(\d+)", str(value).strip(), re.IGNORECASE)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------------------------
# The shared sets


def _math500(row: Row) -> _Fields:
    return _Fields(
        _text(_field(row, "problem"), "problem"),
        _answer_text(_field(row, "answer")),
        _id_of("math500", _field(row, "unique_id")),
        _level(_field(row, "level")),
    )


def _aime_amc(name: str) -> Callable[[Row], _Fields]:
    def convert(row: Row) -> _Fields:
        return _Fields(
            _text(_field(row, "problem"), "problem"),
            _answer_text(_field(row, "answer")),
            _id_of(name, _field(row, "id")),
        )

    return convert


def _gsm8k(row: Row) -> _Fields:
    rationale = _text(_field(row, "answer"), "answer")
    if "####" not in rationale:
        raise _RowError("answer has no '#### <number>' final line")
    answer = rationale.rsplit("####", 1)[1].strip().replace(",", "")
    return _Fields(_text(_field(row, "question"), "question"), answer)


def _minerva(row: Row) -> _Fields:
    answer = last_boxed(_text(_field(row, "solution"), "solution"))
    if answer is None:
        raise _RowError("solution has no \\boxed{...} answer")
    idx = row.get("idx")
    return _Fields(
        _text(_field(row, "problem"), "problem"),
        answer,
        None if idx is None else _id_of("minerva_math", idx),
    )


def _olympiadbench(row: Row) -> _Fields:
    final = _field(row, "final_answer")
    if not isinstance(final, list) or not final or not isinstance(final[0], str):
        raise _RowError(f"final_answer must be a non-empty list of strings, got {final!r}")
    answer = re.sub(r"(?<!\\)\$", "", final[0]).strip()
    return _Fields(
        _text(_field(row, "question"), "question"),
        answer,
        _id_of("olympiadbench", _field(row, "id")),
    )


def _register_shared(name: str, convert: Callable[[Row], _Fields]) -> None:
    def load(data_dir: Path | None) -> list[Problem]:
        return _problems(name, _read_jsonl(_shared_file(name, data_dir)), convert)

    load.__name__ = f"load_{name}"
    load.__doc__ = f"Load the shared {name} test set (shared/data/{name}/test.jsonl)."
    datasets.register(name, load)


_register_shared("math500", _math500)
_register_shared("aime24", _aime_amc("aime24"))
_register_shared("amc23", _aime_amc("amc23"))
_register_shared("gsm8k", _gsm8k)
_register_shared("minerva_math", _minerva)
_register_shared("olympiadbench", _olympiadbench)


@datasets.register("mini-500")
def load_mini_500(data_dir: Path | None = None) -> list[Problem]:
    """The built-in miniature benchmark: 100 problems for each of 5 levels (needs no files)."""
    from ttscale.mini.task import benchmark_set

    return [dataclasses.replace(p.to_problem(), dataset="mini-500") for p in benchmark_set()]


MINI_TRAIN_OFFSET = 1_000_000
"""Train-split seeds of mini-train start here: past every seed the shipped policies trained on."""


@datasets.register("mini-train")
def load_mini_train(data_dir: Path | None = None) -> list[Problem]:
    """20,000 fresh miniature problems (levels in turn) for labeling and PRM training."""
    from ttscale.mini.task import train_problems

    problems = train_problems(20_000, offset=MINI_TRAIN_OFFSET)
    return [dataclasses.replace(p.to_problem(), dataset="mini-train") for p in problems]


# ---------------------------------------------------------------------------------------------
# Generic files and Hugging Face datasets


def _pick(row: Row, given: str | None, accepted: tuple[str, ...], what: str) -> str:
    """The column holding ``what``: ``given`` if set, else the first accepted name present."""
    names = (given,) if given else accepted
    for key in names:
        if key in row:
            return key
    raise _RowError(
        f"no {what} column (columns found: {', '.join(row) or 'none'}; accepted {what} "
        f"columns: {', '.join(names)}; choose one with {what}_field)"
    )


def _generic(
    name: str, question_field: str | None, answer_field: str | None
) -> Callable[[Row], _Fields]:
    def convert(row: Row) -> _Fields:
        question_key = _pick(row, question_field, QUESTION_FIELDS, "question")
        answer_key = _pick(row, answer_field, ANSWER_FIELDS, "answer")
        id_key = next((k for k in ID_FIELDS if row.get(k) is not None), None)
        return _Fields(
            _text(row[question_key], question_key),
            _answer_text(row[answer_key]),
            None if id_key is None else _id_of(name, row[id_key]),
            _level(row["level"]) if row.get("level") is not None else None,
        )

    return convert


def _load_hf(spec: str, question_field: str | None, answer_field: str | None) -> list[Problem]:
    dataset_id, _, split = spec.partition(":")
    split = split or "test"
    if not dataset_id:
        raise ConfigError(f"expected hf:<dataset_id>[:split], got {'hf:' + spec!r}")
    try:
        hf = importlib.import_module("datasets")
    except ImportError:
        raise DataError(
            f"loading hf:{spec} needs the Hugging Face datasets library: pip install datasets"
        ) from None
    try:
        data = hf.load_dataset(dataset_id, split=split)
    except Exception as exc:
        raise DataError(f"cannot load {dataset_id!r} split {split!r} from HF: {exc}") from None
    rows = ((f"hf:{dataset_id}:{split} row {i}", i, row) for i, row in enumerate(data))
    return _problems(dataset_id, rows, _generic(dataset_id, question_field, answer_field))


def load_dataset(
    name_or_path: str,
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
) -> list[Problem]:
    """Load a benchmark by registered name, local ``.jsonl`` path or ``hf:<id>[:split]``.

    Local files and HF datasets find their question and answer columns among
    :data:`QUESTION_FIELDS` / :data:`ANSWER_FIELDS` unless ``question_field`` / ``answer_field``
    name them. ``limit`` keeps the first N problems.
    """
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be >= 0 or None, got {limit!r}")
    problems = _load(name_or_path, data_dir, question_field, answer_field)
    return problems if limit is None else problems[:limit]


def _load(
    name: str, data_dir: Path | None, question_field: str | None, answer_field: str | None
) -> list[Problem]:
    if name.startswith("hf:"):
        return _load_hf(name[3:], question_field, answer_field)
    if name in datasets:
        if question_field or answer_field:
            raise ConfigError(
                f"question_field/answer_field apply to local .jsonl files and hf: datasets, "
                f"not to the built-in dataset {name!r}"
            )
        return datasets.get(name)(data_dir)
    path = Path(name).expanduser()
    if path.is_file():
        return _problems(
            path.stem, _read_jsonl(path), _generic(path.stem, question_field, answer_field)
        )
    if path.suffix in (".jsonl", ".json") or path.exists():
        raise DataError(f"dataset file {path} does not exist or is not a file")
    try:
        datasets.get(name)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}. A local .jsonl file path or hf:<dataset_id>[:split] also works"
        ) from None
    raise AssertionError("unreachable")
