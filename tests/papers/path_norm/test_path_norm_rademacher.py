"""The Rademacher estimator of the path-norm ball (E3.1): the single-atom identity against an
exact brute force in d = 2 (nested groups of points), the sanity gate, the sign weights, and
bad input named."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.models import two_layer
from jaxlab.papers.path_norm import data, rademacher


def _fibonacci_sphere(num: int) -> np.ndarray:
  i = np.arange(num) + 0.5
  z = 1 - 2 * i / num
  phi = np.pi * (1 + 5**0.5) * i
  r = np.sqrt(1 - z**2)
  return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _normalise(w):
  norms = np.linalg.norm(w, axis=-1, keepdims=True)
  keep = norms[:, 0] > 1e-14
  return w[keep] / norms[keep]


def brute_force_max(x: np.ndarray, v: np.ndarray, grid: int = 50_000) -> float:
  """max_{||w|| = 1} |sum_i v_i relu(w . x_i)| for x in R^3, exactly: g is linear, c_A . w, on
  each cell A of the great-circle arrangement {w . x_i = 0}, so its maximum over the sphere is
  at c_A / |c_A| inside a cell, at the normalised projection of c_A onto a circle's plane on
  an edge, or at a vertex +-x_i x x_j. The cells are those a fine grid visits; every
  candidate's value is evaluated directly."""
  grid_w = _fibonacci_sphere(grid)
  patterns = np.unique(grid_w @ x.T > 0, axis=0)                          # (P, n) cells
  c = (patterns * v[None, :]) @ x                                         # (P, 3)
  cands = [grid_w, _normalise(c), -_normalise(c)]
  for j in range(x.shape[0]):
    u = x[j] / np.linalg.norm(x[j])
    proj = c - (c @ u)[:, None] * u[None, :]
    cands += [_normalise(proj), -_normalise(proj)]
  pairs = np.array([np.cross(x[i], x[j]) for i, j in itertools.combinations(range(len(x)), 2)])
  cands += [_normalise(pairs), -_normalise(pairs)]
  w = np.concatenate(cands)
  return float(np.max(np.abs(np.maximum(w @ x.T, 0.0) @ v)))


@pytest.fixture(scope="module")
def d2_problems():
  """8 problems in d = 2 (4 sign draws at each of the nested n = 16, 32), their estimates
  (one compiled call) and their exact maxima by brute force."""
  with jax.enable_x64(True):
    ns = (16, 32)
    x = data.inputs(jax.random.key(0), ns[-1], 2)                         # (32, 3)
    weights = rademacher.sign_weights(jax.random.key(1), 4, ns, ns[-1])
    est = jax.jit(lambda k, x, w: rademacher.estimate(
        k, x, w, ns=ns, num_directions=2000, refine_steps=150))(jax.random.key(2), x, weights)
    flat = np.asarray(weights).reshape(-1, ns[-1])
    used = [n for n in ns for _ in range(4)]           # the points each problem uses
    exact = np.array([brute_force_max(np.asarray(x)[:n], v[:n]) for n, v in zip(used, flat)])
    return x, flat, est, exact


def test_estimate_equals_the_brute_force_maximum_in_d2(x64, d2_problems):
  """Nested groups (the first n of the points) are refined on their own points: every
  estimate matches the exact maximum over those points, from below."""
  x, flat, est, exact = d2_problems
  value = np.asarray(est.value)
  assert np.all(value <= exact + 1e-12)                 # an estimate from below, never above
  np.testing.assert_allclose(value, exact, rtol=1e-3)
  assert np.mean(np.abs(value - exact) / exact) < 2e-4
  # the atom attains its value: (1/n) sum eps_i f_atom(x_i) = estimate (R = 1)
  atoms = rademacher.atom(est)
  attained = [v @ two_layer.apply(two_layer.Params(w, a), x)
              for w, a, v in zip(atoms.w, atoms.a, flat)]
  np.testing.assert_allclose(attained, value, rtol=1e-12)


@pytest.mark.slow  # the sanity gate's code runs in test_one_part_end_to_end; ascend in the
# whole-study test
def test_no_network_of_any_width_beats_the_single_atom(x64, d2_problems):
  """The identity: sup over ||theta||_P <= 1 of (1/n) sum eps_i f(x_i) is the single-atom
  maximum, for every width: random networks and networks trained by gradient ascent with the
  feasibility rescaling stay below the brute-force maximum."""
  x, flat, _, exact = d2_problems
  v, exact = jnp.asarray(flat[-1]), exact[-1]          # a problem on all 32 points
  nets = rademacher.random_networks(jax.random.key(5), 20, (1, 16, 256), 3)
  np.testing.assert_allclose(jax.vmap(lambda w, a: jnp.sum(jnp.abs(a) * jnp.linalg.norm(
      w, axis=-1)))(nets.w, nets.a), 1.0, rtol=1e-13)
  corr = rademacher.network_correlations(nets, x, v[None, :])
  assert float(jnp.max(jnp.abs(corr))) <= exact
  weights = jnp.tile(v[None, :], (3, 1))
  ascended = jax.jit(lambda p, w: rademacher.ascend(p, x, w, steps=150, learning_rate=0.05))(
      rademacher.random_networks(jax.random.key(6), 1, (1, 8, 64), 3), weights)
  assert float(jnp.max(ascended)) <= exact + 1e-12
  assert float(jnp.max(ascended)) > 0.5 * exact          # the ascent does climb


def test_sign_weights_are_signs_over_n_on_the_first_n_points(x64):
  w = np.asarray(rademacher.sign_weights(jax.random.key(10), 5, (4, 8), 8))
  assert w.shape == (2, 5, 8)
  np.testing.assert_array_equal(np.abs(w[0, :, :4]), 0.25)
  np.testing.assert_array_equal(w[0, :, 4:], 0.0)
  np.testing.assert_array_equal(np.abs(w[1]), 0.125)
  assert np.any(w[0] > 0) and np.any(w[0] < 0)


def test_bad_input_is_named():
  x = jnp.ones((8, 3))
  with pytest.raises(ValueError, match="^weights:"):
    rademacher.estimate(jax.random.key(0), x, jnp.ones((2, 7)))
  with pytest.raises(ValueError, match="^num_refine:"):
    rademacher.estimate(jax.random.key(0), x, jnp.ones((2, 8)), num_directions=5, num_refine=6)
  with pytest.raises(ValueError, match="^variant:"):
    rademacher.estimate(jax.random.key(0), x, jnp.ones((2, 8)), variant="l0")
  with pytest.raises(ValueError, match="^ns:"):
    rademacher.sign_weights(jax.random.key(0), 2, (4, 16), 8)
