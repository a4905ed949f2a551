import pytest

from ttscale.config import (
    BeamSearchConfig,
    BestOfNConfig,
    CoTConfig,
    MajorityConfig,
    RunConfig,
    apply_override,
    curve_budgets,
    load_config,
)
from ttscale.errors import ConfigError


def test_default_recipe_is_majority_bon_and_beam_search_with_the_mini_prm_on_mini_500():
    cfg = load_config("mini")
    assert cfg.data.dataset == "mini-500"
    assert cfg.policy.model == "mini-policy-s"
    assert cfg.prm is not None and cfg.prm.name == "mini-prm"
    assert cfg.strategies[:2] == (
        MajorityConfig(n=16),
        BestOfNConfig(n=16, selection="prm_min_vote"),
    )
    beams = [s for s in cfg.strategies if isinstance(s, BeamSearchConfig)]
    assert [b.n for b in beams] == [1, 4, 16]
    assert {b.selection for b in beams} == {"prm_min_vote"}
    assert {n for s in cfg.strategies for n in curve_budgets(s)} == {1, 4, 16}


def test_set_overrides_nested_keys_and_parses_values_as_yaml():
    cfg = load_config("mini", ["policy.temperature=0.9", "strategies.0.n=4", "data.limit=10"])
    assert cfg.policy.temperature == 0.9
    assert cfg.strategies[0] == MajorityConfig(n=4)
    assert cfg.data.limit == 10


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("policy.temprature=0.9", "policy.temprature.*allowed: model, engine"),
        ("strategies.1.m=3", "allowed: name, n"),
        ("strategies.1.n=0", "greater than or equal to 1"),
        ("strategies.5.n=2", "index below 5"),
        ("policy.top_p=2", "policy.top_p"),
        ("nonsense", "key.path=value"),
        ("seed.x=1", "is a value, not a section"),
    ],
)
def test_bad_override_is_one_line_config_error_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config("mini", [override])
    assert "\n" not in str(info.value)


def test_unknown_recipe_lists_the_available_ones():
    with pytest.raises(ConfigError, match=r"allowed are .*mini"):
        load_config("no-such-recipe")


def test_recipe_file_path_is_accepted(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: custom\nstrategies:\n  - name: cot\n")
    cfg = load_config(str(path))
    assert cfg.name == "custom" and cfg.strategies == (CoTConfig(),)


def test_recipe_that_is_not_a_mapping_is_rejected(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(str(path))


def test_config_hash_ignores_the_name_but_not_the_seed():
    base = RunConfig()
    assert base.config_hash() == RunConfig(name="other").config_hash()
    assert base.config_hash() != RunConfig(seed=1).config_hash()


@pytest.mark.parametrize(
    ("override", "same"),
    [
        ("policy.engine.openai.base_urls=[http://gpu2:8000/v1]", True),
        ("policy.engine.openai.max_retries=9", True),
        ("policy.engine.openai.served_model=other", False),
        ("policy.engine.date_string=01 Jan 2025", False),
    ],
)
def test_config_hash_ignores_only_how_the_openai_engine_reaches_servers(override, same):
    assert (load_config("mini", [override]).config_hash() == load_config("mini").config_hash()) \
        == same


def test_override_creates_missing_sections():
    data: dict = {}
    apply_override(data, "policy.engine.device=cpu")
    assert data == {"policy": {"engine": {"device": "cpu"}}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # N not divisible by the beam width
        ({"prm": "p", "strategies": [{"name": "beam_search", "n": 6}]},
         r"n \(6\) must be a multiple of beam_width \(4\)"),
        ({"prm": "p", "strategies": [{"name": "dvts", "n": 10, "beam_width": 4}]},
         r"n \(10\) must be a multiple of beam_width \(4\)"),
        # budgets above what the run generates, or not whole subtrees
        ({"strategies": [{"name": "majority", "n": 4, "budgets": [16]}]},
         r"budget 16 is not in 1..n \(4\)"),
        ({"prm": "p", "strategies": [{"name": "dvts", "n": 16, "budgets": [2]}]},
         "multiple of beam_width"),
        # a PRM strategy without a PRM
        ({"strategies": [{"name": "best_of_n"}]}, "need a PRM"),
        # the same strategy twice would share rows in the store
        ({"strategies": [{"name": "majority", "n": 4}, {"name": "majority", "n": 4}]},
         "listed twice"),
        ({"prm": "p", "strategies": [{"name": "beam_search", "semantic": "paper"}]},
         "allowed: .*semantics"),
        ({"prm": "p", "strategies": [{"name": "best_of_n", "selection": "prm_max"}]},
         "selection"),
    ],
)
def test_invalid_search_config_is_a_config_error_before_any_compute(data, message):
    from ttscale.config import validate_config

    with pytest.raises(ConfigError, match=message):
        validate_config(data)


def test_prm_section_accepts_a_bare_name():
    from ttscale.config import validate_config

    cfg = validate_config({"prm": "mini-oracle", "strategies": [{"name": "best_of_n"}]})
    assert cfg.prm is not None and cfg.prm.name == "mini-oracle"


def test_config_hash_ignores_budgets_and_analysis_but_not_n():
    from ttscale.config import validate_config

    def cfg(**majority):
        return validate_config({"strategies": [{"name": "majority", **majority}]})

    base = cfg(n=16).config_hash()
    assert cfg(n=16, budgets=[2, 8]).config_hash() == base
    assert RunConfig(analysis={"resamples": 7}).config_hash() == RunConfig().config_hash()
    assert cfg(n=8).config_hash() != base


@pytest.mark.parametrize(
    ("strategy", "label", "budgets"),
    [
        (CoTConfig(), "cot", (1,)),
        (MajorityConfig(n=16), "majority@16", (1, 4, 16)),
        (BestOfNConfig(n=64, budgets=(2, 8)), "best_of_n@64", (2, 8, 64)),
        (BeamSearchConfig(n=16), "beam_search@16", (16,)),
        (BeamSearchConfig(n=16, semantics="refill", beam_width=2), "beam_search-refill@16/m2",
         (16,)),
    ],
)
def test_strategy_labels_and_curve_budgets(strategy, label, budgets):
    from ttscale.config import strategy_label

    assert strategy_label(strategy) == label
    assert curve_budgets(strategy) == budgets


def test_dvts_budgets_default_to_powers_of_four_that_are_whole_subtrees():
    from ttscale.config import DVTSConfig

    assert curve_budgets(DVTSConfig(n=64, beam_width=4)) == (4, 16, 64)
    assert curve_budgets(DVTSConfig(n=16, beam_width=8)) == (16,)


def test_prm_keys_can_be_overridden_and_a_typo_lists_the_allowed_ones():
    cfg = load_config("mini", ["prm.name=mini-oracle", "prm.flip_rate=0.1"])
    assert cfg.prm is not None and (cfg.prm.name, cfg.prm.flip_rate) == ("mini-oracle", 0.1)
    with pytest.raises(ConfigError, match=r"prm.nmae.*allowed: name, model, engine, flip_rate"):
        load_config("mini", ["prm.nmae=x"])
