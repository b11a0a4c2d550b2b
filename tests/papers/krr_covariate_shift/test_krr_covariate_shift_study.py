"""The krr_covariate_shift study (paper 3): presets, config errors naming the field, one key
per purpose (no key shared by two purposes), a tiny in-process run of every part (results
schema, the exact identities, float64 scope, plots) and the command line."""

import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxlab.experiment import ConfigError, gates
from jaxlab.papers import krr_covariate_shift
from jaxlab.papers.krr_covariate_shift import context, linearization, study

REPO = pathlib.Path(__file__).resolve().parents[3]

TINY = dict(ds_linearization=(20, 40), seeds_linearization=2, ds=(20, 40), surrogate_d=40,
            num_designs=2, num_test=200, explore_d=20, explore_ratios=(0.5, 2.0),
            num_bootstrap=50)


def test_presets():
  default, smoke = krr_covariate_shift.default(), krr_covariate_shift.smoke()
  assert default == krr_covariate_shift.Config()
  assert default.studies == smoke.studies == tuple(p.name for p in study.PARTS)
  assert (default.ds_linearization, default.num_designs, default.num_test) == (
      (100, 200, 400, 800, 1600), 5, 2000)
  assert (smoke.ds_linearization, smoke.seeds_linearization, smoke.num_designs,
          smoke.num_test, smoke.explore_ratios, smoke.level_tol_scale) == (
              (100, 200, 400), 2, 2, 1000, (0.5, 2.0), 1.5)


def test_config_errors_name_the_field():
  with pytest.raises(ConfigError, match="h: got 'tanh'"):
    krr_covariate_shift.Config(h="tanh")
  with pytest.raises(ConfigError, match="nlams: must start at 0"):
    krr_covariate_shift.Config(nlams=(0.1, 1.0))
  with pytest.raises(ConfigError, match="surrogate_d: must be one of ds"):
    krr_covariate_shift.Config(ds=(100, 200), surrogate_d=400)
  with pytest.raises(ConfigError, match="studies: got 'spectrum'"):
    krr_covariate_shift.Config(studies=("spectrum",))


def _data(key):
  return tuple(np.asarray(jax.random.key_data(key)).tolist())


def test_no_key_serves_two_purposes():
  """The first release drew E2.2's noise at d from fold_in(key, d) and E2.1's first bootstrap
  from fold_in(key, 100): the same key at d = 100. Now every purpose has its own stream."""
  ids = (list(context.DATA_STREAMS.values()) + [context.NOISE_STREAM] +
         [m.stream for m in linearization.MEASURES])
  assert len(set(ids)) == len(ids)
  keys = context.study_keys(0)
  bootstrap = {_data(jax.random.fold_in(keys.root, m.stream)) for m in linearization.MEASURES}
  streams = {_data(getattr(keys, name)) for name in context.DATA_STREAMS} | {_data(keys.noise)}
  noise = {_data(jax.random.fold_in(keys.noise, d)) for d in range(2, 2001)}
  assert len(bootstrap | streams | noise) == len(bootstrap) + len(streams) + len(noise)
  assert _data(jax.random.fold_in(keys.root, 100)) in bootstrap    # the old collision's key


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  """Every part at tiny sizes, in-process with float64 off."""
  previous = jax.config.read("jax_enable_x64")
  jax.config.update("jax_enable_x64", False)
  try:
    workdir = tmp_path_factory.mktemp("krr_cs") / "run"
    results = krr_covariate_shift.run(krr_covariate_shift.Config(**TINY), str(workdir))
    x64_after = jax.config.read("jax_enable_x64")
  finally:
    jax.config.update("jax_enable_x64", previous)
  return results, workdir, x64_after


def test_tiny_run_contract(tiny_run):
  results, workdir, x64_after = tiny_run
  assert x64_after is False                     # the float64 scope restored the setting
  assert {"curves", "slopes", "checks", "observations", "failed", "wall_s"} <= set(results)
  gates.check_schema(results["checks"])
  assert [s["name"] for s in results["slopes"]] == [linearization.slope_name(m)
                                                    for m in linearization.MEASURES]
  for s in results["slopes"]:
    assert s["pass"] == (abs(s["measured"] - s["predicted"]) <= s["tol"])
  assert results["failed"] == gates.failed(results["slopes"], results["checks"])
  for name in ("bias_variance", "linearization_spectra"):
    assert (workdir / "plots" / f"{name}.png").exists()


def test_tiny_run_identities_hold_exactly(tiny_run):
  results, _, _ = tiny_run
  identity = {n: c for n, c in results["checks"].items() if n.startswith("E2.2")}
  assert len(identity) == 4 and all(c["pass"] for c in identity.values())
  conditioning = next(c for n, c in identity.items() if "singular" in n)
  assert conditioning["value"] == 0 and set(conditioning["condition_numbers"]) == {"20", "40"}
  assert results["checks"]["E2.4 mu = 0: IW-KRR = KRR at every lambda and n/d in [0.5, 2.0]"
                           ]["value"] <= 1e-8
  curves = [c for c in results["curves"] if c["study"] == "E2.3" and c["nlam"] == 0.0]
  krr0 = {c["d"]: c for c in curves if c["estimator"] == "krr"}
  for c in curves:
    if c["estimator"] == "iw":
      assert c["variance"] == pytest.approx(krr0[c["d"]]["variance"], rel=1e-8)
      assert c["bias2"] == pytest.approx(krr0[c["d"]]["bias2"], rel=1e-8)


def test_tiny_run_spectra_are_logged_for_the_figure(tiny_run):
  results, workdir, _ = tiny_run
  line = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()
          if json.loads(l)["study"] == "E2.5"]
  assert len(line) == 1 and line[0]["d"] == 40
  ev_k = np.asarray(line[0]["eigenvalues_k"])
  assert ev_k.shape == (80,) and np.all(np.diff(ev_k) >= 0)            # n = 2d, ascending
  spectra = results["observations"]["E2.5 spectra (d = 40)"]
  assert spectra["lambda_min K"] == ev_k[0]
  # The smallest eigenvalue of K sits near the implicit ridge gamma_imp = e - 2 (h = exp).
  assert 0.2 * spectra["gamma_imp"] < ev_k[0] < spectra["gamma_imp"]


def run_module(*args, timeout=600):
  return subprocess.run([sys.executable, "-m", "experiments.krr_covariate_shift", *args],
                        cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def test_command_line(tmp_path):
  out = tmp_path / "run"
  proc = run_module("--flagfile=experiments/flags/krr_covariate_shift_smoke.flags",
                    "--studies=identities", "--ds=20,40", "--num_test=200", f"--workdir={out}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  results = json.loads((out / "results.json").read_text())
  assert len(results["checks"]) == 4 and not results["failed"]
  config = json.loads((out / "config.json").read_text())
  assert config["config"]["ds"] == [20, 40] and config["config"]["seeds_linearization"] == 2
  bad = run_module("--config=smoke", "--mu=5", f"--workdir={tmp_path / 'bad'}", timeout=120)
  assert bad.returncode == 2 and "--mu: must be in [0, 2]" in bad.stderr
  assert not (tmp_path / "bad").exists()
