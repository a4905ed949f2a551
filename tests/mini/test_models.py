import json

import pytest

from ttscale.errors import ConfigError
from ttscale.mini import models


def shipped_weights_bytes() -> int:
    return sum(p.stat().st_size for p in models.MODELS_DIR.rglob("*.safetensors"))


def test_shipped_weights_stay_within_50_mb():
    assert 0 < shipped_weights_bytes() <= 50 * 2**20


def test_policy_s_is_shipped_as_a_normal_hf_folder():
    folder = models.model_path("mini-policy-s")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training.json"):
        assert (folder / name).is_file()
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]


def test_policy_sizes_build_the_shipped_models_and_l_is_at_most_ten_times_s():
    shipped = {}
    for size in ("s", "l"):
        model = models.new_policy(models.load_tokenizer(), models.POLICY_SIZES[size])
        trained = json.loads(
            (models.model_path(f"mini-policy-{size}") / "training.json").read_text()
        )
        shipped[size] = sum(p.numel() for p in model.parameters())
        assert shipped[size] == trained["parameters"]
    assert 4 <= shipped["l"] / shipped["s"] <= 10  # issue 2: 4-10x (shipped: 9.97x)


@pytest.mark.parametrize("size", ["s", "l"])
def test_the_shipped_policies_were_trained_with_their_sizes_seed(size):
    trained = json.loads((models.model_path(f"mini-policy-{size}") / "training.json").read_text())
    assert trained["seed"] == models.POLICY_SIZES[size].seed


def test_resolve_model_maps_shipped_names_to_their_folder():
    assert models.resolve_model("mini-policy-s") == str(models.model_path("mini-policy-s"))
    assert models.resolve_model("Qwen/Qwen2.5-Math-1.5B-Instruct") == (
        "Qwen/Qwen2.5-Math-1.5B-Instruct"
    )


def test_unknown_mini_model_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match=r"shipped are .*mini-policy-s"):
        models.resolve_model("mini-policy-xxl")


def test_unknown_policy_size_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="--size must be one of"):
        models.train_policy("xl", tmp_path)


def test_train_policy_writes_a_folder_the_engine_can_load(tmp_path, monkeypatch):
    from ttscale.engines.transformers_engine import TransformersEngine
    from ttscale.types import GenerationRequest

    tiny = models.PolicySize(
        hidden=32, layers=1, heads=2, ffn=64, examples=64, lr=1e-3, batch_size=64
    )
    monkeypatch.setitem(models.POLICY_SIZES, "tiny", tiny)
    info = models.train_policy("tiny", tmp_path / "m", progress=False)
    assert info["steps"] == 1 and info["examples"] == 64 and info["seed"] == tiny.seed
    engine = TransformersEngine(tmp_path / "m")
    (out,) = engine.generate([GenerationRequest("Step 1:", max_tokens=4)])
    assert out[0].completion_tokens >= 1
