"""Mean-field ResNet study (paper 7): the presets, config errors, the rate window, the command
line's refusal of a bad flag, and a tiny end-to-end run in-process (float64 scoped)."""

import json
import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.experiment import ConfigError, config as config_lib
from jaxlab.kernels import spectral
from jaxlab.papers import meanfield_resnet
from jaxlab.papers.meanfield_resnet import beta_sweep, resnet, study
from jaxlab.papers.meanfield_resnet.config import (BetaSweepConfig, Config,
                                                   GeneralisationConfig, LimitConfig)

REPO = pathlib.Path(__file__).resolve().parents[3]

# The values of experiments/flags/meanfield_resnet{,_smoke}.flags before the presets moved into
# code (the smoke flagfile left gen_seeds at the old class default, 1; the default one set 3).
OLD_DEFAULT_FLAGS = {
    "seed": 0, "dim": 16, "num_train": 16, "num_test": 512, "depth": 8, "width": 64,
    "head_width": 512, "alpha": 1.0, "beta_sweep.betas": (1.0, 2.0, 4.0, 8.0),
    "eta_beta2": 0.5, "beta_sweep.num_steps": 4000, "beta_sweep.log_every": 50,
    "beta_sweep.rate_start": 500, "limit.depths": (4, 8, 16, 32), "limit.widths": (16, 64, 256),
    "limit.ref_depth": 64, "limit.ref_width": 1024, "limit.beta": 1.0, "limit.num_steps": 100,
    "limit.num_seeds": 4, "generalisation.sizes": (16, 32, 64, 128, 256),
    "generalisation.beta_scale": 0.5, "generalisation.learning_rate": 0.125,
    "generalisation.num_steps": 1000, "generalisation.num_seeds": 3}
OLD_SMOKE_FLAGS = {
    "num_test": 256, "depth": 4, "width": 40, "head_width": 128, "beta_sweep.num_steps": 1500,
    "beta_sweep.rate_start": 300, "limit.depths": (2, 4, 8), "limit.widths": (8, 32, 128),
    "limit.ref_depth": 32, "limit.ref_width": 512, "limit.num_steps": 50,
    "generalisation.sizes": (16, 32, 64), "generalisation.num_steps": 400,
    "generalisation.num_seeds": 1}


def tiny() -> Config:
  return Config(dim=3, num_train=6, num_test=16, depth=2, width=8, head_width=8,
                beta_sweep=BetaSweepConfig(betas=(1.0, 4.0), num_steps=40, log_every=20,
                                           rate_start=0, knn_reference=64),
                limit=LimitConfig(depths=(1, 2), widths=(2, 8), ref_depth=8, ref_width=32,
                                  num_steps=5, num_seeds=2),
                generalisation=GeneralisationConfig(sizes=(4, 8), num_steps=20, num_seeds=2))


def test_presets_are_the_old_flagfiles():
  assert meanfield_resnet.default() == config_lib.override(Config(), OLD_DEFAULT_FLAGS)
  old_smoke = {**OLD_DEFAULT_FLAGS, **OLD_SMOKE_FLAGS}
  assert meanfield_resnet.smoke() == config_lib.override(Config(), old_smoke)


@pytest.mark.parametrize("path, value, message", [
    ("width", "32", "must exceed 2 * dim"),
    ("head_width", "7", "must be even"),
    ("dim", "2", "must be >= 3"),
    ("beta_sweep.betas", "2,1", "increasing"),
    ("beta_sweep.log_every", "7", "must divide num_steps"),
    ("beta_sweep.knn_k", "64", "must be < width and head_width / 2"),
    ("limit.depths", "4,64", "below the reference"),
    ("generalisation.sizes", "1,4", "values >= 2"),
])
def test_config_errors_name_the_field(path, value, message):
  with pytest.raises(ConfigError, match=re.escape(message)) as err:
    config_lib.override(meanfield_resnet.default(), {path: value})
  assert err.value.field == path


