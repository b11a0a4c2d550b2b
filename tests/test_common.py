"""The config-dataclass -> absl flags plumbing shared by every entry point."""

import dataclasses

import pytest
from absl import flags

from experiments import common
from jaxlab.config import ConfigError


@dataclasses.dataclass(frozen=True)
class Toy:
  """A toy config.

  Attributes:
    rate: learning
      rate, on two lines.
    sizes: layer sizes.
    names, tags: shared help.
    on: a switch.
  """

  rate: float = 0.5
  sizes: tuple[int, ...] = (1, 2)
  names: tuple[str, ...] = ("a",)
  tags: str = "t"
  on: bool = False


def test_attribute_docs():
  assert common.attribute_docs(Toy) == {"rate": "learning rate, on two lines.",
                                        "sizes": "layer sizes.", "names": "shared help.",
                                        "tags": "shared help.", "on": "a switch."}


def test_flags_round_trip():
  values = flags.FlagValues()
  common.define_config_flags(Toy, flag_values=values)
  values(["prog", "--rate=0.25", "--sizes=3,4,5", "--on"])
  assert common.config_from_flags(Toy, values) == Toy(rate=0.25, sizes=(3, 4, 5), on=True)
  assert values["rate"].help == "learning rate, on two lines."
  values(["prog", "--sizes=3,x"])
  with pytest.raises(ConfigError, match="sizes: expected a comma-separated list of int"):
    common.config_from_flags(Toy, values)
