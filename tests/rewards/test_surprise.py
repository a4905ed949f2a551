import pytest
import torch

from ttscale.errors import EngineError
from ttscale.rewards.surprise import SurpriseHead, step_min_logprob, step_token_index


@pytest.mark.parametrize(
    ("spans", "rows", "cols", "steps", "n_steps"),
    [
        ([[(3, 5)]], [0, 0], [2, 3], [0, 0], 1),
        ([[(1, 2), (4, 5)], [(2, 3)]], [0, 0, 1], [0, 3, 1], [0, 1, 2], 3),
        ([[(0, 2)]], [0], [0], [0], 1),  # position 0 has no prediction
        ([[(2, 2)], []], [], [], [], 1),  # an empty step still counts as a step
    ],
)
def test_step_token_index_pairs_each_token_with_the_position_that_predicts_it(
    spans, rows, cols, steps, n_steps
):
    index = step_token_index(spans)
    assert (index.rows, index.cols, index.steps, index.n_steps) == (rows, cols, steps, n_steps)


def test_step_min_logprob_is_the_least_token_log_probability_per_step():
    torch.manual_seed(0)
    hidden = torch.randn(2, 6, 8)
    head = torch.nn.Linear(8, 11, bias=False)
    ids = torch.randint(0, 11, (2, 6))
    spans = [[(1, 3), (4, 6)], [(2, 5), (5, 5)]]
    got = step_min_logprob(hidden, head, ids, step_token_index(spans)).detach().tolist()
    logp = head(hidden).log_softmax(-1).detach()
    expected = [
        min(float(logp[r, t - 1, ids[r, t]]) for t in range(a, b)) if b > a else 0.0
        for r, row in enumerate(spans)
        for a, b in row
    ]
    assert got == pytest.approx(expected, abs=1e-6)


def test_surprise_head_round_trips_through_its_file(tmp_path):
    SurpriseHead(weight=2.5, bias=-1.0).save(tmp_path)
    assert SurpriseHead.load(tmp_path) == SurpriseHead(weight=2.5, bias=-1.0)


@pytest.mark.parametrize("content", [None, "{}", '{"weight": "x", "bias": 0}', "not json"])
def test_a_missing_or_malformed_head_file_is_an_engine_error_naming_it(tmp_path, content):
    if content is not None:
        (tmp_path / "prm_head.json").write_text(content)
    with pytest.raises(EngineError, match=r"prm_head\.json"):
        SurpriseHead.load(tmp_path)