def test_rate_window_recovers_a_geometric_rate():
  steps = np.arange(0, 1001, 50)
  loss = 0.2 * np.exp(-0.01 * steps) + 0.2 * np.exp(-0.2 * steps)   # transient, then e^{-0.01 t}
  loss = np.maximum(loss, 1e-30)
  out = beta_sweep.rate_window(steps, loss, np.full(len(steps), 0.008), start=300, floor=1e-3)
  np.testing.assert_allclose(out["observed"], 0.01, rtol=1e-6)
  assert out["window"] == [300, 600] and out["bound"] == pytest.approx(0.008)
  assert np.isnan(beta_sweep.rate_window(steps, loss, loss, start=2000, floor=0.1)["observed"])


def test_command_line_refuses_a_bad_flag_before_any_work(tmp_path):
  workdir = tmp_path / "run"
  proc = subprocess.run([sys.executable, "-m", "experiments.meanfield_resnet", "--config=smoke",
                         "--limit.depths=4,64", f"--workdir={workdir}"], cwd=REPO,
                        capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "limit.depths" in proc.stderr and "below the reference" in proc.stderr
  assert not workdir.exists()


def _run_with_x64_off(config, workdir):
  previous = jax.config.read("jax_enable_x64")
  jax.config.update("jax_enable_x64", False)
  try:
    results = meanfield_resnet.run(config, str(workdir))
    after = jax.config.read("jax_enable_x64")
  finally:
    jax.config.update("jax_enable_x64", previous)
  return results, after


def test_tiny_run_is_float64_scoped_and_records_everything(tmp_path):
  config = tiny()
  results, x64_after = _run_with_x64_off(config, tmp_path)
  assert x64_after is False                      # the study's float64 scope did not leak
  # float64 inside: the closed-form Gram matrices equal the Jacobian form to 1e-10.
  assert results["gram_closed_form_vs_jacobian_max_abs"] < 1e-10

  with jax.enable_x64(True):                      # the same draws as the study (prepare's keys)
    inputs = study.prepare(config)
    params0 = resnet.init(inputs.keys.init, dim=3, depth=2, width=8, head_width=8,
                          dtype=jnp.float64)
    lam2 = float(spectral.lambda_min(resnet.gram(params0, inputs.x, alpha=1.0)[1]))
    half_mean_y2 = float(0.5 * jnp.mean(inputs.y ** 2))
  for row in results["beta_sweep"]:
    assert row["gram_min_eig_init"] == pytest.approx(lam2, rel=1e-12)
    assert row["initial_loss"] == pytest.approx(half_mean_y2, rel=1e-12)   # f_0 = 0
    assert row["learning_rate"] == pytest.approx(0.5 / row["beta"] ** 2)

  metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  sweep_lines = [m for m in metrics if m["study"] == "beta_sweep"]
  assert len(sweep_lines) == 2 * 3 and len(metrics) == 2 * 3 + 2
  for m in sweep_lines:
    if m["step"] == 0:                           # G1(0) = 0: lambda_min(G1 + G2) = lambda_min(G2)
      assert m["lambda_min_g"] == pytest.approx(m["lambda_min_g2"], rel=1e-10)
  for name, count in (("limit", 4), ("generalisation", 2)):
    assert len((tmp_path / "sweeps" / name / "sweep.jsonl").read_text().splitlines()) == count
  assert [(r["depth"], r["width"], r["varied"]) for r in results["limit_sweep"]] == [
      (1, 32, "depth"), (2, 32, "depth"), (8, 2, "width"), (8, 8, "width")]
  assert [r["beta"] for r in results["generalisation"]] == pytest.approx([1.0, 2 ** 0.5])

  checks = results["checks"]
  assert len(checks) == 1 + 2 * 2 + 4 * 2 + 3
  assert all({"value", "target", "pass"} <= set(c) for c in checks.values())
  assert checks["gram_closed_form_equals_jacobian"]["pass"]
  assert results["all_checks_pass"] == all(c["pass"] for c in checks.values())
  assert results["displacement_exponent_head"] == pytest.approx(
      np.log(results["beta_sweep"][1]["displacement_head"] /
             results["beta_sweep"][0]["displacement_head"]) / np.log(4.0))
  stored = json.loads((tmp_path / "config.json").read_text())["config"]
  assert stored["limit"]["depths"] == [1, 2] and stored["generalisation"]["num_seeds"] == 2
  for name in ("beta_sweep", "limit_and_generalisation"):
    assert (tmp_path / "plots" / f"{name}.png").exists()
    assert (tmp_path / "plots" / f"{name}.pdf").exists()
