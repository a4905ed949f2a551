import pytest

from ttscale.analysis.difficulty import absolute_bin, quantile_levels
from ttscale.errors import ConfigError


@pytest.mark.parametrize(
    ("pass1", "expected"),
    [
        (1.0, "easy"),
        (0.5, "easy"),
        (0.49, "medium"),
        (0.1, "medium"),
        (0.099, "hard"),
        (0.0, "hard"),
    ],
)
def test_absolute_bins_use_the_papers_thresholds(pass1, expected):
    assert absolute_bin(pass1) == expected


def test_absolute_bin_rejects_values_outside_the_unit_interval():
    with pytest.raises(ConfigError, match="pass@1"):
        absolute_bin(1.2)


def test_quantile_levels_split_into_equal_counts_easiest_first():
    pass1 = {f"p{i}": i / 10 for i in range(10)}
    levels = quantile_levels(pass1, levels=5)
    assert levels["p9"] == levels["p8"] == 1
    assert levels["p0"] == levels["p1"] == 5
    assert sorted(levels.values()) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
