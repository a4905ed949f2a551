import pytest

from ttscale.analysis.optimal_runs import load_runs, optimal_report, probe_bin
from ttscale.config import load_config
from ttscale.errors import DataError
from ttscale.runs.runner import run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("optimal")
    strategies = (
        "strategies=[{name: majority, n: 4}, {name: beam_search, n: 4, beam_width: 2, "
        "max_steps: 8, step_max_tokens: 40}]"
    )
    config = load_config("mini", ["prm=mini-oracle", "data.limit=8", strategies])
    run(config, output_dir=folder, progress=False)
    return folder


def test_load_runs_gives_one_outcome_per_strategy_and_problem_and_pass1_from_majority(run_dir):
    outcomes, pass1, probes = load_runs([run_dir], probe=2)
    assert len(outcomes) == 2 * 8
    assert {o.config for o in outcomes} == {
        "mini-policy-s/majority@4",
        "mini-policy-s/beam_search@4/m2/mini-oracle",  # a PRM strategy names its verifier
    }
    assert set(pass1) == set(probes) and len(pass1) == 8
    assert all(p.agreement in (0.0, 0.5, 1.0) for p in probes.values())


def test_optimal_report_is_never_below_the_best_single_configuration_at_its_budget(run_dir):
    report = optimal_report(*load_runs([run_dir]))
    assert report.oracle is not None and report.best_single is not None
    assert report.oracle.accuracy >= report.best_single.accuracy
    assert sum(report.bin_sizes.values()) == 8


def test_oracle_online_and_best_single_carry_intervals_around_their_accuracy(run_dir):
    report = optimal_report(*load_runs([run_dir]))
    for point in (report.oracle, report.online, report.best_single):
        assert point is not None and point.ci is not None
        assert point.ci[0] <= point.accuracy <= point.ci[1]


@pytest.mark.parametrize(
    ("agreement", "expected"), [(1.0, "easy"), (0.5, "medium"), (0.25, "hard")]
)
def test_probe_bin_reads_agreement_of_the_first_samples(agreement, expected):
    assert probe_bin(agreement) == expected


def test_load_runs_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(DataError, match="not a run folder"):
        load_runs([tmp_path])
