import json

import pytest

from ttscale.errors import ConfigError, DataError
from ttscale.labeling.rollouts import LabeledSolution
from ttscale.mini.models import load_tokenizer
from ttscale.rewards.surprise import SurpriseHead
from ttscale.training.prm import PRMTrainSettings, mini_prm_input, prm_examples, train_prm


def _solution(steps, rpe, hard):
    return LabeledSolution(
        "p1", "Ann has 5 pens. Ann gets 3 more. How many pens does Ann have now?", "8", 1,
        tuple(steps), rpe[-1] == 1, 0.5, 32, tuple(float(x) for x in hard), tuple(rpe),
        tuple(hard),
    )  # fmt: skip


def test_mini_prm_input_reads_each_step_at_the_newline_after_it():
    tok = load_tokenizer()
    steps = ("Step 1: 5 + 3 = 8", "The answer is \\boxed{8}.")
    example = mini_prm_input(tok, "Ann has 5 pens.", steps)
    newline = tok.encode("\n", add_special_tokens=False)[0]
    assert [example.input_ids[m] for m in example.markers] == [newline, newline]
    text = tok.decode(example.input_ids[: example.markers[0] + 1])
    assert text.endswith("Step 1: 5 + 3 = 8\n")


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
    # the wrong solution is trained through its first bad step only: 2 good steps, 1 bad
    assert info["solutions"] == 2 and info["positive_share"] == pytest.approx(2 / 3)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert json.loads((out / "training.json").read_text())["label_kind"] == "rpe"
    head = SurpriseHead.load(out)
    assert info["surprise"] == {"weight": head.weight, "bias": head.bias}


def test_mini_prm_input_spans_each_steps_text_for_the_surprise_term():
    tok = load_tokenizer()
    steps = ("Step 1: 5 + 3 = 8", "The answer is \\boxed{8}.")
    example = mini_prm_input(tok, "Ann has 5 pens.", steps)
    assert [tok.decode(example.input_ids[a:b]) for a, b in example.step_spans] == list(steps)


def test_train_prm_refuses_an_empty_labels_file(tmp_path):
    empty = tmp_path / "labels.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match="no labeled solutions"):
        train_prm(empty, tmp_path / "out", init="mini-policy-s", settings=PRMTrainSettings())


@pytest.mark.parametrize(
    ("field", "value"), [("label_kind", "soft"), ("epochs", 0), ("lr", -1e-3), ("head_lr", -1.0)]
)
def test_prm_settings_reject_bad_values(field, value):
    with pytest.raises(ConfigError, match=field.split("_")[0]):
        PRMTrainSettings(**{field: value})


@pytest.mark.parametrize(
    ("rpe", "through", "kept"),
    [
        ([1, 0, 0], True, [1, 0]),  # cut after the first bad step
        ([1, 0, 0], False, [1, 0, 0]),
        ([1, 1, 1], True, [1, 1, 1]),
        ([0, 0, 0], True, [0]),
    ],
)
def test_prm_examples_keep_steps_through_the_first_bad_one(rpe, through, kept):
    tok = load_tokenizer()
    steps = ["Step 1: 5 + 3 = 9", "Step 2: 9 - 1 = 8", "The answer is \\boxed{8}."]
    [example] = prm_examples(tok, [_solution(steps, rpe, rpe)], "rpe", through_first_error=through)
    assert list(example.labels) == kept
    assert len(example.markers) == len(example.step_spans) == len(kept)
    full = mini_prm_input(tok, _solution(steps, rpe, rpe).question, tuple(steps)).input_ids
    if len(kept) < len(steps):
        assert example.input_ids == full[: example.markers[-1] + 1]
    else:
        assert example.input_ids == full
