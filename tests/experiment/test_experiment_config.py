"""Configs as code: overrides by dotted path, nested errors, the shared seed / finite rules."""

import dataclasses
import math

import pytest

from jaxlab.experiment import config as config_lib
from jaxlab.experiment.config import ConfigError, require


@dataclasses.dataclass(frozen=True)
class Inner:
  """Attributes:
    name: what to build.
    rate: a positive rate.
    sizes: widths.
  """

  name: str = "a"
  rate: float = 0.5
  sizes: tuple[int, ...] = (1, 2)

  def __post_init__(self):
    require(self.rate > 0, "rate", f"must be > 0, got {self.rate}")


@dataclasses.dataclass(frozen=True)
class Outer:
  INFINITE_OK = ("horizon",)
  inner: Inner = Inner()
  other: Inner = Inner(name="b")
  seed: int = 0
  data_seeds: tuple[int, ...] = (0, 1)
  horizon: float = math.inf
  flag: bool = False
  budget: int | None = None


def test_override_parses_by_field_type_and_rebuilds_nested_configs():
  out = config_lib.override(Outer(), {"inner.rate": "0.25", "other.sizes": "3, 4",
                                      "flag": "true", "seed": 7, "budget": "12"})
  assert out.inner == Inner(rate=0.25) and out.other.sizes == (3, 4)
  assert out.flag is True and out.seed == 7 and out.budget == 12
  assert config_lib.override(Outer(), {"budget": "none"}).budget is None
  assert Outer() == config_lib.override(Outer(), {})


def test_nested_errors_name_the_dotted_field():
  with pytest.raises(ConfigError, match=r"^inner.rate: must be > 0, got -1.0$"):
    config_lib.override(Outer(), {"inner.rate": "-1"})
  with pytest.raises(ConfigError, match=r"^other.sizes: expected a comma-separated list of int"):
    config_lib.override(Outer(), {"other.sizes": "1,x"})
  with pytest.raises(ConfigError, match="inner.nope: no such field"):
    config_lib.override(Outer(), {"inner.nope": "1"})
  with pytest.raises(ConfigError, match="flag: expected a value of type bool"):
    config_lib.override(Outer(), {"flag": "maybe"})


@dataclasses.dataclass(frozen=True)
class Plain:
  """A nested config without checks of its own."""

  rate: float = 1.0


@dataclasses.dataclass(frozen=True)
class WithPlain:
  plain: Plain = Plain()
  seed: int = 0
  data_seeds: tuple[int, ...] = (0, 1)
  rates: tuple[float, ...] = (1.0,)


@pytest.mark.parametrize("config, field", [
    (WithPlain(seed=-3), "seed"), (WithPlain(seed=2**32), "seed"),
    (WithPlain(data_seeds=(0, -1)), "data_seeds"), (WithPlain(seed=True), "seed"),
    (WithPlain(plain=Plain(rate=math.nan)), "plain.rate"),
    (WithPlain(plain=Plain(rate=-math.inf)), "plain.rate"),
    (WithPlain(rates=(1.0, math.inf)), "rates"),
])
def test_shared_rules_refuse_bad_seeds_and_non_finite_floats(config, field):
  with pytest.raises(ConfigError, match=f"^{field}: "):
    config_lib.validate(config)


def test_documented_infinity_is_accepted():
  config_lib.validate(Outer(horizon=math.inf))


def test_leaves_paths_and_unique_names():
  paths = [leaf.path for leaf in config_lib.leaves(Outer)]
  assert paths[:3] == ["inner.name", "inner.rate", "inner.sizes"] and "budget" in paths
  assert config_lib.unique_leaf_names(Outer) == {}  # every nested name appears twice


def test_to_dict_from_dict_round_trip():
  config = config_lib.override(Outer(), {"inner.sizes": "5", "budget": "3"})
  assert config_lib.from_dict(Outer, config_lib.to_dict(config)) == config


def test_attribute_docs():
  assert config_lib.attribute_docs(Inner) == {"name": "what to build.",
                                              "rate": "a positive rate.", "sizes": "widths."}
