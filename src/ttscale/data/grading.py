"""Math-equivalence grading of answers (extraction lives in ``extraction.py``).

:class:`Grader` runs math-verify's ``parse`` + ``verify``
in one long-lived worker process: math-verify uses ``SIGALRM`` for its own timeouts (so it only
works in a main thread), and a pathological expression can still hang sympy, so the parent keeps
its own per-item wall-clock deadline and kills and restarts the worker when it is missed.

The worker is started from a ``forkserver`` (``spawn`` where that is missing) that preloads
math-verify, so a restart costs a fork rather than a fresh interpreter, and the caller may hold
torch threads without fork-after-threads trouble. As with any ``spawn``-style start, a script
that uses :class:`Grader` at top level needs an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import re
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from ttscale.errors import GradingError

DEFAULT_TIMEOUT = 5.0
"""Seconds one comparison may take before it counts as not equivalent."""

# ---------------------------------------------------------------------------------------------
# Normalisation shared by parent and worker (pure Python)

_INT_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?")
_SCI_RE = re.compile(r"([+-]?\d+(?:\.\d+)?)[eE]([+-]?\d+)")
_SPACE_RE = re.compile(r"(?<![A-Za-z])\s+|\s+(?![A-Za-z])")


def _prepare(answer: str) -> str:
    """Strip blanks, enclosing ``$``, a trailing full stop; write ``4.5e33`` as LaTeX."""
    answer = answer.strip()
    if len(answer) > 1 and answer.startswith("$") and answer.endswith("$"):
        answer = answer.strip("$").strip()
    if answer.endswith(".") and not answer.endswith("\\."):
        answer = answer[:-1].rstrip()
    sci = _SCI_RE.fullmatch(answer)
    if sci:
        answer = f"{sci.group(1)} \\times 10^{{{int(sci.group(2))}}}"
    return answer


def _integer(answer: str) -> int | None:
    """The value of a plain integer answer ("1,319", "025", "27.0"), else None."""
    if not _INT_RE.fullmatch(answer):
        return None
    return int(answer.replace(",", "").split(".")[0])


def _key(answer: str) -> str:
    """A canonical string: equal keys mean equivalent answers without asking math-verify."""
    answer = _prepare(answer)
    value = _integer(answer)
    return f"int:{value}" if value is not None else _SPACE_RE.sub("", answer)


# ---------------------------------------------------------------------------------------------
# The worker process


class _MathVerify:
    """math-verify with gold/prediction wrapping and a parse cache (lives in the worker)."""

    def __init__(self) -> None:
        import logging

        from math_verify import parse, verify

        for name in ("math_verify", "latex2sympy2_extended"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self._parse, self._verify = parse, verify
        self._cache: dict[str, list[Any]] = {}
        self.limit = 5
        self.equal("\\frac{1}{2}", "0.5")  # warm the lazy imports before reporting ready

    def parsed(self, answer: str, *, gold: bool) -> list[Any]:
        text = f"${answer}$" if gold else f"\\boxed{{{answer}}}"
        if text not in self._cache:
            if len(self._cache) > 20_000:
                self._cache.clear()
            self._cache[text] = self._parse(text, parsing_timeout=self.limit)
        return self._cache[text]

    def equal(self, gold: str, pred: str, *, gold_is_reference: bool = True) -> bool:
        try:
            target = self.parsed(gold, gold=gold_is_reference)
            return bool(
                self._verify(target, self.parsed(pred, gold=False), timeout_seconds=self.limit)
            )
        except Exception:
            return False
        except BaseException as exc:  # math-verify's TimeoutException is a BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return False

    def classify(self, item: str, reps: list[str]) -> int:
        """Index of the first representative equivalent to ``item``; len(reps) if none."""
        for index, rep in enumerate(reps):
            if _integer(rep) is not None and _integer(item) is not None:
                continue  # distinct integer keys are never equivalent
            if self.equal(rep, item, gold_is_reference=False):
                return index
        return len(reps)


def _worker_main(conn: Connection) -> None:
    """Worker entry point: answer one result per item until a None request or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        mv = _MathVerify()
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        op, mv.limit, payload = request
        if op == "verify":
            for gold, pred in payload:
                conn.send(mv.equal(gold, pred))
        else:
            reps, items = payload
            for item in items:
                index = mv.classify(item, reps)
                if index == len(reps):
                    reps.append(item)
                conn.send(index)


def _context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["__main__", "math_verify"])
        return ctx
    return multiprocessing.get_context("spawn")


# ---------------------------------------------------------------------------------------------
# The parent side


