"""`ttscale.run` end to end with PRM-guided search: mini-policy-s and the exact mini-oracle."""

import json

import pytest

from ttscale.config import validate_config
from ttscale.data.datasets import load_dataset
from ttscale.runs.runner import run


@pytest.mark.slow
def test_accuracy_rises_with_n_for_best_of_n_and_beam_search(tmp_path):
    problems = load_dataset("mini-500")
    chosen = problems[100:110] + problems[200:210]  # levels 2 and 3: room to improve
    data = tmp_path / "mini-l23.jsonl"
    data.write_text("".join(
        json.dumps({"id": p.id, "question": p.question, "answer": p.answer, "level": p.level})
        + "\n" for p in chosen
    ))
    beam = {"name": "beam_search", "max_steps": 8, "step_max_tokens": 40}
    config = validate_config({
        "name": "e2e",
        "prm": "mini-oracle",
        "data": {"dataset": str(data)},
        "policy": {"max_tokens": 120},
        "analysis": {"resamples": 100},
        "strategies": [
            {"name": "best_of_n", "n": 8},
            {**beam, "n": 1, "beam_width": 1},
            {**beam, "n": 8, "beam_width": 4},
        ],
    })
    report = run(config, output_dir=tmp_path / "run", progress=False)
    metrics = {m["strategy"]: m for m in json.loads((tmp_path / "run/metrics.json").read_text())}

    def acc(label: str, n: int) -> float:
        rule = metrics[label]["selection"]
        return next(p["accuracy"] for p in metrics[label]["curve"]
                    if p["n"] == n and p["rule"] == rule and p["level"] == "all")

    assert acc("best_of_n@8", 8) >= acc("best_of_n@8", 4) >= acc("best_of_n@8", 1) + 0.1
    assert acc("beam_search@8", 8) >= acc("beam_search@1/m1", 1) + 0.1
    assert [s.problems for s in report.summaries] == [20, 20, 20]
    summary = (tmp_path / "run/summary.md").read_text()
    assert "| best_of_n@8 | 8 |" in summary and "| beam_search@8 | 8 |" in summary
