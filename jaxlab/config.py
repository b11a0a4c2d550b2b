"""Experiment configs are frozen dataclasses; this module holds what they share.

A config validates itself in `__post_init__` and raises `ConfigError(field, message)`, whose
`field` is the config field, which is also the name of the command-line flag.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class ConfigError(ValueError):
  """An invalid config value; `field` names the config field (and flag)."""

  def __init__(self, field: str, message: str):
    self.field = field
    super().__init__(f"{field}: {message}")


def require(condition: bool, field: str, message: str) -> None:
  """Raises `ConfigError(field, message)` unless `condition`."""
  if not condition:
    raise ConfigError(field, message)


def require_choice(value: Any, field: str, choices) -> None:
  require(value in choices, field,
          f"got {value!r}, expected one of: {', '.join(map(str, choices))}")


MAX_SEED = 2**32 - 1


def is_seed_field(name: str) -> bool:
  """Fields holding seeds: `seed`, `*_seed`, `seeds` and `*_seeds`."""
  return name in ("seed", "seeds") or name.endswith(("_seed", "_seeds"))


def check_seeds(config) -> None:
  """The one seed rule of every experiment: each seed field holds integers in
  [0, 2**32 - 1] (what numpy, scikit-learn and `jax.random.key` all accept); raises
  `ConfigError` naming the field."""
  for field in dataclasses.fields(config):
    if is_seed_field(field.name):
      check_seed(field.name, getattr(config, field.name))


def check_seed(name: str, value) -> None:
  """`check_seeds` for one field `name` holding a seed or a sequence of seeds."""
  for v in value if isinstance(value, (tuple, list)) else (value,):
    require(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_SEED,
            name, f"seeds are integers in [0, {MAX_SEED}], got {v!r}")


def to_dict(config) -> dict[str, Any]:
  """The config's fields as a dict (for config.json)."""
  return dataclasses.asdict(config)