class Grader:
    """Math-equivalence grading through math-verify in a restartable worker process.

    ``timeout`` is the wall-clock budget of one comparison: an item that takes longer counts as
    not equivalent, the worker is killed and restarted, and the remaining items go on. The worker
    starts on first use (``start_timeout`` bounds its start-up) and is reused until
    :meth:`close`. Use as a context manager to close it.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, *, start_timeout: float = 120.0) -> None:
        if timeout <= 0 or start_timeout <= 0:
            raise GradingError(
                f"timeout and start_timeout must be > 0, got {timeout!r} and {start_timeout!r}"
            )
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.restarts = 0
        """How many times a late or dead worker was replaced."""
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.RLock()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._kill()

    @property
    def worker_running(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def close(self) -> None:
        """Stop the worker (a later call starts a new one)."""
        with self._lock:
            if self._conn is not None and self.worker_running:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
                if self._proc is not None:
                    self._proc.join(2.0)
            self._kill()

    def is_correct(self, predictions: Sequence[str | None], golds: Sequence[str]) -> list[bool]:
        """Whether each prediction is mathematically equivalent to its gold answer."""
        if len(predictions) != len(golds):
            raise GradingError(
                f"is_correct needs one gold per prediction, got {len(predictions)} predictions "
                f"and {len(golds)} golds"
            )
        results = [False] * len(golds)
        todo: list[int] = []
        for i, (pred, gold) in enumerate(zip(predictions, golds, strict=True)):
            if pred is None or not pred.strip():
                continue
            pred_key, gold_key = _key(pred), _key(gold)
            if pred_key == gold_key:
                results[i] = True
            elif not (pred_key.startswith("int:") and gold_key.startswith("int:")):
                todo.append(i)
        pairs = [(_prepare(golds[i]), _prepare(predictions[i] or "")) for i in todo]
        for i, verdict in zip(todo, self._verify_all(pairs), strict=True):
            results[i] = verdict
        return results

    def cluster(self, answers: Sequence[str]) -> list[int]:
        """Equivalence-class index of each answer, classes numbered in first-seen order."""
        keys = [_key(answer) for answer in answers]
        first: dict[str, str] = {}
        for key, answer in zip(keys, answers, strict=True):
            first.setdefault(key, _prepare(answer))
        distinct = list(first)
        if all(key.startswith("int:") for key in distinct):
            class_of = {key: i for i, key in enumerate(distinct)}
        else:
            indices = self._classify_all([first[key] for key in distinct])
            class_of = dict(zip(distinct, indices, strict=True))
        return [class_of[key] for key in keys]

    # -- batching with per-item deadlines ------------------------------------------------------

    def _verify_all(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """Verdicts for (gold, prediction) pairs; a late item is False and the rest re-sent."""
        out: list[bool] = []
        while len(out) < len(pairs):
            remaining = pairs[len(out) :]
            got, late = self._request("verify", remaining, lambda _: self.timeout)
            out.extend(bool(v) for v in got)
            if late:
                out.append(False)
        return out

    def _classify_all(self, items: list[str]) -> list[int]:
        """Class index per distinct item, comparing each with one representative per class."""
        reps: list[str] = []
        out: list[int] = []

        def budget(got: list[Any]) -> float:
            classes = len(reps)  # the item is compared with one representative per class
            for index in got:
                if index == classes:
                    classes += 1
            return self.timeout * max(1, classes)

        while len(out) < len(items):
            remaining = items[len(out) :]
            got, late = self._request("cluster", (list(reps), remaining), budget)
            for item, index in zip(remaining, got, strict=False):
                if index == len(reps):
                    reps.append(item)
                out.append(index)
            if late:
                reps.append(items[len(out)])
                out.append(len(reps) - 1)
        return out

    def _request(
        self, op: str, payload: Any, budget: Callable[[list[Any]], float]
    ) -> tuple[list[Any], bool]:
        """Send one request; collect one result per item, each within ``budget(results)``.

        Returns the results that arrived in time and whether the next one was late (the worker
        has then been killed). A worker that died mid-item counts as late.
        """
        count = len(payload) if op == "verify" else len(payload[1])
        request = (op, max(1, math.ceil(self.timeout)), payload)
        with self._lock:
            conn = self._send(request)
            results: list[Any] = []
            try:
                for _ in range(count):
                    if not conn.poll(budget(results)):
                        raise EOFError
                    results.append(conn.recv())
            except (EOFError, OSError):
                self._kill()
                self.restarts += 1
                return results, True
            except BaseException:
                self._kill()  # e.g. Ctrl-C: never leave unread results in the pipe
                raise
            return results, False

    # -- worker lifecycle --------------------------------------------------------------------

    def _send(self, request: tuple[str, int, Any]) -> Connection:
        """Send to a live worker, replacing it once if it turns out to have died."""
        try:
            conn = self._ensure_worker()
            conn.send(request)
        except OSError:
            self._kill()
            self.restarts += 1
            conn = self._ensure_worker()
            try:
                conn.send(request)
            except OSError as exc:
                raise GradingError(f"the grading worker keeps dying: {exc}") from None
        return conn

    def _ensure_worker(self) -> Connection:
        if self._conn is not None and self.worker_running:
            return self._conn
        self._kill()
        ctx = _context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="ttscale-grader")
        try:
            proc.start()
        except Exception as exc:
            raise GradingError(f"cannot start the grading worker: {exc}") from None
        finally:
            child.close()
        self._proc, self._conn = proc, parent
        status, detail = self._await_ready(parent)
        if status != "ready":
            self._kill()
            raise GradingError(f"the grading worker could not start: {detail}")
        return parent

    def _await_ready(self, conn: Connection) -> tuple[str, Any]:
        try:
            if not conn.poll(self.start_timeout):
                return "late", f"no answer within start_timeout={self.start_timeout}s"
            status, detail = conn.recv()
            return str(status), detail
        except (EOFError, OSError):
            return "dead", "it exited during start-up"

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(5.0)
