"""The path-norm study end to end at micro size: results schema and values, resume without
redoing finished points, float64 scoped, bad config refused naming the field (library and
flags), the guard on non-finite training, and the vmapped trainer / KRR errors against direct
computations."""

import dataclasses
import functools
import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments import common
from jaxlab.experiment import config as config_lib
from jaxlab.experiment.config import ConfigError
from jaxlab.kernels import arccos
from jaxlab.models import path_norm as path_norm_lib
from jaxlab.models import two_layer
from jaxlab.papers import path_norm
from jaxlab.papers.path_norm import krr_baseline, records, training
from jaxlab.training import guard
from jaxlab.training.optim import OptimConfig

REPO = pathlib.Path(__file__).resolve().parents[3]


def micro() -> path_norm.Config:
  """Every part at toy sizes (seconds)."""
  return path_norm.Config(
      test_size=500,
      rademacher=path_norm.RademacherConfig(dims=(2,), ns=(32, 64, 128), num_draws=4,
                                            num_directions=100, refine_steps=5,
                                            sanity_widths=(1, 8), sanity_networks=2,
                                            ascent_width=4, ascent_steps=20),
      width_sweep=path_norm.WidthSweepConfig(d=2, n=64, widths=(4, 8), num_steps=40,
                                             seeds=(0,)),
      learning_curve=path_norm.LearningCurveConfig(dims=(2,), ns=(32, 64, 128), width=8,
                                                   weight_decays=(1e-4, 1e-2), num_steps=40,
                                                   seeds=(0, 1), worst_case_dims=(2,),
                                                   worst_case_units=10),
      krr=path_norm.KRRConfig(dims=(2,), ns=(32, 64, 128)))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("path_norm")
  previous = jax.config.read("jax_enable_x64")
  results = path_norm.run(micro(), str(workdir))
  assert jax.config.read("jax_enable_x64") == previous       # float64 was scoped
  return workdir, results


@pytest.mark.slow  # the whole study; test_one_part_end_to_end is the cheaper default test
def test_results_have_the_contract_keys_and_consistent_values(first_run):
  workdir, results = first_run
  stored = json.loads((workdir / "results.json").read_text())
  for key in ("rademacher", "width_sweep", "learning_curve", "krr_baseline", "checks"):
    assert key in stored
  for check in stored["checks"].values():
    assert {"value", "target", "pass"} <= set(check)
  for name in ("rademacher", "width_sweep", "learning_curve"):
    assert (workdir / "plots" / f"{name}.png").exists()
    assert (workdir / "plots" / f"{name}.pdf").exists()
  rad = stored["rademacher"]["2"]
  per_draw = np.array(rad["per_draw"])
  np.testing.assert_allclose(rad["R_n"], per_draw.mean(1), rtol=1e-12)
  np.testing.assert_allclose(rad["sqrt_n_R_n"], np.sqrt([32, 64, 128]) * per_draw.mean(1),
                             rtol=1e-12)
  assert rad["sanity_max_excess"] <= 1e-9 and rad["atom_max_error"] < 1e-12
  ws = stored["width_sweep"]
  assert ws["constrained_max_path_norm_over_radius"] <= 1 + 1e-12
  np.testing.assert_allclose(ws["constrained"]["gap"], np.array(ws["constrained"]["test_mse"])
                             - np.array(ws["constrained"]["train_mse"]), rtol=1e-10)
  curve = stored["learning_curve"]["2"]
  err = np.array(curve["excess_risk_all"])                             # (N, W, S)
  best = np.argmin(np.log(err).mean(2), axis=1)
  assert curve["weight_decay"] == [(1e-4, 1e-2)[b] for b in best]
  np.testing.assert_allclose(curve["excess_risk"], [err[i, b] for i, b in enumerate(best)])
  assert curve["bound_exponent"] == pytest.approx(-4 / 6)
  assert "worst_case" in curve
  krr = stored["krr_baseline"]
  assert set(krr) == {"single_neuron", "same_teacher", "sample_complexity_ratio"}
  rows = krr["sample_complexity_ratio"]["2"]
  assert [r["n_nn"] for r in rows] == [32, 64, 128]
  np.testing.assert_allclose([r["ratio"] for r in rows],
                             [r["n_krr"] / r["n_nn"] for r in rows], rtol=1e-12)
  assert stored["timing"]["learning_curve_d2"]["runs"] == 3 * 2 * 2


