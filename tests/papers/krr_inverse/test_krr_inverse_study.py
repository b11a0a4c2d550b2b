"""The krr_inverse study (paper 2): presets, config errors naming the field, one key per
purpose (and the parts' bootstrap blocks), a tiny in-process run of every part (results
schema, float64 scope, plots, parts independent of each other) and the command line."""

import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxlab.experiment import ConfigError, gates
from jaxlab.papers import krr_inverse
from jaxlab.papers.krr_inverse import context, saturation, study, variance

REPO = pathlib.Path(__file__).resolve().parents[3]

TINY = dict(ns=(16, 32, 64), ns_independence=(16, 32, 64), b2_max_n=64, num_designs=2,
            num_designs_independence=2, num_noise=2, modes=512, num_lams=5, saturation_n=64,
            saturation_num_lams=3, saturation_designs=1, aliasing_designs=2,
            bias_variance_n=16, bias_variance_designs=1, num_bootstrap=50)


def test_presets():
  default, smoke = krr_inverse.default(), krr_inverse.smoke()
  assert default == krr_inverse.Config() and default.studies == tuple(p.name for p in study.PARTS)
  assert (default.ns, default.modes, default.num_lams, default.slope_tol_scale) == (
      (128, 256, 512, 1024, 2048), 16384, 34, 1.0)
  assert "smoothing" not in smoke.studies and len(smoke.studies) == 6
  assert (smoke.ns, smoke.modes, smoke.num_lams, smoke.saturation_n) == ((128, 256, 512), 4096,
                                                                        23, 512)
  assert (smoke.slope_tol_scale, smoke.level_tol_scale, smoke.r_s) == (2.0, 1.5, 1.5)


def test_config_errors_name_the_field():
  with pytest.raises(ConfigError, match="modes: must be >= 8 x the largest n"):
    krr_inverse.Config(modes=1024)
  with pytest.raises(ConfigError, match="studies: got 'nope'"):
    krr_inverse.Config(studies=("nope",))
  with pytest.raises(ConfigError, match="ns: needs >= 3 increasing"):
    krr_inverse.Config(ns=(256, 128, 512))
  with pytest.raises(ConfigError, match="slope_tol_scale"):
    krr_inverse.Config(slope_tol_scale=0.5)
  with pytest.raises(ConfigError, match="saturation_design: got 'grid'"):
    krr_inverse.Config(saturation_design="grid")


def test_one_key_per_purpose_and_disjoint_bootstrap_blocks():
  ids = list(context.STREAMS.values())
  fit_ids = [context.FIT_BASE + first + j for first, size in context.FIT_BLOCKS.values()
             for j in range(size)]
  assert len(set(ids + fit_ids)) == len(ids) + len(fit_ids)
  assert sorted(fit_ids) == list(range(context.FIT_BASE + 1, context.FIT_BASE + 51))
  keys = context.study_keys(3)
  for name, i in context.STREAMS.items():
    np.testing.assert_array_equal(jax.random.key_data(getattr(keys, name)),
                                  jax.random.key_data(jax.random.fold_in(keys.root, i)))
  ctx = context.Context(krr_inverse.Config(**TINY), keys, None)
  fit = context.Fitter(ctx, "smoothing")
  x = np.array([1.0, 2.0, 4.0])
  assert fit(x, x**-0.5).slope == pytest.approx(-0.5)
  fit(x, x)
  with pytest.raises(RuntimeError, match="at most 2 slopes"):
    fit(x, x)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  """Every part at tiny sizes, in-process with float64 off, recording the bootstrap keys."""
  used = []
  fit_slope = gates.fit_slope

  def recording(x, values, *, key, **kw):
    used.append(np.asarray(jax.random.key_data(key)).tolist())
    return fit_slope(x, values, key=key, **kw)

  mp = pytest.MonkeyPatch()
  mp.setattr(context.gates, "fit_slope", recording)
  previous = jax.config.read("jax_enable_x64")
  jax.config.update("jax_enable_x64", False)
  try:
    workdir = tmp_path_factory.mktemp("krr_inverse") / "run"
    results = krr_inverse.run(krr_inverse.Config(**TINY), str(workdir))
    x64_after = jax.config.read("jax_enable_x64")
  finally:
    jax.config.update("jax_enable_x64", previous)
    mp.undo()
  return results, workdir, used, x64_after


