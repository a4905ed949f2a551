import pytest

from ttscale.config import CoTConfig, MajorityConfig, RunConfig, apply_override, load_config
from ttscale.errors import ConfigError


def test_default_recipe_is_cot_and_majority_on_mini_500():
    cfg = load_config("mini")
    assert cfg.data.dataset == "mini-500"
    assert cfg.policy.model == "mini-policy-s"
    assert cfg.strategies == (CoTConfig(), MajorityConfig(n=8))


def test_set_overrides_nested_keys_and_parses_values_as_yaml():
    cfg = load_config("mini", ["policy.temperature=0.9", "strategies.1.n=4", "data.limit=10"])
    assert cfg.policy.temperature == 0.9
    assert cfg.strategies[1] == MajorityConfig(n=4)
    assert cfg.data.limit == 10


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("policy.temprature=0.9", "policy.temprature.*allowed: model, engine"),
        ("strategies.1.m=3", "allowed: name, n"),
        ("strategies.1.n=0", "greater than or equal to 1"),
        ("strategies.5.n=2", "index below 2"),
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
