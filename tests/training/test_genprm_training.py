import pytest

from ttscale.errors import ConfigError
from ttscale.training.genprm import GenPRMTrainSettings


@pytest.mark.parametrize(
    ("repeat", "steps", "expected"),
    [
        ((), 1, 1),
        ((), 7, 1),
        ((1, 1, 1, 2, 4), 1, 1),
        ((1, 1, 1, 2, 4), 4, 2),
        ((1, 1, 1, 2, 4), 5, 4),
        ((1, 1, 1, 2, 4), 9, 4),
    ],
)
def test_repeats_follow_the_step_count_table(repeat, steps, expected):
    assert GenPRMTrainSettings(repeat_by_steps=repeat).repeats(steps) == expected


def test_repeats_below_one_are_refused():
    with pytest.raises(ConfigError, match="repeat_by_steps"):
        GenPRMTrainSettings(repeat_by_steps=(1, 0))