def test_tiny_run_contract(tiny_run):
  results, workdir, used, x64_after = tiny_run
  assert x64_after is False                     # the float64 scope restored the setting
  assert {"curves", "slopes", "checks", "observations", "failed", "wall_s"} <= set(results)
  for s in results["slopes"]:
    assert s["pass"] == (abs(s["measured"] - s["predicted"]) <= s["tol"])
    assert s["ci"][0] <= s["ci"][1]
  gates.check_schema(results["checks"])
  assert results["failed"] == gates.failed(results["slopes"], results["checks"])
  # (rho, gamma) = (2, 1.75) and (0.25, 0) have the same error weights: identical variances.
  ident = results["checks"]["E1.1 identity: (rho, gamma) = (2, 1.75) equals (0.25, 0), max "
                            "rel. diff."]
  assert ident["value"] == 0.0 and ident["pass"]
  # Every fit of every part drew its bootstrap from its own id, in order 1..50: the ids of the
  # first release's run-wide counter, now fixed per part.
  root = jax.random.key(0)
  assert used == [np.asarray(jax.random.key_data(jax.random.fold_in(
      root, context.FIT_BASE + i))).tolist() for i in range(1, 51)]
  assert len([s for s in results["slopes"] if s["name"].startswith("E1.4")]) == sum(
      row.predicted is not None for row in saturation.ROWS)
  for name in ("phase_diagram", "learning_curves", "bias_variance"):
    assert (workdir / "plots" / f"{name}.png").exists()
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  assert [json.loads(l)["step"] for l in lines] == list(range(len(lines)))


def test_a_part_does_not_depend_on_the_parts_before_it(tiny_run, tmp_path):
  results, _, _, _ = tiny_run
  alone = krr_inverse.run(krr_inverse.Config(**{**TINY, "studies": ("oracle",)}),
                          str(tmp_path / "oracle"))
  e13 = [s for s in results["slopes"] if s["name"].startswith("E1.3")]
  assert alone["slopes"] == e13 and len(e13) == 5
  assert alone["curves"] == [c for c in results["curves"] if c["study"] == "E1.3"]


def test_phase_slopes_are_named_as_the_plots_read_them(tiny_run):
  results, _, _, _ = tiny_run
  names = {s["name"] for s in results["slopes"]}
  assert {variance.phase_slope_name(r, g) for r, g in variance.PHASE_PAIRS} <= names


def run_module(*args, timeout=600):
  return subprocess.run([sys.executable, "-m", "experiments.krr_inverse", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=timeout, check=False)


def test_command_line(tmp_path):
  out = tmp_path / "run"
  proc = run_module("--flagfile=experiments/flags/krr_inverse_smoke.flags", "--studies=phase",
                    "--ns=16,32,64", "--ns_independence=16,32,64", "--b2_max_n=64",
                    "--saturation_n=64", "--bias_variance_n=64", "--modes=512",
                    "--num_designs=2", "--num_noise=2", f"--workdir={out}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((out / "results.json").read_text())
  assert len(results["slopes"]) == len(variance.PHASE_PAIRS) + 1      # + the log boundary
  assert all(s["tol"] in (0.2, 0.4) for s in results["slopes"])        # smoke: tolerances x2
  assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
  config = json.loads((out / "config.json").read_text())
  assert config["config"]["ns"] == [16, 32, 64] and config["config"]["num_lams"] == 23
  assert (out / "plots" / "phase_diagram.png").exists()
  bad = run_module("--config=smoke", "--modes=100", f"--workdir={tmp_path / 'bad'}",
                   timeout=120)
  assert bad.returncode == 2 and "--modes: must be >= 8 x the largest n" in bad.stderr
  assert not (tmp_path / "bad").exists()