@pytest.mark.slow  # the whole study twice; records are covered by test_one_part_end_to_end
def test_resume_redoes_only_the_missing_points(first_run, tmp_path, monkeypatch):
  workdir, results = first_run
  copy = tmp_path / "copy"
  copy.mkdir()
  for entry in os.listdir(workdir):
    if entry not in ("results.json",):
      src = workdir / entry
      if src.is_file():
        (copy / entry).write_bytes(src.read_bytes())
  (copy / "plots").mkdir(exist_ok=True)
  lines = (copy / records.FILE).read_text().splitlines()
  killed = [l for l in lines if json.loads(l)["part"] != "learning_curve" or
            json.loads(l)["id"]["n"] != 128]
  (copy / records.FILE).write_text("\n".join(killed) + "\n")
  calls = []
  real = training.make_fit

  def counting(*args, **kwargs):
    fit = real(*args, **kwargs)

    def wrapped(params0, x, *rest):
      calls.append(x.shape)
      return fit(params0, x, *rest)
    return wrapped

  monkeypatch.setattr(training, "make_fit", counting)
  resumed = path_norm.run(micro(), str(copy), resume=True)
  # only n = 128 of the learning curve ran again (main and worst-case teacher)
  assert sorted(calls) == [(4, 128, 3), (4, 128, 3)]
  for key in ("rademacher", "width_sweep", "learning_curve", "krr_baseline"):
    assert _without_times(resumed[key]) == _without_times(results[key])


def _without_times(tree):
  """The tree as JSON text without its wall-clock and CPU times."""
  def strip(node):
    if isinstance(node, dict):
      return {k: strip(v) for k, v in node.items() if k not in ("wall_s", "cpu_s")}
    if isinstance(node, (list, tuple)):
      return [strip(v) for v in node]
    return node.tolist() if isinstance(node, np.ndarray) else node
  return json.dumps(strip(tree), default=str)


def test_one_part_end_to_end(tmp_path):
  """The skeleton with E3.1 alone at toy size: float64 scoped, results.json with its gates,
  one record per (d, n), the plot, and a resume that reads every point back."""
  config = dataclasses.replace(micro(), parts=("rademacher",), rademacher=dataclasses.replace(
      micro().rademacher, ascent_width=0, sanity_widths=(1, 4)))
  previous = jax.config.read("jax_enable_x64")
  results = path_norm.run(config, str(tmp_path))
  assert jax.config.read("jax_enable_x64") == previous
  stored = json.loads((tmp_path / "results.json").read_text())
  assert set(stored["checks"]) == {"rademacher_slope_d2", "rademacher_sqrt_n_range_d2",
                                   "rademacher_sanity_d2"}
  rad = stored["rademacher"]["2"]
  np.testing.assert_allclose(rad["sqrt_n_R_n"],
                             np.sqrt([32, 64, 128]) * np.array(rad["per_draw"]).mean(1))
  assert rad["sanity_max_excess"] <= 1e-9 and rad["atom_max_error"] < 1e-12
  assert stored["checks"]["rademacher_sanity_d2"]["pass"]
  assert (tmp_path / "plots" / "rademacher.png").exists()
  lines = (tmp_path / records.FILE).read_text().splitlines()
  assert sorted(json.loads(l)["id"]["n"] for l in lines) == [32, 64, 128]
  again = path_norm.run(config, str(tmp_path), resume=True)       # nothing left to compute
  assert _without_times(again["rademacher"]) == _without_times(results["rademacher"])


def test_bad_config_is_refused_naming_the_field():
  with pytest.raises(ConfigError, match="^variant:"):
    path_norm.Config(variant="linf")
  with pytest.raises(ConfigError, match="^width_sweep.radius:"):
    config_lib.override(path_norm.default(), {"width_sweep.radius": "0"})
  with pytest.raises(ConfigError, match="^rademacher.dims:"):
    config_lib.override(path_norm.default(), {"rademacher.dims": "0,2"})
  with pytest.raises(ConfigError, match="^optim.optimizer:"):
    dataclasses.replace(path_norm.default(), optim=OptimConfig(optimizer="adamw"))
  with pytest.raises(ConfigError, match="^parts:"):
    dataclasses.replace(path_norm.default(), parts=("rademacher", "e3.9"))


def test_command_line_refuses_a_bad_flag_naming_it():
  smoke = REPO / "experiments" / "flags" / "path_norm_smoke.flags"
  with pytest.raises(ConfigError, match="^width_sweep.radius:"):
    common.config_from_args(path_norm.STUDY, [f"--flagfile={smoke}", "--width_sweep.radius=-2"])
  with pytest.raises(ConfigError, match="^variant:"):
    common.config_from_args(path_norm.STUDY, [f"--flagfile={smoke}", "--variant=linf"])
  config = common.config_from_args(path_norm.STUDY, [f"--flagfile={smoke}", "--num_draws=7",
                                                     "--learning_curve.seeds=3,4"])
  assert config.rademacher.num_draws == 7 and config.learning_curve.seeds == (3, 4)
  assert config.width_sweep == path_norm.smoke().width_sweep


