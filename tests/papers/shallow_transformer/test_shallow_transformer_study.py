"""Shallow-Transformer study (paper 10): the presets, config errors, the contraction measure,
the command line's refusal of a bad flag, and a tiny end-to-end run in-process (float64
scoped)."""

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
from jaxlab.papers import shallow_transformer
from jaxlab.papers.shallow_transformer import dynamics, study, transformer
from jaxlab.papers.shallow_transformer.config import (Config, GdConfig, InitComparisonConfig,
                                                      NtkInitConfig, WidthNeededConfig)
from jaxlab.papers.shallow_transformer.data import sequences

REPO = pathlib.Path(__file__).resolve().parents[3]

# The values of experiments/flags/shallow_transformer{,_smoke}.flags before the presets moved
# into code.
OLD_DEFAULT_FLAGS = {
    "seed": 0, "num_sequences": 20, "seq_len": 4, "dim": 16,
    "ntk_init.inits": ("lecun", "he", "ntk"), "ntk_init.widths": (16, 64, 256, 1024),
    "ntk_init.num_seeds": 3, "gd.widths": (64, 256, 1024), "gd.num_steps": 400,
    "gd.log_every": 20, "gd.compare_init": "ntk", "init_comparison.width": 256,
    "init_comparison.num_steps": 200, "width_needed.sizes": (10, 20, 40, 80),
    "width_needed.widths": (4, 8, 16, 32, 64, 128), "width_needed.num_steps": 2000,
    "width_needed.threshold": 1e-6, "width_needed.num_seeds": 3}
OLD_SMOKE_FLAGS = {
    "ntk_init.widths": (64, 256, 1024), "ntk_init.num_seeds": 2, "gd.widths": (32, 128),
    "gd.num_steps": 200, "init_comparison.width": 64, "init_comparison.num_steps": 100,
    "width_needed.sizes": (5, 10, 20), "width_needed.widths": (4, 8, 16),
    "width_needed.num_steps": 1000}


def tiny() -> Config:
  return Config(num_sequences=6, seq_len=2, dim=3,
                ntk_init=NtkInitConfig(widths=(4, 8), num_seeds=2),
                gd=GdConfig(widths=(4, 8), num_steps=4, log_every=2),
                init_comparison=InitComparisonConfig(width=4, num_steps=3),
                width_needed=WidthNeededConfig(sizes=(2, 4), widths=(2, 4), num_steps=20,
                                               threshold=1e-3, num_seeds=2))


def test_presets_are_the_old_flagfiles():
  assert shallow_transformer.default() == config_lib.override(Config(), OLD_DEFAULT_FLAGS)
  old_smoke = {**OLD_DEFAULT_FLAGS, **OLD_SMOKE_FLAGS}
  assert shallow_transformer.smoke() == config_lib.override(Config(), old_smoke)


@pytest.mark.parametrize("path, value, message", [
    ("ntk_init.inits", "he,ntk", "must include lecun"),
    ("ntk_init.inits", "lecun,xavier", "must be distinct values among"),
    ("gd.compare_init", "xavier", "expected one of"),
    ("gd.widths", "256,64", "increasing"),
    ("gd.log_every", "7", "must divide num_steps"),
    ("seq_len", "1", "must be >= 2"),
    ("width_needed.threshold", "0", "must be > 0"),
])
def test_config_errors_name_the_field(path, value, message):
  with pytest.raises(ConfigError, match=re.escape(message)) as err:
    config_lib.override(shallow_transformer.default(), {path: value})
  assert err.value.field == path


def test_contraction_is_the_geometric_rate_over_the_second_half():
  assert dynamics.contraction(2.0 * 0.9 ** np.arange(11)) == pytest.approx(0.9)
  loss = np.concatenate([2.0 * 0.5 ** np.arange(5), 0.125 * 0.8 ** np.arange(1, 5)])
  assert dynamics.contraction(loss) == pytest.approx(0.8)       # the first half is ignored


