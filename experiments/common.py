"""Shared plumbing of the experiment entry points: flags from a config dataclass.

An entry point is three lines:

  from jaxlab.training import classifier
  main = common.make_main(classifier.Config, classifier.run, resumable=True)
  if __name__ == "__main__": common.run(main)

Every field of the config becomes a flag of the same name, type and default, with the help text
taken from the dataclass's `Attributes:` docstring section; `--workdir`, `--overwrite` and (for
resumable experiments) `--resume` are added. A bad value stops the run before any work with a
message naming the flag.
"""

from __future__ import annotations

import dataclasses
import logging as std_logging
import re
import sys
import types
import typing
from typing import Any, Callable

from absl import app, flags, logging

from jaxlab.config import ConfigError, check_seed, is_seed_field
from jaxlab.workdir import Workdir, WorkdirError

FLAGS = flags.FLAGS
_SCALARS = (bool, int, float, str)


def attribute_docs(cls) -> dict[str, str]:
  """`{field: help}` parsed from the `Attributes:` section of a Google-style docstring.

  An entry is `name: text` (or `a, b: text` for several fields) at the section's indentation;
  deeper-indented lines continue it.
  """
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


def _unwrap(tp):
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


def _caller_module(depth: int = 2) -> str:
  """The module name absl gives the caller's flags (sys.argv[0] for __main__, as absl does)."""
  name = sys._getframe(depth).f_globals["__name__"]  # pylint: disable=protected-access
  return sys.argv[0] if name == "__main__" else name


def define_config_flags(config_cls, module_name: str | None = None,
                        flag_values: flags.FlagValues = FLAGS) -> None:
  """Defines one absl flag per field of the dataclass `config_cls` (owned by `module_name`,
  default the caller, so `--helpshort` of an entry point lists them)."""
  module_name = module_name or _caller_module()
  kw = dict(module_name=module_name, flag_values=flag_values)
  helps = attribute_docs(config_cls)
  hints = typing.get_type_hints(config_cls)
  for field in dataclasses.fields(config_cls):
    base, elem, _ = _unwrap(hints[field.name])
    default = (field.default if field.default is not dataclasses.MISSING
               else field.default_factory())  # type: ignore[misc]
    help_ = helps.get(field.name, field.name)
    if base is tuple:
      flags.DEFINE_list(field.name, None if default is None else [str(v) for v in default],
                        f"{help_} (comma-separated)", **kw)
    elif base is bool:
      flags.DEFINE_bool(field.name, default, help_, **kw)
    elif base is int:
      flags.DEFINE_integer(field.name, default, help_, **kw)
    elif base is float:
      flags.DEFINE_float(field.name, default, help_, **kw)
    elif base is str:
      flags.DEFINE_string(field.name, default, help_, **kw)
    else:
      raise TypeError(f"{config_cls.__name__}.{field.name}: unsupported flag type {base}")


def config_from_flags(config_cls, flag_values: flags.FlagValues = FLAGS):
  """Builds `config_cls` from the parsed flags; raises `ConfigError` naming a bad flag."""
  hints = typing.get_type_hints(config_cls)
  values: dict[str, Any] = {}
  for field in dataclasses.fields(config_cls):
    value = flag_values[field.name].value
    base, elem, _ = _unwrap(hints[field.name])
    if base is tuple and value is not None:
      try:
        value = tuple(elem(v) if elem is not bool else v.lower() in ("1", "true") for v in value)
      except ValueError:
        raise ConfigError(field.name, f"expected a comma-separated list of "
                          f"{elem.__name__}, got {','.join(value)!r}") from None
    values[field.name] = value
  for name, value in values.items():  # the seed rule first, before any check that uses them
    if is_seed_field(name):
      check_seed(name, value)
  return config_cls(**values)


class _DropOrbaxInfo(std_logging.Filter):
  """Orbax logs every file it writes at INFO; keep its warnings only."""

  def filter(self, record):
    return record.levelno >= std_logging.WARNING or "/orbax/" not in record.pathname


def fail(message: str) -> None:
  """Prints `error: message` and exits with status 2 (bad flags, no work done)."""
  sys.stderr.write(f"error: {message}\n")
  sys.exit(2)


def make_main(config_cls, run_fn: Callable[..., Any], *, resumable: bool = False):
  """Defines the flags of `config_cls` plus the workdir flags; returns `main(argv)`, which
  builds and validates the config, creates the workdir (refusing a non-empty one unless
  --overwrite or --resume) and calls `run_fn(config, workdir)`."""
  module_name = _caller_module()
  define_config_flags(config_cls, module_name)
  flags.DEFINE_string("workdir", None, "output directory (must be new or empty)",
                      module_name=module_name)
  flags.DEFINE_bool("overwrite", False, "delete the contents of a non-empty --workdir first",
                    module_name=module_name)
  if resumable:
    flags.DEFINE_bool("resume", False, "continue the run in --workdir from its checkpoints",
                      module_name=module_name)

  def main(argv):
    if len(argv) > 1:
      fail(f"unexpected positional arguments {argv[1:]}; flags look like --name=value")
    std_logging.getLogger("absl").addFilter(_DropOrbaxInfo())
    logging.set_verbosity(logging.INFO)
    try:
      config = config_from_flags(config_cls)
    except ConfigError as e:
      fail(f"--{e}")
    if not FLAGS.workdir:
      fail("--workdir is required (a new or empty directory)")
    try:
      workdir = Workdir(FLAGS.workdir, overwrite=FLAGS.overwrite,
                        resume=resumable and FLAGS.resume)
      run_fn(config, workdir)
    except ConfigError as e:
      fail(f"--{e}")
    except WorkdirError as e:
      fail(str(e))

  return main


def run(main) -> None:
  """`app.run(main)`."""
  app.run(main)
