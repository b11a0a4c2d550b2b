"""Configs as code: nested frozen dataclasses, their checks, and overrides by dotted path.

  @dataclasses.dataclass(frozen=True)
  class Optim:
    learning_rate: float = 1e-3
    def __post_init__(self):
      require(self.learning_rate > 0, "learning_rate", "must be > 0")

  @dataclasses.dataclass(frozen=True)
  class Config:
    optim: Optim = Optim()
    seed: int = 0

  config = override(Config(), {"optim.learning_rate": "3e-3", "seed": "1"})
  config.optim.learning_rate                   # 0.003
  override(Config(), {"optim.learning_rate": "-1"})
  # ConfigError: optim.learning_rate: must be > 0

A config checks itself in `__post_init__` and raises `ConfigError(field, message)`; a nested
config's error is re-raised with its dotted path (`optim.learning_rate`), which is also the
name of the command-line flag. `validate` adds the rules every experiment shares: seeds are
integers in [0, 2**32 - 1], and float fields are finite unless the config lists the field in
its class attribute `INFINITE_OK` (and documents what inf means).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Iterator, Mapping


class ConfigError(ValueError):
  """An invalid config value; `field` names the config field (and flag), dotted if nested."""

  def __init__(self, field: str, message: str):
    self.field = field
    self.message = message
    super().__init__(f"{field}: {message}")

  def within(self, prefix: str) -> "ConfigError":
    """The same error for the field `prefix.field`."""
    return ConfigError(f"{prefix}.{self.field}", self.message)


def require(condition: bool, field: str, message: str) -> None:
  """Raises `ConfigError(field, message)` unless `condition`."""
  if not condition:
    raise ConfigError(field, message)


def require_choice(value: Any, field: str, choices) -> None:
  """Raises `ConfigError` unless `value` is one of `choices`, listing them."""
  require(value in choices, field,
          f"got {value!r}, expected one of: {', '.join(map(str, choices))}")


def require_choices(values, field: str, choices) -> None:
  """Every item of the sequence `values` is one of `choices`, and there is at least one."""
  require(len(values) >= 1, field, f"name at least one of: {', '.join(map(str, choices))}")
  for v in values:
    require_choice(v, field, choices)


# --- the rules every experiment shares --------------------------------------------------------

MAX_SEED = 2**32 - 1


def is_seed_field(name: str) -> bool:
  """Fields holding seeds: `seed`, `*_seed`, `seeds` and `*_seeds` (not counts such as
  `num_seeds`)."""
  return name in ("seed", "seeds") or (name.endswith(("_seed", "_seeds"))
                                        and not name.startswith("num_"))


def check_seed(name: str, value: Any) -> None:
  """The one seed rule of every experiment: integers in [0, 2**32 - 1] (what numpy,
  scikit-learn and `jax.random.key` all accept), for a seed or a sequence of seeds."""
  for v in value if isinstance(value, (tuple, list)) else (value,):
    require(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_SEED,
            name, f"seeds are integers in [0, {MAX_SEED}], got {v!r}")


def check_finite(name: str, value: Any) -> None:
  """Float values (or sequences of them) must be finite: NaN and +-inf are refused."""
  for v in value if isinstance(value, (tuple, list)) else (value,):
    if isinstance(v, float):
      require(math.isfinite(v), name, f"must be finite, got {v!r}")


def validate(config: Any, prefix: str = "") -> None:
  """Applies the shared rules (`check_seed`, `check_finite`) to every field of `config` and
  of the configs nested in it; raises `ConfigError` with the dotted field name."""
  infinite_ok = getattr(type(config), "INFINITE_OK", ())
  for field in dataclasses.fields(config):
    value = getattr(config, field.name)
    path = prefix + field.name
    if dataclasses.is_dataclass(value):
      validate(value, path + ".")
      continue
    if is_seed_field(field.name):
      check_seed(path, value)
    if field.name not in infinite_ok:
      check_finite(path, value)


# --- structure: leaves, dotted paths, overrides -----------------------------------------------

def _unwrap(tp) -> tuple[Any, Any, bool]:
  """(base type, element type or None, optional?) of a field annotation."""
  optional = False
  origin = typing.get_origin(tp)
  if origin in (typing.Union, types.UnionType):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    optional = len(args) < len(typing.get_args(tp))
    tp = args[0]
    origin = typing.get_origin(tp)
  if origin in (tuple, list):
    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    return tuple, (args[0] if args else str), optional
  return tp, None, optional


@dataclasses.dataclass(frozen=True)
class Leaf:
  """One scalar or tuple field of a (nested) config: `path` is dotted (`optim.learning_rate`),
  `kind` the base type (bool, int, float, str or tuple), `element` the tuple's item type."""

  path: str
  name: str
  kind: type
  element: type | None
  optional: bool
  owner: type


def leaves(config_type: type, prefix: str = "") -> Iterator[Leaf]:
  """The non-config fields of `config_type` and of the config types nested in it."""
  hints = typing.get_type_hints(config_type)
  for field in dataclasses.fields(config_type):
    kind, element, optional = _unwrap(hints[field.name])
    if dataclasses.is_dataclass(kind):
      yield from leaves(kind, prefix + field.name + ".")
    else:
      yield Leaf(prefix + field.name, field.name, kind, element, optional, config_type)


