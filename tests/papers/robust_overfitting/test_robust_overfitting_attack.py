"""PGD of the shared adversarial core against the constructed networks: it finds no adversarial
training example where the exact computation says there is none, and finds one where there is."""

import jax
import numpy as np

from jaxlab.papers.robust_overfitting import attack, construction, data, exact_1d, exact_2d
from jaxlab.papers.robust_overfitting import network

BANDS = data.Bands(frequency=2, band=0.025, ramp=0.0125, noise=0.2)


def _pgd(c, x, y, key):
  model, params = network.classifier_network(c)
  return attack.pgd_errors(model, params, x, y, key, delta=c.bumps.delta, steps=20,
                           restarts=10)


def test_pgd_agrees_with_the_exact_adversarial_training_error_in_1d(x64):
  del x64
  x, _, y = data.sample(jax.random.key(0), 128, BANDS, dim=1)
  tight = construction.classifier(x, y, BANDS, delta=1e-6, w=1e-6, margin=1.0)
  exact = exact_1d.ball_errors(exact_1d.sign_sets(construction.as_piecewise_linear(tight)),
                               x[:, 0], y, 1e-6)
  assert construction.separation_violations(x, y, tight) == 0 and not exact.any()
  found, x_adv = _pgd(tight, x, y, jax.random.key(1))
  assert not found.any()
  assert np.all(np.abs(x_adv - x) <= 1e-6 * (1 + 1e-9))
  # wide bumps break the separation condition: the exact count is > 0 and PGD finds them
  loose = construction.classifier(x, y, BANDS, delta=4e-3, w=4e-3, margin=1.0)
  exact = exact_1d.ball_errors(exact_1d.sign_sets(construction.as_piecewise_linear(loose)),
                               x[:, 0], y, 4e-3)
  assert construction.separation_violations(x, y, loose) > 0 and exact.sum() >= 3
  found, x_adv = _pgd(loose, x, y, jax.random.key(2))
  assert found.sum() >= 1 and not np.any(found & ~exact)
  assert np.all(attack.network_wrong(construction.value(loose, x_adv[found]), y[found]))
  # the construction itself interpolates: no bump point is attackable from its own label
  assert not np.any(found[loose.fit] & ~exact[loose.fit])


def test_pgd_agrees_with_the_exact_adversarial_training_error_in_2d(x64):
  del x64
  bands = data.Bands(frequency=2, band=0.025, ramp=0.01, noise=0.1)
  x, _, y = data.sample(jax.random.key(3), 120, bands, dim=2)
  tight = construction.classifier(x, y, bands, delta=5e-4, w=5e-4, margin=1.0)
  assert construction.separation_violations(x, y, tight) == 0
  assert not exact_2d.ball_errors(tight, x, y).any()
  found, _ = _pgd(tight, x, y, jax.random.key(4))
  assert not found.any()
  loose = construction.classifier(x, y, bands, delta=0.012, w=0.03, margin=1.0)
  exact = exact_2d.ball_errors(loose, x, y)
  assert exact.sum() >= 1
  found, x_adv = _pgd(loose, x, y, jax.random.key(5))
  assert found.sum() >= 1 and not np.any(found & ~exact)
  assert np.all(attack.network_wrong(construction.value(loose, x_adv[found]), y[found]))
