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


def to_dict(config) -> dict[str, Any]:
  """The config's fields as a dict (for config.json)."""
  return dataclasses.asdict(config)
