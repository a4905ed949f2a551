"""metrics.json, summary.md and plots, written from a real run store."""

import json
import random

import yaml

from ttscale.analysis.report import build_reports, write_outputs
from ttscale.config import validate_config
from ttscale.runs.runner import report
from ttscale.runs.store import ProblemRecord, RunStore
from ttscale.types import Candidate

CONFIG = validate_config({
    "name": "t",
    "prm": "mini-oracle",
    "analysis": {"resamples": 30},
    "strategies": [{"name": "best_of_n", "n": 4}, {"name": "beam_search", "n": 4}],
})


def rec(label: str, pid: str, level: int, rng: random.Random, n: int) -> ProblemRecord:
    verdicts = tuple(rng.random() < 0.4 for _ in range(n))
    cands = tuple(
        Candidate("s", "1" if v else "2", "stop", None, (rng.random(),), group=i if n > 1 else 0)
        for i, v in enumerate(verdicts)
    )
    classes = tuple(0 if v else 1 for v in verdicts)
    return ProblemRecord(label, pid, level, "1", None, verdicts[0], any(verdicts), 5, 50, 1e6,
                         0.1, cands, 3, 2e5, classes, verdicts)


def make_run(tmp_path):
    rng = random.Random(0)
    store = RunStore(tmp_path / "results.sqlite")
    for i in range(12):
        store.write([rec("best_of_n@4", f"p{i}", 1 + i % 3, rng, 4),
                     rec("beam_search@4", f"p{i}", 1 + i % 3, rng, 1)])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG.model_dump(mode="json")))
    return store


def test_outputs_hold_every_strategy_rule_budget_and_level(tmp_path):
    store = make_run(tmp_path)
    write_outputs(tmp_path, CONFIG, build_reports(CONFIG, store))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [m["strategy"] for m in metrics] == ["best_of_n@4", "beam_search@4"]
    bon = metrics[0]
    assert bon["problems"] == 12 and bon["prm_flops"] == 12 * 2e5 and bon["flops"] == 12 * 1e6
    assert len(bon["rules"]) == 9 and bon["selection"] == "prm_last_vote"
    assert {(p["n"], p["level"]) for p in bon["curve"]} == {
        (n, lv) for n in (1, 4) for lv in ("all", "1", "2", "3")
    }
    summary = (tmp_path / "summary.md").read_text()
    assert "best_of_n@4" in summary and "beam_search@4" in summary and "[" in summary
    assert "| L1 | L2 | L3 |" in summary and "prm_prod_vote" in summary
    for png in ("accuracy_vs_n.png", "accuracy_vs_flops.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_rewrites_the_outputs_of_a_run_folder(tmp_path):
    make_run(tmp_path).close()
    reports = report(tmp_path)
    assert [r.summary.problems for r in reports] == [12, 12]
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "summary.md").exists()
