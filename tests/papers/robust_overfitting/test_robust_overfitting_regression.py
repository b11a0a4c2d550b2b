"""P4-C: the interpolating regressor, its exact risks and its network."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import models
from jaxlab.papers.robust_overfitting import network, regression
from jaxlab.papers.robust_overfitting import piecewise_linear as pl
from jaxlab.papers.robust_overfitting.piecewise_linear import PiecewiseLinear


def test_excess_mse_of_a_line_matches_its_closed_form():
  a, b = 1.7, -0.4
  line = PiecewiseLinear(np.array([0.0, 0.3, 1.0]), np.array([b, b + 0.3 * a, a + b]))
  closed = a**2 / 3 + a * b + b**2 + 0.5 + a / np.pi      # int (a x + b - sin 2 pi x)^2
  assert regression.excess_mse(line) == pytest.approx(closed, rel=1e-13)


def test_least_squares_recovers_a_piecewise_linear_function():
  x = np.random.default_rng(0).random(500)
  truth = PiecewiseLinear(np.linspace(0, 1, 6), np.array([0.0, 1.0, -1.0, 0.5, 0.2, 2.0]))
  g = regression.least_squares_fit(x, truth(x), 6)
  np.testing.assert_allclose(g.values, truth.values, atol=1e-10)


@pytest.mark.parametrize("w, merge", [(1e-7, False), (2e-3, True)])
def test_interpolant_fits_every_ball_exactly_and_equals_g_elsewhere(w, merge):
  rng = np.random.default_rng(1)
  x, y = rng.random(400), rng.standard_normal(400)
  g = regression.least_squares_fit(x, y, 5)
  fit = regression.interpolate(g, x, y, delta=1e-7, w=w, merge=merge)
  assert fit.kept.all()
  losses = regression.adversarial_losses(fit, x, y)
  assert losses.max() <= 1e-28
  xs = np.sort(x)
  t = rng.random(20_000)
  far = np.min(np.abs(t[:, None] - xs[None]), axis=1) > 1e-7 + w
  np.testing.assert_allclose(fit.h(t[far]), g(t[far]), atol=1e-12)
  # on each ball, h is the constant y_i (check at interior points)
  inner = x + rng.uniform(-1, 1, 400) * 1e-7
  np.testing.assert_allclose(fit.h(inner), y, atol=1e-8)
  if merge:
    assert fit.clusters < 400 and fit.merged > 0


def test_interpolant_network_equals_the_piecewise_linear_form(x64):
  del x64
  rng = np.random.default_rng(2)
  x = rng.random(200)
  y = np.sin(2 * np.pi * x) + 0.3 * rng.standard_normal(200)
  g = regression.least_squares_fit(x, y, 7)
  fit = regression.interpolate(g, x, y, delta=1e-4, w=1e-4, merge=True)
  units = regression.relu_units(fit)
  model, params = network.mlp_from_units(units, outputs=1)
  t = np.concatenate([rng.random(3000), x])
  value = np.asarray(model.apply(params, jnp.asarray(t[:, None])))[:, 0]
  np.testing.assert_allclose(value, fit.h(t), atol=1e-9)
  assert models.num_params(params) == 3 * len(units.kinks) + 1
  # a cluster of q points has 2 q + 2 kinks (4 for a single point): linear in n
  corrections = 2 * int(fit.kept.sum()) + 2 * fit.clusters
  assert len(units.kinks) == len(pl.relu_units(g).kinks) + corrections


def test_sample_is_reproducible_and_has_the_noise_level():
  x, y = regression.sample(jax.random.key(3), 20_000, 0.3)
  x2, y2 = regression.sample(jax.random.key(3), 20_000, 0.3)
  assert np.array_equal(x, x2) and np.array_equal(y, y2)
  assert np.std(y - np.sin(2 * np.pi * x)) == pytest.approx(0.3, rel=0.03)
  assert 0 <= x.min() and x.max() < 1 and len(np.unique(x)) == len(x)
