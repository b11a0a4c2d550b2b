"""Shared plumbing of the experiment entry points: flags from a study's config.

An entry point is three lines:

  from jaxlab.papers import elle
  main = common.make_main(elle.STUDY)
  if __name__ == "__main__": common.run(main)

`--config=NAME` picks one of the study's presets (default: `default`; the flagfiles
`<name>.flags` and `<name>_smoke.flags` pick `default` and `smoke`), and every field of the
config, nested ones by their dotted path (`--optim.learning_rate`), is a flag that overrides
it. A nested field whose name is unique in the config also answers to its short name
(`--learning_rate`), and a nested config's `name` field to the config's own name
(`--model=cnn` for `--model.name=cnn`). Help texts come from the config classes'
`Attributes:` docstring sections; defaults shown are those of the `default` preset.
`--workdir`, `--overwrite` and (for resumable studies) `--resume` are added. A bad value stops
the run before any work, and before anything is written, with a message naming the flag.
"""

from __future__ import annotations

import importlib
import logging as std_logging
import sys
from typing import Any, Sequence

from absl import app, flags, logging

from jaxlab.experiment import config as config_lib
from jaxlab.experiment import distributed
from jaxlab.experiment import study as study_lib
from jaxlab.experiment import sweep
from jaxlab.experiment.config import ConfigError
from jaxlab.experiment.workdir import Workdir, WorkdirError

FLAGS = flags.FLAGS
_RESERVED = ("config", "workdir", "overwrite", "resume", "tensorboard", "distributed", "coordinator_address",
             "num_processes", "process_id")


def _caller_module(depth: int = 2) -> str:
  """The module name absl gives the caller's flags (sys.argv[0] for __main__, as absl does)."""
  name = sys._getframe(depth).f_globals["__name__"]  # pylint: disable=protected-access
  return sys.argv[0] if name == "__main__" else name


def aliases(config_type: type) -> dict[str, str]:
  """`{short flag: dotted path}`: `<group>` for `<group>.name`, and unique leaf names."""
  out = {}
  for leaf in config_lib.leaves(config_type):
    group, _, rest = leaf.path.rpartition(".")
    if rest == "name" and group and "." not in group:
      out[group] = leaf.path
  for name, path in config_lib.unique_leaf_names(config_type).items():
    if name not in out and name not in _RESERVED:
      out.setdefault(name, path)
  return out


def define_study_flags(study: study_lib.Study, flag_values: flags.FlagValues = FLAGS,
                       module_name: str | None = None) -> None:
  """Defines `--config`, one flag per config leaf (plus the short aliases), `--workdir`,
  `--overwrite` and, if the study is resumable, `--resume`."""
  kw = dict(module_name=module_name or _caller_module(), flag_values=flag_values)
  default = study.preset("default")
  flags.DEFINE_enum("config", "default", list(study.presets),
                    "the preset the flags below override", **kw)
  for leaf in config_lib.leaves(type(default)):
    value = config_lib.get(default, leaf.path)
    help_ = config_lib.attribute_docs(leaf.owner).get(leaf.name, leaf.name)
    if leaf.kind is tuple:
      flags.DEFINE_list(leaf.path, None if value is None else [str(v) for v in value],
                        f"{help_} (comma-separated)", **kw)
    elif leaf.optional:
      flags.DEFINE_string(leaf.path, None if value is None else str(value), help_, **kw)
    elif leaf.kind is bool:
      flags.DEFINE_bool(leaf.path, value, help_, **kw)
    elif leaf.kind is int:
      flags.DEFINE_integer(leaf.path, value, help_, **kw)
    elif leaf.kind is float:
      flags.DEFINE_float(leaf.path, value, help_, **kw)
    elif leaf.kind is str:
      flags.DEFINE_string(leaf.path, value, help_, **kw)
    else:
      raise TypeError(f"{leaf.owner.__name__}.{leaf.name}: unsupported flag type {leaf.kind}")
  for short, path in aliases(type(default)).items():
    flags.DEFINE_alias(short, path, **kw)
  flags.DEFINE_string("workdir", None, "output directory (new, or empty)", **kw)
  flags.DEFINE_bool("overwrite", False, "replace a workdir that a finished or failed jaxlab "
                    "run left (never a directory jaxlab did not create)", **kw)
  if study.resumable:
    flags.DEFINE_bool("resume", False, "continue the run in --workdir where it stopped", **kw)
  flags.DEFINE_bool("tensorboard", False, "also write the logged metrics as TensorBoard "
                    "scalars to --workdir/tensorboard (needs the extra 'tensorboard')", **kw)
  flags.DEFINE_bool("distributed", False, "join a multi-process run (jax.distributed): "
                    "sharded work spans every process's devices, process 0 writes", **kw)
  flags.DEFINE_string("coordinator_address", None, "with --distributed: host:port of process "
                      "0 (default: detected from the cluster)", **kw)
  flags.DEFINE_integer("num_processes", None, "with --distributed: number of processes", **kw)
  flags.DEFINE_integer("process_id", None, "with --distributed: this process's rank", **kw)


