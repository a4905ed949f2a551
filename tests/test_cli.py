import json

import pytest
from typer.testing import CliRunner

from ttscale.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["run"],
        ["config"],
        ["ls"],
        ["report"],
        ["export"],
        ["mini"],
        ["mini", "train-policy"],
        ["processbench"],
        ["mini", "build-processbench"],
        ["synthesize"],
        ["train", "genprm"],
    ],
)
def test_help_works_for_every_command(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_config_prints_the_resolved_recipe():
    result = runner.invoke(app, ["config", "mini", "--set", "strategies.1.n=3"])
    assert result.exit_code == 0
    assert "n: 3" in result.output and "dataset: mini-500" in result.output
    assert "name: mini-prm" in result.output


def test_config_schema_is_json_with_field_docs():
    result = runner.invoke(app, ["config", "--schema"])
    schema = json.loads(result.output)
    assert "Run seed" in json.dumps(schema)


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("strategies", "majority"),
        ("strategies", "beam_search"),
        ("prms", "mini-oracle"),
        ("engines", "transformers"),
        ("datasets", "math500"),
        ("recipes", "mini"),
        ("models", "mini-policy-s"),
        ("processbench", "mini-processbench"),
    ],
)
def test_ls_lists_registered_names(what, expected):
    result = runner.invoke(app, ["ls", what])
    assert result.exit_code == 0 and expected in result.output.split()


def test_run_solves_grades_and_stores_then_resumes(tmp_path):
    out = tmp_path / "run"
    args = [
        "run",
        "--limit",
        "6",
        "--set",
        "strategies=[{name: cot}, {name: best_of_n, n: 2}]",
        "--set",
        "prm=mini-oracle",
        "--set",
        "analysis.resamples=20",
        "--output-dir",
        str(out),
        "--no-progress",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "cot" in first.output and "best_of_n@2" in first.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["problems"] for m in metrics] == [6, 6]
    for name in ("config.yaml", "manifest.json", "summary.md", "accuracy_vs_n.png"):
        assert (out / name).exists(), name
    assert json.loads((out / "manifest.json").read_text())["prm"]["name"] == "mini-oracle"
    second = runner.invoke(app, args)
    assert second.exit_code == 0
    assert json.loads((out / "metrics.json").read_text())[1]["accuracy"] == metrics[1]["accuracy"]
    exported = runner.invoke(app, ["export", str(out), "--format", "jsonl"])
    assert exported.exit_code == 0 and len((out / "results.jsonl").read_text().splitlines()) == 12
    reported = runner.invoke(app, ["report", str(out)])
    assert reported.exit_code == 0 and "best_of_n@2" in reported.output


def test_a_prm_strategy_with_an_unknown_prm_is_one_line_error():
    result = runner.invoke(app, ["run", "--set", "prm=mini-orcale", "--limit", "1",
                                 "--set", "strategies=[{name: best_of_n, n: 2}]"])
    _one_line_error(result, "mini-orcale", "mini-oracle")


def test_export_of_a_folder_without_a_run_is_one_line_error(tmp_path):
    _one_line_error(runner.invoke(app, ["export", str(tmp_path)]), "not a run folder")


def test_run_refuses_a_folder_holding_another_config(tmp_path):
    out = tmp_path / "run"
    base = [
        "run",
        "--limit",
        "2",
        "--set",
        "strategies=[{name: cot}]",
        "--no-progress",
        "--output-dir",
        str(out),
    ]
    assert runner.invoke(app, base).exit_code == 0
    before = (out / "results.sqlite").read_bytes()
    result = runner.invoke(app, [*base, "--set", "seed=5"])
    assert result.exit_code == 2 and "different config" in result.output
    assert (out / "results.sqlite").read_bytes() == before


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_recipe_key_is_one_line_error():
    _one_line_error(runner.invoke(app, ["run", "--set", "polcy.model=x"]), "polcy", "allowed")


def test_unknown_dataset_is_one_line_error():
    _one_line_error(runner.invoke(app, ["run", "--dataset", "math5000"]), "math5000", "math500")


