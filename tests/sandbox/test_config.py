"""SandboxConfig: defaults, documentation, and refusal of bad values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ttscale.sandbox import SandboxConfig, sandboxes


def test_every_field_is_defaulted_and_documented() -> None:
    cfg = SandboxConfig()
    assert (cfg.backend, cfg.timeout_s, cfg.preload) == ("bwrap", 5.0, ("sympy",))
    for name, field in SandboxConfig.model_fields.items():
        assert field.description, f"{name} has no docstring"


@pytest.mark.parametrize(
    ("update", "fragment"),
    [
        ({"memry_mb": 512}, "Extra inputs are not permitted"),
        ({"timeout_s": 0}, "greater than 0"),
        ({"memory_mb": 64}, "greater than or equal to 256"),
        ({"max_output_bytes": 4096, "kill_output_bytes": 2048}, "kill_output_bytes (2048) must be"),
    ],
)
def test_bad_values_are_refused(update: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        SandboxConfig.model_validate(update)


def test_registry_offers_bwrap_and_the_explicit_weaker_mode() -> None:
    assert sandboxes.names() == ["bwrap", "rlimits-only"]