def config_from_flags(study: study_lib.Study, flag_values: flags.FlagValues = FLAGS) -> Any:
  """The preset `--config` with the flags given on the command line (or in a flagfile)
  applied; raises `ConfigError` naming the flag."""
  changes = {}
  for leaf in config_lib.leaves(study.config_type):
    flag = flag_values[leaf.path]
    if flag.present:
      changes[leaf.path] = flag.value
  for path in changes:  # the seed rule first, before any check that would use a bad seed
    if config_lib.is_seed_field(path.rpartition(".")[2]):
      config_lib.check_seed(path, config_lib.parse(_leaf(study, path), changes[path]))
  config = config_lib.override(study.preset(flag_values["config"].value), changes)
  config_lib.validate(config)  # the shared rules (finite floats, seeds), as run() applies them
  return config


def _leaf(study, path):
  return next(l for l in config_lib.leaves(study.config_type) if l.path == path)


def config_from_args(study: study_lib.Study, args: Sequence[str]) -> Any:
  """The config that `python -m experiments.<name> ARGS` would run (e.g. `["--flagfile=
  experiments/flags/elle.flags"]`), resolved without running anything."""
  flag_values = flags.FlagValues()
  define_study_flags(study, flag_values, module_name="experiments")
  flag_values(["experiment", *args])
  return config_from_flags(study, flag_values)


def study_for(name: str) -> study_lib.Study:
  """The Study of `python -m experiments.<name>`: `jaxlab.papers.<name>.STUDY` for a paper,
  `jaxlab.<name>.STUDY` otherwise (train_classifier).

  Raises:
    ModuleNotFoundError: there is no such study.
  """
  for module in (f"jaxlab.papers.{name}", f"jaxlab.{name}"):
    try:
      return importlib.import_module(module).STUDY
    except ModuleNotFoundError as e:
      if e.name not in (module, "jaxlab.papers"):
        raise
  raise ModuleNotFoundError(f"no study named {name!r}", name=name)


class _DropOrbaxInfo(std_logging.Filter):
  """Orbax logs every file it writes at INFO; keep its warnings only."""

  def filter(self, record):
    return record.levelno >= std_logging.WARNING or "/orbax/" not in record.pathname


def fail(message: str, status: int = 2) -> None:
  """Prints `error: message` and exits with `status`: 2 for bad flags or workdirs (no work
  done), 3 for a run that diverged."""
  sys.stderr.write(f"error: {message}\n")
  sys.exit(status)


def make_main(study: study_lib.Study):
  """Defines the study's flags; returns `main(argv)`, which builds and checks the config and
  runs `jaxlab.experiment.run(study, config, --workdir, ...)`."""
  define_study_flags(study, FLAGS, _caller_module())

  def main(argv):
    if len(argv) > 1:
      fail(f"unexpected positional arguments {argv[1:]}; flags look like --name=value")
    std_logging.getLogger("absl").addFilter(_DropOrbaxInfo())
    logging.set_verbosity(logging.INFO)
    if FLAGS.distributed:
      try:
        distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes,
                               FLAGS.process_id)
      except ValueError as e:
        fail(f"--{e}")
    elif FLAGS.coordinator_address or FLAGS.num_processes is not None:
      fail("--coordinator_address / --num_processes need --distributed")
    try:
      config = config_from_flags(study)
    except ConfigError as e:
      fail(f"--{e}")
    if not FLAGS.workdir:
      fail("--workdir is required (a new or empty directory)")
    try:
      workdir = Workdir(FLAGS.workdir, overwrite=FLAGS.overwrite,
                        resume=study.resumable and FLAGS.resume, tensorboard=FLAGS.tensorboard)
      study_lib.run(study, config, workdir)
    except ConfigError as e:
      fail(f"--{e}")
    except WorkdirError as e:
      fail(str(e))
    except FloatingPointError as e:
      fail(f"the run diverged: {e}. The workdir {FLAGS.workdir} is marked failed "
           f"(failed.json; metrics.jsonl up to the failure). Flags most likely responsible: "
           f"{suspects(study, config)}; lower them, or pass --overwrite to start again.",
           status=3)

  return main


_SUSPECTS = ("learning_rate", "lr", "eta", "step_size", "eps", "lam", "lambda", "beta", "alpha")


def suspects(study: study_lib.Study, config: Any) -> str:
  """The flags that most often make a run diverge (learning rates, step sizes, radii,
  regularisation weights), with their values, e.g. '--optim.learning_rate=1000000.0'."""
  found = []
  for leaf in config_lib.leaves(study.config_type):
    words = leaf.name.split("_")
    if leaf.name in _SUSPECTS or any(w in _SUSPECTS or w.rstrip("0123456789") in _SUSPECTS
                                     for w in words):
      found.append(f"--{leaf.path}={config_lib.get(config, leaf.path)}")
  return ", ".join(found) or "the optimisation flags"


def run(main) -> None:
  """`app.run(main)`; a sweep's point process first asks to die with its driver."""
  sweep.die_with_parent_if_asked()
  app.run(main)

