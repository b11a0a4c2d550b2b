"""The run skeleton: order of events, nothing written on refusal, float64 scoped."""

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import pytest

from jaxlab.experiment import ConfigError, Study, Workdir, WorkdirError, gates, run
from jaxlab.experiment.config import require


@dataclasses.dataclass(frozen=True)
class Toy:
  n: int = 3
  seed: int = 0


def _prepare(config):
  require(config.n <= 10, "n", f"must be <= the 10 data points, got {config.n}")
  return list(range(10))[:config.n]


def _execute(config, inputs, wd):
  x = jnp.asarray(inputs, dtype=float)
  wd.log(1, {"dtype": str(x.dtype)})
  return {"total": float(x.sum()), "dtype": str(x.dtype),
          "checks": {"total": gates.interval(float(x.sum()), lo=0)}}


def _plots(config, results, wd):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from jaxlab import plotting  # pylint: disable=g-import-not-at-top
  fig, ax = plotting.figure()
  ax.plot([0, 1], [0, results["total"]])
  wd.save_figure(fig, "toy")


def _study(float64=False):
  return Study(name="toy", presets={"default": Toy, "smoke": lambda: Toy(n=2)},
               prepare=_prepare, execute=_execute, plots=_plots, float64=float64)


def test_run_writes_the_contract_outputs(tmp_path):
  results = run(_study(), Toy(), str(tmp_path / "w"))
  assert results["total"] == 3.0 and results["checks"]["total"]["pass"]
  stored = json.loads((tmp_path / "w" / "results.json").read_text())
  assert stored["total"] == 3.0 and "wall_s" in stored
  assert json.loads((tmp_path / "w" / "config.json").read_text())["config"] == {"n": 3, "seed": 0}
  assert (tmp_path / "w" / "plots" / "toy.png").exists()
  assert (tmp_path / "w" / "plots" / "toy.pdf").exists()


def test_data_dependent_refusal_writes_nothing(tmp_path):
  with pytest.raises(ConfigError, match="n: must be <= the 10"):
    run(_study(), Toy(n=11), str(tmp_path / "w"))
  assert not (tmp_path / "w").exists()
  with pytest.raises(ConfigError, match="seed: seeds are integers"):
    run(_study(), Toy(seed=-1), str(tmp_path / "w"))
  assert not (tmp_path / "w").exists()


def test_resume_is_refused_for_a_study_that_cannot_resume(tmp_path):
  run(_study(), Toy(), str(tmp_path / "w"))
  with pytest.raises(WorkdirError, match="cannot resume"):
    run(_study(), Toy(), str(tmp_path / "w"), resume=True)


def test_float64_study_is_scoped_and_leaves_the_process_config_alone(tmp_path):
  before = jax.config.read("jax_enable_x64")
  results = run(_study(float64=True), Toy(), str(tmp_path / "w"))
  assert results["dtype"] == "float64"
  assert jax.config.read("jax_enable_x64") == before
  assert jnp.ones(1).dtype == (jnp.float64 if before else jnp.float32)


def test_a_malformed_check_is_refused(tmp_path):
  bad = dataclasses.replace(_study(), execute=lambda c, i, wd: {"checks": {"x": {"value": 1}}})
  with pytest.raises(ValueError, match="check 'x' is not"):
    run(bad, Toy(), Workdir(str(tmp_path / "w")))
  assert not os.path.exists(tmp_path / "w" / "results.json")


def test_no_library_module_touches_the_global_jax_config(repo_root):
  offenders = []
  for dirpath, _, files in os.walk(os.path.join(repo_root, "jaxlab")):
    for name in files:
      if name.endswith(".py"):
        with open(os.path.join(dirpath, name)) as f:
          if "config.update(" in f.read():
            offenders.append(os.path.join(dirpath, name))
  assert not offenders