def _reference_fit(params, x, y, lam, radius, num_steps):
  """The trainer written out directly: a feasible start, then Adam (cosine schedule) steps,
  each followed by a_k times min(1, R / ||theta||_P), on (1/2n) sum (f - y)^2 + lam (1/2) ||theta||^2."""
  tx = optax.adam(optax.cosine_decay_schedule(1e-2, num_steps))

  def objective(p):
    return (0.5 * jnp.mean((two_layer.apply(p, x) - y) ** 2) +
            lam * 0.5 * (jnp.sum(p.w**2) + jnp.sum(p.a**2)))

  def feasible(p):
    norm = jnp.sum(jnp.abs(p.a) * jnp.linalg.norm(p.w, axis=1))
    return p._replace(a=p.a * jnp.minimum(1.0, radius / norm))

  def step(carry, _):
    p, state = carry
    with jax.numpy_dtype_promotion("standard"):
      updates, state = tx.update(jax.grad(objective)(p), state, p)
    return (feasible(optax.apply_updates(p, updates)), state), None

  params = feasible(params)
  return jax.lax.scan(step, (params, tx.init(params)), None, length=num_steps)[0][0]


def test_vmapped_training_equals_the_direct_trainer(x64):
  x = two_layer.with_bias_coordinate(jax.random.normal(jax.random.key(0), (48, 2),
                                                       jnp.float64)).reshape(2, 24, 3)
  y = jnp.sin(3 * x[..., 0])
  params0 = training.init_many(jnp.stack([jax.random.key(1), jax.random.key(2)]), 3, 6, 2.0)
  optim = OptimConfig(optimizer="adam", learning_rate=1e-2, schedule="cosine")
  lam, radius = jnp.array([1e-3, 0.0]), jnp.array([0.3, jnp.inf])
  both = training.make_fit(optim, 40)(params0, x, y, lam, radius)
  reference = jax.jit(jax.vmap(functools.partial(_reference_fit, num_steps=40)))(
      params0, x, y, lam, radius)
  np.testing.assert_allclose(both.params.w, reference.w, rtol=1e-10, atol=1e-13)
  np.testing.assert_allclose(both.params.a, reference.a, rtol=1e-10, atol=1e-13)
  norms = jax.vmap(path_norm_lib.path_norm)(both.params)
  assert float(norms[0]) == pytest.approx(0.3, rel=1e-12)       # constrained, at the boundary
  assert float(norms[1]) > 0.3                                   # the free run is above it
  with pytest.raises(ValueError, match="^optim.weight_decay:"):
    training.make_fit(dataclasses.replace(optim, weight_decay=1e-3), 40)


def test_non_finite_training_stops_with_the_guard(x64):
  fit = training.Fit(None, jnp.array([[1.0, 0.5, jnp.nan, jnp.nan]]), jnp.ones((1, 4)),
                     jnp.ones((1, 4)))
  with pytest.raises(guard.NonFiniteError, match="loss at step 300 .*E3.3"):
    training.check_finite(fit, 400, "E3.3 d=5 n=256")
  training.check_finite(fit._replace(objective=jnp.ones((1, 4))), 400, "fine")


def test_krr_errors_equal_a_direct_solve(x64):
  x = two_layer.with_bias_coordinate(jax.random.normal(jax.random.key(3), (30, 2), jnp.float64))
  x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
  x_test = two_layer.with_bias_coordinate(jax.random.normal(jax.random.key(4), (1500, 2),
                                                            jnp.float64))
  ys = jnp.stack([jnp.sin(2 * x[:, 0]), x[:, 1] ** 2], axis=1)
  f_test = jnp.stack([jnp.sin(2 * x_test[:, 0]), x_test[:, 1] ** 2], axis=1)
  lams = jnp.array([1e-4, 1e-2])
  err = krr_baseline.excess_risks(x, ys, x_test, f_test, lams)
  k = arccos.arc_cosine()
  for i, lam in enumerate(np.asarray(lams)):
    alpha = np.linalg.solve(np.asarray(k(x)) + 30 * lam * np.eye(30), np.asarray(ys))
    pred = np.asarray(k(x_test, x)) @ alpha
    np.testing.assert_allclose(err[i], np.mean((pred - np.asarray(f_test)) ** 2, axis=0),
                               rtol=1e-8)