def test_unknown_mini_model_is_one_line_error():
    result = runner.invoke(app, ["run", "--policy", "mini-policy-xl", "--set", "prm=mini-oracle"])
    _one_line_error(result, "mini-policy-s")


def test_missing_model_folder_is_one_line_error(tmp_path):
    missing = str(tmp_path / "no-model")
    args = ["run", "--policy", missing, "--limit", "1", "--set", "prm=mini-oracle"]
    _one_line_error(runner.invoke(app, args), missing)


def test_malformed_jsonl_is_one_line_error_naming_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "1+1?", "answer": "2"}\n{"question": oops}\n')
    _one_line_error(runner.invoke(app, ["run", "--dataset", str(path)]), "bad.jsonl:2")


def test_dataset_without_answer_column_is_one_line_error(tmp_path):
    path = tmp_path / "noanswer.jsonl"
    path.write_text('{"question": "1+1?", "solution": "2"}\n')
    _one_line_error(runner.invoke(app, ["run", "--dataset", str(path)]), "answer")


def test_debug_shows_the_traceback():
    result = runner.invoke(app, ["--debug", "run", "--set", "polcy.model=x"])
    assert result.exit_code != 2 and result.exception is not None


def test_synthesize_then_train_genprm_writes_a_loadable_model(tmp_path):
    from ttscale.labeling.rollouts import LabeledSolution
    from ttscale.mini import task

    problem = task.generate(2, 3)
    steps = tuple(task.solution_steps(problem))
    row = LabeledSolution(problem.id, problem.text, str(problem.answer), 2, steps, True, 1.0, 16,
                          (1.0,) * len(steps), (1,) * len(steps), (1,) * len(steps))  # fmt: skip
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps(row.__dict__) + "\n")
    sft = tmp_path / "sft.jsonl"
    result = runner.invoke(app, ["synthesize", "--labels", str(labels), "--out", str(sft)])
    assert result.exit_code == 0, result.output
    assert "1 solutions, kept 1 (100.0%)" in result.output
    out = tmp_path / "genprm"
    result = runner.invoke(app, [
        "train", "genprm", "--sft", str(sft), "--out", str(out), "--epochs", "1",
        "--repeat-by-steps", f"{'1,' * (len(steps) - 1)}3",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    info = json.loads((out / "training.json").read_text())
    assert (info["conversations"], info["examples"]) == (1, 3)
    assert (out / "model.safetensors").is_file()


def test_train_genprm_bad_repeat_list_is_one_line_error(tmp_path):
    sft = tmp_path / "sft.jsonl"
    sft.write_text("")
    args = ["train", "genprm", "--sft", str(sft), "--repeat-by-steps", "1,x"]
    _one_line_error(runner.invoke(app, args), "--repeat-by-steps")


def test_processbench_maj_on_a_classifier_prm_is_one_line_error(tmp_path):
    data = tmp_path / "pb.jsonl"
    sample = {"id": "a", "generator": "x", "problem": "Ann has 2 pens. Ann buys 1 more. How many "
              "pens does Ann have now?", "steps": ["Step 1: 2 + 1 = 3", "The answer is 3."],
              "final_answer_correct": True, "label": -1}  # fmt: skip
    data.write_text(json.dumps(sample) + "\n")
    result = runner.invoke(
        app, ["processbench", "--prm", "mini-prm", "--maj", "8", "--data", str(data)]
    )
    assert result.exit_code == 2
    assert "need a generative PRM" in result.output


def test_processbench_unknown_ablation_is_one_line_error(tmp_path):
    args = ["processbench", "--prm", "mini-genprm", "--ablation", "no_code", "--limit", "1"]
    _one_line_error(runner.invoke(app, args), "--ablation")


def test_processbench_model_reads_other_weights_with_the_named_recipe(tmp_path):
    from ttscale.mini.models import model_path

    out = tmp_path / "pb"
    result = runner.invoke(app, [
        "processbench", "--prm", "mini-prm", "--model", str(model_path("mini-prm")),
        "--limit", "2", "--output-dir", str(out), "--no-progress",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "results.json").read_text())
    assert summary["samples"] == 8  # 2 per mini-processbench subset
    assert summary["prm"] == "mini-prm"
