"""The robust-overfitting study on the skeleton: config refusals, an end-to-end run, resume,
and the exact analysis of a trained MLP (P4-D)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import common
from jaxlab import models
from jaxlab.models.config import ModelConfig
from jaxlab.papers import robust_overfitting
from jaxlab.papers.robust_overfitting import classification_1d, config, contrast, exact_1d
from jaxlab.papers.robust_overfitting import mlp_1d


@pytest.mark.parametrize("flag, field", [
    ("--classification_2d.delta=0.02", "classification_2d.delta"),
    ("--classification_1d.gap_deltas=1e-4,0.05", "classification_1d.gap_deltas"),
    ("--regression.noise_std=0", "regression.noise_std"),
    ("--parts=classification_1d,nope", "parts"),
    ("--pgd_at_contrast.model.name=cnn", "pgd_at_contrast.model.name"),
    ("--pgd_at_contrast.batch_size=100", "pgd_at_contrast.batch_size"),
    ("--regression.seeds=0,-1", "regression.seeds")])
def test_bad_flags_are_refused_naming_the_field(flag, field):
  with pytest.raises(common.ConfigError, match=f"^{field}: "):
    common.config_from_args(robust_overfitting.STUDY, ["--config=smoke", flag])


TINY = config.Config(
    parts=("classification_1d", "regression"),
    classification_1d=config.Classification1D(
        seeds=(0, 1), separation_ns=(64, 256), separation_scales=(0.1, 10.0), gap_ns=(64, 256),
        gap_deltas=(1e-5, 1e-4), family_n=64, family_ws=(1e-6, 1e-5), family_margins=(1.0,),
        level_ns=(64, 256, 1024), mc_n=256, mc_points=20_000, pgd_n=64, pgd_steps=5,
        pgd_restarts=5),
    regression=config.Regression(ns=(128, 256, 512), seeds=(0, 1)))


def test_study_runs_end_to_end_and_resumes_without_recomputing(tmp_path, monkeypatch):
  results = robust_overfitting.run(TINY, str(tmp_path))
  assert {"classification_1d", "regression", "checks", "slopes"} <= set(results)
  assert results["classification_2d"] is None and results["pgd_at_contrast"] is None
  assert results["failed"] == [n for n, c in results["checks"].items() if not c["pass"]]
  checks = results["checks"]
  for name in ("P4-A adversarial training error = 0 where separation holds",
               "P4-A disagreement from h = from the flipped set (exact)",
               "P4-A robust error from h = dilation / erosion of the flipped set",
               "P4-A PGD finds no adversarial training example where the exact count is 0",
               "P4-C adversarial training loss of every fitted point (max, exact)"):
    assert checks[name]["pass"], name
  assert checks["P4-C adversarial training loss of every fitted point (max, exact)"][
      "value"] < 1e-20
  stored = json.loads((tmp_path / "results.json").read_text())
  assert stored["checks"] == json.loads(json.dumps(checks))
  for name in ("robust_gap", "errors_vs_w", "perturbation_level", "regression",
               "construction_1d"):
    assert (tmp_path / "plots" / f"{name}.png").exists()
  lines = (tmp_path / "parts.jsonl").read_text().splitlines()
  parts = [json.loads(line)["part"] for line in lines]
  assert parts == ["classification_1d", "regression"]

  def refuse(*args, **kwargs):
    raise AssertionError("a finished part ran again")

  monkeypatch.setattr(classification_1d, "run", refuse)
  resumed = robust_overfitting.run(TINY, str(tmp_path), resume=True)
  assert resumed["checks"] == results["checks"]
  assert resumed["regression"]["curves"] == results["regression"]["curves"]


def test_float64_scope_is_restored(tmp_path):
  before = jax.config.read("jax_enable_x64")
  robust_overfitting.run(dataclasses.replace(TINY, parts=("regression",)), str(tmp_path))
  assert jax.config.read("jax_enable_x64") == before


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_mlp_piecewise_linear_form_is_exact(x64, depth):
  del x64
  model = models.MLP(hidden=(32,) * depth, outputs=2)
  params = models.init(model, jax.random.key(depth), jnp.zeros((1, 1), jnp.float32))
  params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64),
                                  contrast.spread_kinks(params, jax.random.key(10 + depth)))
  h = mlp_1d.piecewise_linear(params)
  t = np.random.default_rng(depth).random(20_000)
  logits = np.asarray(model.apply(params, jnp.asarray(t[:, None])))
  np.testing.assert_allclose(h(t), logits[:, 1] - logits[:, 0], atol=1e-9)
  assert len(h.knots) > 10                      # the spread kinks are found inside [0, 1]


def test_contrast_part_runs_and_its_exact_accuracies_are_consistent(tmp_path):
  cfg = config.Contrast(n=16, batch_size=16, model=ModelConfig(name="mlp", width=16, depth=2),
                        num_epochs=20, eval_every=10, eval_steps=5, eval_restarts=2)
  result = contrast.run(cfg, jax.random.key(0))
  assert [p["epoch"] for p in result["curve"]] == [10, 20]
  for p in result["curve"]:
    assert p["robust_train_acc"] <= p["robust_train_acc_pgd"] + 1 / cfg.n
    assert 0.0 <= p["robust_test_acc"] <= p["clean_test_acc"] + 1e-12
  assert result["construction"]["robust_train_acc"] == 1.0
  assert result["g"]["robust_test_acc"] == pytest.approx(1 - cfg.bands.noise)
  assert exact_1d.support_length((np.array([0.0]), np.array([1.0])), cfg.bands) == \
      pytest.approx(1 - 4 * cfg.bands.frequency * cfg.bands.band)
