import pytest

from ttscale.errors import ConfigError
from ttscale.registry import Registry


def test_lazy_target_is_imported_on_first_get():
    reg: Registry = Registry("thing")
    reg.register("join", "os.path:join")
    import os.path

    assert reg.get("join") is os.path.join


def test_decorator_registers_the_object():
    reg: Registry = Registry("thing")

    @reg.register("f")
    def f() -> int:
        return 1

    assert reg.get("f") is f


def test_unknown_name_suggests_the_closest_and_lists_all():
    reg: Registry = Registry("strategy")
    reg.register("majority", "os:getcwd")
    reg.register("cot", "os:getcwd")
    with pytest.raises(ConfigError, match=r"Did you mean 'majority'\?.*Available: cot, majority"):
        reg.get("majorty")


def test_registering_a_name_twice_is_an_error():
    reg: Registry = Registry("thing")
    reg.register("a", "os:getcwd")
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("a", "os:getcwd")