def test_command_line_refuses_a_bad_flag_before_any_work(tmp_path):
  workdir = tmp_path / "run"
  proc = subprocess.run([sys.executable, "-m", "experiments.shallow_transformer",
                         "--config=smoke", "--gd.compare_init=xavier", f"--workdir={workdir}"],
                        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert "gd.compare_init" in proc.stderr and "xavier" in proc.stderr
  assert not workdir.exists()


def _run_with_x64_off(config, workdir):
  previous = jax.config.read("jax_enable_x64")
  jax.config.update("jax_enable_x64", False)
  try:
    results = shallow_transformer.run(config, str(workdir))
    after = jax.config.read("jax_enable_x64")
  finally:
    jax.config.update("jax_enable_x64", previous)
  return results, after


def _first_replicate_lambda_min(config, scheme, tau0, width):
  """lambda_min(K0) of the first NTK-at-init replicate, recomputed from the study's keys."""
  with jax.enable_x64(True):
    keys = study.prepare(config)
    k_data, k_init = jax.random.split(jax.random.split(keys.ntk_init, 2)[0])
    x = sequences(k_data, config.num_sequences, config.seq_len, config.dim)[0]
    params = transformer.init(k_init, dim=config.dim, width=width, scheme=scheme,
                              dtype=jnp.float64)
    scale = transformer.scaling(scheme, tau0, dim=config.dim, width=width)
    return float(spectral.lambda_min(transformer.ntk(params, x, scale)))


def test_tiny_run_is_float64_scoped_and_records_everything(tmp_path):
  config = tiny()
  results, x64_after = _run_with_x64_off(config, tmp_path)
  assert x64_after is False                      # the study's float64 scope did not leak

  rows = results["ntk_init"]
  assert len(rows) == 3 * 2 * 2
  for r in rows:
    assert r["lambda_min_over_width"] == pytest.approx(r["lambda_min"] / r["width"])
    assert r["lambda_min"] == pytest.approx(np.mean(r["lambda_min_per_seed"]))
  for scheme, tau0, label in (("lecun", "inv", "d_m^-1"), ("ntk", "inv_sqrt", "d_m^-1/2")):
    row = next(r for r in rows if (r["init"], r["tau0"], r["width"]) == (scheme, label, 8))
    assert row["lambda_min_per_seed"][0] == pytest.approx(
        _first_replicate_lambda_min(config, scheme, tau0, 8), rel=1e-10)

  metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  gd_lines = [m for m in metrics if m["study"] == "gd"]
  assert len(gd_lines) == 2 * 2 * 3 and len(metrics) == 2 * 2 * 3 + 4
  for r in results["gd"]:
    loss = {m["step"]: m["loss"] for m in gd_lines if (m["init"], m["width"]) ==
            ("lecun", r["width"])}
    assert r["contraction"] == pytest.approx((loss[4] / loss[2]) ** 0.5, rel=1e-12)
    assert r["bound"] == pytest.approx((1 - r["lambda_min_init"] / r["lambda_max_init"]) ** 2)
    assert r["gamma_lambda_max"] == pytest.approx(1.0)
  assert results["init_comparison"]["gamma_lambda_max"]["he"] == pytest.approx(1.0)
  for r in results["width_needed"]:
    assert r["width_needed"] in (2, 4, None)
  gd_records = (tmp_path / "sweeps" / "gd" / "sweep.jsonl").read_text().splitlines()
  assert len(gd_records) == 2

  checks = results["checks"]
  assert len(checks) == 6 + 3 + 2 + 2 + 2 + 1 + 2
  assert all({"value", "target", "pass"} <= set(c) for c in checks.values())
  assert results["all_checks_pass"] == all(c["pass"] for c in checks.values())
  stored = json.loads((tmp_path / "config.json").read_text())["config"]
  assert stored["gd"]["widths"] == [4, 8] and stored["width_needed"]["threshold"] == 1e-3
  for name in ("ntk_init", "gd_dynamics", "init_and_width"):
    assert (tmp_path / "plots" / f"{name}.png").exists()
