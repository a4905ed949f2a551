import json

import pytest

from ttscale.errors import ConfigError, DataError
from ttscale.labeling.rollouts import LabeledSolution
from ttscale.mini.models import load_tokenizer
from ttscale.training.prm import PRMTrainSettings, mini_prm_input, train_prm


def _solution(steps, rpe, hard):
    return LabeledSolution(
        "p1", "Ann has 5 pens. Ann gets 3 more. How many pens does Ann have now?", "8", 1,
        tuple(steps), rpe[-1] == 1, 0.5, 32, tuple(float(x) for x in hard), tuple(rpe),
        tuple(hard),
    )  # fmt: skip


def test_mini_prm_input_puts_one_marker_after_each_step():
    tok = load_tokenizer()
    steps = ("Step 1: 5 + 3 = 8", "The answer is \\boxed{8}.")
    example = mini_prm_input(tok, "Ann has 5 pens.", steps)
    step_id = tok.convert_tokens_to_ids("<|step|>")
    assert [example.input_ids[m] for m in example.markers] == [step_id, step_id]
    text = tok.decode(example.input_ids[: example.markers[0] + 1])
    assert text.endswith("Step 1: 5 + 3 = 8<|step|>")


def test_train_prm_writes_a_loadable_model_folder_with_its_settings(tmp_path):
    labels = tmp_path / "labels.jsonl"
    rows = [
        _solution(["Step 1: 5 + 3 = 8", "The answer is \\boxed{8}."], [1, 1], [1, 1]),
        _solution(["Step 1: 5 + 3 = 9", "The answer is \\boxed{9}."], [0, 0], [0, 0]),
    ]
    labels.write_text("".join(json.dumps(r.__dict__) + "\n" for r in rows))
    out = tmp_path / "prm"
    info = train_prm(labels, out, init="mini-policy-s", settings=PRMTrainSettings(epochs=1),
                     progress=False)  # fmt: skip
    assert info["solutions"] == 2 and info["positive_share"] == 0.5
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert json.loads((out / "training.json").read_text())["label_kind"] == "rpe"


def test_train_prm_refuses_an_empty_labels_file(tmp_path):
    empty = tmp_path / "labels.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="no labeled solutions"):
        train_prm(empty, tmp_path / "out", init="mini-policy-s", settings=PRMTrainSettings())


@pytest.mark.parametrize(("field", "value"), [("label_kind", "soft"), ("epochs", 0)])
def test_prm_settings_reject_bad_values(field, value):
    with pytest.raises(ConfigError, match=field.split("_")[0]):
        PRMTrainSettings(**{field: value})
