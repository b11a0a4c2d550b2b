"""The construction of arXiv 2401.13624 as networks: trapezoids, min-trees, unit counts, the
networks against the analytic construction, and refusals of bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import models
from jaxlab.papers.robust_overfitting import construction, data, network, regression
from jaxlab.papers.robust_overfitting import piecewise_linear as pl

BANDS = data.Bands(frequency=2, band=0.025, ramp=0.0125, noise=0.2)
BANDS_2D = data.Bands(frequency=2, band=0.025, ramp=0.01, noise=0.1)


def _closed_form_trapezoid(t, c, delta, w):
  """1 on the plateau, 0 outside the support, linear on the ramps (written case by case)."""
  d = np.abs(t - c)
  return np.where(d <= delta, 1.0, np.where(d >= delta + w, 0.0, (delta + w - d) / w))


def test_trapezoid_relu_form_matches_its_closed_form_at_1e4_points():
  rng = np.random.default_rng(0)
  c, delta, w = 0.4, 0.01, 0.003
  t = rng.uniform(c - 2 * (delta + w), c + 2 * (delta + w), 10_000)
  units = pl.trapezoid_units(np.array([c]), delta, w)
  np.testing.assert_allclose(units(t), _closed_form_trapezoid(t, c, delta, w), atol=1e-12)
  np.testing.assert_allclose(pl.trapezoid_value(t, c, delta, w),
                             _closed_form_trapezoid(t, c, delta, w), atol=1e-15)
  assert np.any(units(t) == 0.0) and np.any(np.abs(units(t) - 1.0) < 1e-12)


def test_min_identity_and_min_tree_equal_jnp_min(x64):
  del x64
  rng = np.random.default_rng(1)
  a, b = rng.random(1000), rng.random(1000)
  np.testing.assert_allclose(a - np.maximum(a - b, 0.0), np.minimum(a, b), atol=2.3e-16)
  for d in (1, 2, 3, 5, 8):
    t = jnp.asarray(rng.random((500, d)))
    np.testing.assert_allclose(network.min_tree(t), jnp.min(t, axis=-1), atol=4.5e-16)


def test_relu_units_reproduce_a_piecewise_linear_function():
  f = pl.PiecewiseLinear(np.array([0.0, 0.2, 0.5, 0.7, 0.9, 1.0]),
                         np.array([1.0, -0.5, 2.0, 2.0, 2.0, 0.3]))
  t = np.random.default_rng(2).uniform(-0.2, 1.2, 5000)
  units = pl.relu_units(f)
  np.testing.assert_allclose(units(t), f(t), atol=1e-12)
  # one unit per slope change: the knot 0.7 inside the flat piece [0.5, 0.9] has none
  assert units.kinks.tolist() == [0.0, 0.2, 0.5, 0.9, 1.0]


def _training_set(n, dim, seed=0, bands=BANDS):
  return data.sample(jax.random.key(seed), n, bands, dim=dim)


def test_hidden_units_are_units_of_g_plus_four_per_bump(x64):
  del x64
  x, eta, y = _training_set(300, 1)
  c = construction.classifier(x, y, BANDS, delta=1e-5, w=2e-5, margin=1.0)
  assert len(c.fit) == int(np.sum(y != eta)) > 0     # g misfits exactly the noisy labels
  model, params = network.classifier_network(c)
  units_g = 2 * (2 * BANDS.frequency - 1)
  hidden = params["params"]["Dense_0"]["bias"].shape[0]
  assert hidden == units_g + 4 * len(c.fit) == network.hidden_units(c)
  assert models.num_params(params) == 4 * hidden + 2
  assert model.hidden == (hidden,)


def test_networks_equal_the_analytic_construction_at_random_points(x64):
  del x64
  rng = np.random.default_rng(3)
  x, _, y = _training_set(200, 1)
  c = construction.classifier(x, y, BANDS, delta=2e-3, w=1e-3, margin=0.5)
  model, params = network.classifier_network(c)
  pts = np.concatenate([rng.random((3000, 1)), c.bumps.centres + rng.uniform(
      -0.004, 0.004, c.bumps.centres.shape)])
  logits = np.asarray(model.apply(params, jnp.asarray(pts)))
  np.testing.assert_allclose(logits[:, 1] - logits[:, 0], construction.value(c, pts),
                             atol=1e-10)
  np.testing.assert_allclose(construction.as_piecewise_linear(c)(pts[:, 0]),
                             construction.value(c, pts), atol=1e-12)
  x2, _, y2 = _training_set(150, 2, bands=BANDS_2D)
  c2 = construction.classifier(x2, y2, BANDS_2D, delta=2e-3, w=3e-3, margin=1.0)
  model2, params2 = network.classifier_network(c2)
  pts2 = np.concatenate([rng.random((3000, 2)), c2.bumps.centres + rng.uniform(
      -0.006, 0.006, c2.bumps.centres.shape)])
  logits2 = np.asarray(model2.apply(params2, jnp.asarray(pts2)))
  np.testing.assert_allclose(logits2[:, 1] - logits2[:, 0], construction.value(c2, pts2),
                             atol=1e-10)
  # on the plateau of bump i, sign h = y_i; outside every support, h = g
  on = construction.value(c2, c2.bumps.centres + 0.9 * c2.bumps.delta)
  assert np.all(np.sign(on) == np.sign(c2.bumps.kappa))
  f = len(c2.fit)
  assert models.num_params(params2) == models.num_params(network.g_params_2d(c2)[1]) + 25 * f


def test_flip_radius_matches_the_exact_sign_change_of_an_isolated_bump(x64):
  del x64
  x = np.array([[0.1], [0.3]])
  y = np.array([-1.0, -1.0])                       # x = 0.1 has Bayes label +1: one bump
  c = construction.classifier(x, y, BANDS, delta=1e-3, w=2e-3, margin=3.0)
  r = construction.flip_radius(c)[0]
  assert r == pytest.approx(1e-3 + 2e-3 * 3.0 / 4.0)
  h = construction.as_piecewise_linear(c)
  assert h(0.1 + r - 1e-9) < 0 < h(0.1 + r + 1e-9)


@pytest.mark.parametrize("kwargs, name", [
    (dict(delta=0.0, w=1e-3), "delta"), (dict(delta=-1e-3, w=1e-3), "delta"),
    (dict(delta=1e-3, w=-1e-4), "w"), (dict(delta=1e-3, w=0.0), "w")])
def test_bad_widths_are_refused_naming_the_argument(kwargs, name):
  x, _, y = _training_set(20, 1)
  with pytest.raises(ValueError, match=f"^{name}: "):
    construction.classifier(x, y, BANDS, margin=1.0, **kwargs)
  g = regression.least_squares_fit(x[:, 0], y, 4)
  with pytest.raises(ValueError, match=f"^{name}: "):
    regression.interpolate(g, x[:, 0], y, merge=True, **kwargs)


def test_overlapping_balls_are_refused_without_merging():
  x = np.array([0.2, 0.2 + 1e-4, 0.7])
  y = np.array([0.5, -0.5, 0.1])
  g = regression.least_squares_fit(x, y, 2)
  with pytest.raises(ValueError, match="^merge: .*closer than 2 delta \\+ w"):
    regression.interpolate(g, x, y, delta=1e-4, w=1e-4, merge=False)
  fit = regression.interpolate(g, x, y, delta=1e-4, w=1e-4, merge=True)
  assert fit.kept.tolist() == [True, False, True]          # the balls themselves overlap
  with pytest.raises(ValueError, match="^margin: "):
    construction.classifier(x[:, None], np.sign(y), BANDS, delta=1e-4, w=1e-4, margin=0.0)