def get(config: Any, path: str) -> Any:
  """The value at the dotted `path` of `config`."""
  for part in path.split("."):
    config = getattr(config, part)
  return config


def parse(leaf: Leaf, text: Any) -> Any:
  """The typed value of `leaf` from a string (command line, sweep grid), a list of strings
  (absl list flags) or a value already typed; raises `ConfigError` naming the field."""
  if leaf.optional and isinstance(text, str) and text.strip().lower() in ("none", ""):
    return None
  try:
    if leaf.kind is tuple:
      items = text.split(",") if isinstance(text, str) else list(text)
      items = [i.strip() if isinstance(i, str) else i for i in items if i != ""]
      return tuple(_scalar(leaf.element, i) for i in items)
    return _scalar(leaf.kind, text)
  except (TypeError, ValueError):
    expected = (f"a comma-separated list of {leaf.element.__name__}" if leaf.kind is tuple
                else f"a value of type {leaf.kind.__name__}")
    raise ConfigError(leaf.path, f"expected {expected}, got {text!r}") from None


def _scalar(kind: type, value: Any) -> Any:
  if not isinstance(value, str):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
      return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
      raise TypeError(value)
    return value
  if kind is bool:
    lowered = value.strip().lower()
    if lowered not in ("1", "0", "true", "false", "yes", "no"):
      raise ValueError(value)
    return lowered in ("1", "true", "yes")
  return kind(value.strip()) if kind in (int, float) else value


def override(config: Any, changes: Mapping[str, Any]) -> Any:
  """`config` with the dotted paths of `changes` set (strings are parsed by the field's
  type); every config on the way is rebuilt, so its `__post_init__` checks run. Raises
  `ConfigError` naming the dotted field (an unknown path too)."""
  by_path = {leaf.path: leaf for leaf in leaves(type(config))}
  nested: dict[str, dict[str, Any]] = {}
  direct: dict[str, Any] = {}
  for path, value in changes.items():
    head, _, rest = path.partition(".")
    if rest:
      if not dataclasses.is_dataclass(getattr(config, head, None)):
        raise ConfigError(path, f"no such field in {type(config).__name__}")
      nested.setdefault(head, {})[rest] = value
    elif path in by_path:
      direct[path] = parse(by_path[path], value)
    else:
      raise ConfigError(path, f"no such field in {type(config).__name__}")
  for head, sub in nested.items():
    try:
      direct[head] = override(getattr(config, head), sub)
    except ConfigError as e:
      raise e.within(head) from None
  return dataclasses.replace(config, **direct)


def unique_leaf_names(config_type: type) -> dict[str, str]:
  """`{leaf name: dotted path}` for nested leaves whose name appears once in the whole config
  (so `--learning_rate` can stand for `--optim.learning_rate`)."""
  all_leaves = list(leaves(config_type))
  counts: dict[str, int] = {}
  for leaf in all_leaves:
    counts[leaf.name] = counts.get(leaf.name, 0) + 1
  top = {f.name for f in dataclasses.fields(config_type)}
  return {leaf.name: leaf.path for leaf in all_leaves
          if "." in leaf.path and counts[leaf.name] == 1 and leaf.name not in top}


def to_dict(config: Any) -> dict[str, Any]:
  """The config as nested dicts (for config.json)."""
  return dataclasses.asdict(config)


def from_dict(config_type: type, values: Mapping[str, Any]) -> Any:
  """The config of type `config_type` from `to_dict`'s output (read back from config.json)."""
  hints = typing.get_type_hints(config_type)
  kwargs = {}
  for field in dataclasses.fields(config_type):
    if field.name not in values:
      continue
    kind, _, _ = _unwrap(hints[field.name])
    value = values[field.name]
    if dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
      value = from_dict(kind, value)
    elif kind is tuple and isinstance(value, list):
      value = tuple(value)
    kwargs[field.name] = value
  return config_type(**kwargs)


def attribute_docs(cls) -> dict[str, str]:
  """`{field: help}` parsed from the `Attributes:` section of a Google-style docstring.

  An entry is `name: text` (or `a, b: text` for several fields) at the section's indentation;
  deeper-indented lines continue it.
  """
  import re  # pylint: disable=g-import-not-at-top
  match = re.search(r"^([ \t]*)Attributes:[ \t]*\n(.*)", cls.__doc__ or "", re.M | re.S)
  if not match:
    return {}
  helps: dict[str, str] = {}
  names: list[str] = []
  entry_indent = None
  for line in match.group(2).splitlines():
    if not line.strip():
      continue
    indent = len(line) - len(line.lstrip())
    if entry_indent is None:
      entry_indent = indent
    if indent < entry_indent:
      break
    m = re.match(r"^\s*(\w+(?:\s*,\s*\w+)*):\s*(.*)$", line)
    if indent == entry_indent and m:
      names = [n.strip() for n in m.group(1).split(",")]
      helps.update({n: m.group(2).strip() for n in names})
    else:
      for n in names:
        helps[n] += " " + line.strip()
  return helps
