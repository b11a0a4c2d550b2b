"""Path norm of two-layer ReLU networks (arXiv 2404.18769): rescaling invariance, balancing and
the weight-decay equivalence, the feasibility rescaling as an optax transformation in a real
run, balance at a weight-decay stationary point, bounds, and bad input named."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab.data import synthetic
from jaxlab.models import path_norm, two_layer


def _data(key, n=64, d=3):
  k_x, k_t, k_n = jax.random.split(key, 3)
  x = two_layer.with_bias_coordinate(synthetic.sphere(k_x, n, d, dtype=jnp.float64))
  teacher = synthetic.relu_teacher(k_t, d + 1, units=3, dtype=jnp.float64)
  y = synthetic.relu_teacher_apply(teacher, x) + 0.1 * jax.random.normal(k_n, (n,), jnp.float64)
  return x, y


def _numpy_path_norm(params, q):
  w, a = np.asarray(params.w), np.asarray(params.a)
  return float(np.sum(np.abs(a) * np.linalg.norm(w, ord=q, axis=1)))


@pytest.mark.parametrize("variant, q", [("l2", 2), ("l1", 1)])
def test_path_norm_and_f_invariant_under_rescaling(x64, variant, q):
  params = two_layer.init(jax.random.key(0), 5, 40)
  x, _ = _data(jax.random.key(1), d=4)
  c = jnp.exp(jax.random.uniform(jax.random.key(2), (40,), jnp.float64, -3.0, 3.0))
  rescaled = path_norm.rescale_neurons(params, c)
  norm = jax.jit(path_norm.path_norm, static_argnums=1)
  assert float(norm(params, variant)) == pytest.approx(_numpy_path_norm(params, q), rel=1e-14)
  np.testing.assert_allclose(norm(rescaled, variant), norm(params, variant), rtol=1e-12)
  np.testing.assert_allclose(two_layer.apply(rescaled, x), two_layer.apply(params, x),
                             rtol=1e-12, atol=1e-14)
  assert not np.allclose(rescaled.w, params.w)   # the parameters did change


@pytest.mark.parametrize("variant", ["l2", "l1"])
def test_balance_minimises_the_penalty_and_keeps_f(x64, variant):
  params = two_layer.init(jax.random.key(3), 4, 30)
  params = params._replace(a=params.a.at[0].set(0.0))           # a dead neuron
  x, _ = _data(jax.random.key(4))
  bal = path_norm.balance(params, variant)
  w_norms = path_norm.neuron_norms(bal.w, variant)
  np.testing.assert_allclose(jnp.abs(bal.a), w_norms, rtol=1e-13)
  assert float(bal.a[0]) == 0.0 and float(w_norms[0]) == 0.0
  np.testing.assert_allclose(two_layer.apply(bal, x), two_layer.apply(params, x), rtol=1e-12,
                             atol=1e-14)
  pn = path_norm.path_norm(params, variant)
  # penalty = path norm exactly when balanced, and above it otherwise (AM-GM)
  np.testing.assert_allclose(path_norm.penalty(bal, variant), pn, rtol=1e-13)
  assert float(path_norm.penalty(params, variant)) > float(pn) * (1 + 1e-3)
  # brute force over one neuron's rescalings: the minimum of (a^2 / c^2 + c^2 |w|^2) / 2 over
  # a grid of c is attained at the balanced c and equals |a| |w|
  a, nw = float(params.a[1]), float(path_norm.neuron_norms(params.w, variant)[1])
  cs = np.exp(np.linspace(-4, 4, 200001))
  grid = 0.5 * (a**2 / cs**2 + cs**2 * nw**2)
  assert grid.min() == pytest.approx(abs(a) * nw, rel=1e-8)
  assert cs[grid.argmin()] == pytest.approx(math.sqrt(abs(a) / nw), rel=1e-4)


def test_weight_decay_and_path_norm_objectives_have_equal_values(x64):
  """min_theta L + lam/2 ||theta||^2 = min_theta L + lam ||theta||_P: every theta's path-norm
  objective is attained by the weight-decay objective at balance(theta), and never beaten."""
  x, y = _data(jax.random.key(5))
  lam = 0.01

  def loss(p):
    return 0.5 * jnp.mean((two_layer.apply(p, x) - y) ** 2)

  for seed in range(3):
    params = two_layer.init(jax.random.key(10 + seed), 4, 16, scale=2.0)
    with_path = loss(params) + lam * path_norm.path_norm(params)
    with_wd = loss(path_norm.balance(params)) + lam * path_norm.penalty(path_norm.balance(params))
    np.testing.assert_allclose(with_wd, with_path, rtol=1e-13)
    assert float(loss(params) + lam * path_norm.penalty(params)) >= float(with_path)


@pytest.mark.parametrize("container", ["params", "flax"])
def test_constraint_wrapper_keeps_the_ball_in_a_real_optax_run(x64, container):
  x, y = _data(jax.random.key(6), n=128)
  radius = 0.5
  params = two_layer.init(jax.random.key(7), 4, 32, scale=3.0)
  if container == "flax":
    params = {"params": {"w": params.w, "a": params.a}}
  inner = optax.chain(optax.clip_by_global_norm(10.0), optax.adam(0.05))
  tx = path_norm.path_norm_constraint(inner, radius)

  def loss(p):
    return 0.5 * jnp.mean((two_layer.apply(p, x) - y) ** 2)

  @jax.jit
  def step(p, state):
    grads = jax.grad(loss)(p)
    with jax.numpy_dtype_promotion("standard"):              # optax's int32 count
      free, _ = inner.update(grads, state, p)                   # the unconstrained step
    updates, state = tx.update(grads, state, p)
    return optax.apply_updates(p, updates), optax.apply_updates(p, free), state

  state = tx.init(params)
  first = float(path_norm.path_norm(params))
  assert first > radius            # the first step has to rescale
  for _ in range(60):
    params, free, state = step(params, state)
    norm = float(path_norm.path_norm(params))
    assert norm <= radius * (1 + 1e-12)
    w, a = two_layer.weights(params)
    w_free, a_free = two_layer.weights(free)
    np.testing.assert_allclose(w, w_free, rtol=1e-14, atol=1e-15)  # w is not touched
    ratio = a / a_free                                       # one positive factor for all a
    assert float(ratio.min()) > 0 and float(ratio.max() - ratio.min()) < 1e-12
    # hence the activation patterns and the sign of f are those of the unconstrained step
    np.testing.assert_array_equal(x @ w.T > 0, x @ w_free.T > 0)
    np.testing.assert_array_equal(two_layer.apply(params, x) > 0,
                                  two_layer.apply(free, x) > 0)
  assert norm == pytest.approx(radius, rel=1e-12)     # the data pull the norm to the boundary
  assert float(loss(params)) < 0.5 * float(jnp.mean(y**2))


def test_constraint_with_traced_radius_and_infinity(x64):
  params = two_layer.init(jax.random.key(8), 3, 10, scale=3.0)
  radii = jnp.array([0.1, 1.0, jnp.inf])
  out = jax.vmap(lambda r: path_norm.rescale_to_ball(params, r))(radii)
  norms = jax.vmap(path_norm.path_norm)(out)
  original = float(path_norm.path_norm(params))
  assert original > 1.0
  np.testing.assert_allclose(norms, [0.1, 1.0, original], rtol=1e-13)
  np.testing.assert_array_equal(out.w[2], params.w)
  np.testing.assert_array_equal(out.a[2], params.a)


def test_stationary_points_of_weight_decay_are_balanced(x64):
  """At a stationary point of L + (lam/2)||theta||^2, w_k . dJ/dw_k - a_k dJ/da_k =
  lam (||w_k||^2 - a_k^2) = 0, so |a_k| = ||w_k|| (spec E3.5): train to stationarity with
  Adam (whose path does not conserve the balance) and check."""
  x, y = _data(jax.random.key(9), n=48, d=2)
  lam = 0.02
  params = two_layer.init(jax.random.key(10), 3, 8, scale=1.5)

  def objective(p):
    return 0.5 * jnp.mean((two_layer.apply(p, x) - y) ** 2) + lam * path_norm.penalty(p)

  tx = optax.adam(optax.cosine_decay_schedule(1e-2, 6000, alpha=1e-3))

  @jax.jit
  def train(p):
    def body(_, carry):
      p, s = carry
      with jax.numpy_dtype_promotion("standard"):            # optax's int32 count
        u, s = tx.update(jax.grad(objective)(p), s, p)
      return optax.apply_updates(p, u), s
    return jax.lax.fori_loop(0, 6000, body, (p, tx.init(p)))[0]

  params = train(params)
  grad = jax.grad(objective)(params)
  assert float(optax.tree.norm(grad)) < 1e-6           # a stationary point
  norms = path_norm.neuron_norms(params.w)
  active = norms > 1e-3
  assert int(active.sum()) >= 2
  np.testing.assert_allclose(jnp.abs(params.a)[active], norms[active], atol=1e-3)
  # before training, the neurons were far from balanced
  init = two_layer.init(jax.random.key(10), 3, 8, scale=1.5)
  assert float(jnp.max(jnp.abs(jnp.abs(init.a) - path_norm.neuron_norms(init.w)))) > 0.1


def test_product_norm_grows_with_width_at_fixed_path_norm(x64):
  """m copies of the neuron (a / m, w): path norm |a| ||w|| for every m, product norm
  ||a||_2 sum ||w_k|| = sqrt(m) |a| ||w||."""
  w, a = jnp.array([[0.6, 0.8, 0.0]]), jnp.array([2.0])
  for m in (1, 4, 64):
    p = two_layer.Params(jnp.tile(w, (m, 1)), jnp.tile(a / m, m))
    np.testing.assert_allclose(path_norm.path_norm(p), 2.0, rtol=1e-14)
    np.testing.assert_allclose(path_norm.product_norm(p), 2.0 * math.sqrt(m), rtol=1e-14)


def test_rademacher_bounds():
  assert path_norm.rademacher_bound(512, 2.0) == pytest.approx(2 * 2 / math.sqrt(512))
  assert path_norm.rademacher_bound(512, 2.0, "l1", 6) == pytest.approx(
      2 * 2 * math.sqrt(2 * math.log(12) / 512))


def test_bad_input_is_refused_with_the_argument_name():
  params = two_layer.init(jax.random.key(0), 3, 4)
  for radius in (0.0, -1.0, float("nan")):
    with pytest.raises(ValueError, match="^radius:"):
      path_norm.path_norm_constraint(optax.sgd(0.1), radius)
    with pytest.raises(ValueError, match="^radius:"):
      path_norm.rescale_to_ball(params, radius)
  with pytest.raises(ValueError, match="^variant: .*'linf'.*l2, l1"):
    path_norm.path_norm(params, "linf")
  with pytest.raises(ValueError, match="^variant:"):
    path_norm.path_norm_constraint(optax.sgd(0.1), 1.0, variant="l3")
  with pytest.raises(ValueError, match="^input_dim:"):
    path_norm.rademacher_bound(100, 1.0, "l1", 0)
  tx = path_norm.path_norm_constraint(optax.sgd(0.1), 1.0)
  with pytest.raises(ValueError, match="^params:"):
    tx.update(params, tx.init(params))
