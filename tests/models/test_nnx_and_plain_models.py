"""jaxlab's functions take any `apply_fn(params, x)`: a Flax NNX module (through `nnx.split` /
`nnx.merge`) and a plain-JAX function go through the NTK engine, a soup and an attack, with
the same values as the equivalent explicit computation."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxlab import ntk
from jaxlab.adversarial import attacks
from jaxlab.soups.uniform import uniform_soup


class Net(nnx.Module):
  """A two-layer NNX classifier, 4 -> 8 -> 3."""

  def __init__(self, rngs: nnx.Rngs):
    self.hidden = nnx.Linear(4, 8, rngs=rngs)
    self.out = nnx.Linear(8, 3, rngs=rngs)

  def __call__(self, x):
    return self.out(jnp.tanh(self.hidden(x)))


def nnx_apply(seed):
  """(apply_fn, state) of an NNX module: `apply_fn(state, x)` merges and calls it."""
  graphdef, state = nnx.split(Net(nnx.Rngs(seed)))
  return (lambda state, x: nnx.merge(graphdef, state)(x)), state


def plain_apply(params, x):
  hidden = jnp.tanh(x @ params["w1"] + params["b1"][None])
  return hidden @ params["w2"] + params["b2"][None]


def plain_params(key):
  k1, k2 = jax.random.split(key)
  return {"w1": jax.random.normal(k1, (4, 8)) / 2, "b1": jnp.zeros(8),
          "w2": jax.random.normal(k2, (8, 3)) / 3, "b2": jnp.zeros(3)}


X = jax.random.uniform(jax.random.key(7), (5, 4))
Y = jnp.array([0, 1, 2, 0, 1], jnp.int32)


def explicit_ntk(apply_fn, params, x):
  """Theta = (1/O) sum_o J_o J_o^T from full Jacobians of the flattened outputs."""
  flat, unravel = jax.flatten_util.ravel_pytree(params)
  jac = jax.jacobian(lambda p: apply_fn(unravel(p), x))(flat)      # (N, O, P)
  return np.einsum("iop,jop->ij", jac, jac) / jac.shape[1]


def test_nnx_and_plain_models_through_the_ntk_engine():
  for apply_fn, params in (nnx_apply(0), (plain_apply, plain_params(jax.random.key(0)))):
    theta = ntk.empirical_ntk_fn(apply_fn, vmap_axes=0)(X, None, params)
    np.testing.assert_allclose(theta, explicit_ntk(apply_fn, params, X), rtol=1e-4, atol=1e-5)


def test_nnx_and_plain_models_through_a_soup():
  for make in (lambda s: nnx_apply(s)[1], lambda s: plain_params(jax.random.key(s))):
    ingredients = [make(s) for s in range(3)]
    soup = uniform_soup(ingredients).params
    mean = jax.tree.map(lambda *leaves: sum(leaves) / 3, *ingredients)
    for a, b in zip(jax.tree.leaves(soup), jax.tree.leaves(mean)):
      np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  apply_fn, _ = nnx_apply(0)  # the NNX soup is a state the module merges and runs
  soup = uniform_soup([nnx_apply(s)[1] for s in range(3)]).params
  assert apply_fn(soup, X).shape == (5, 3)


def test_nnx_and_plain_models_through_an_attack():
  for apply_fn, params in (nnx_apply(1), (plain_apply, plain_params(jax.random.key(1)))):
    x_adv = attacks.fgsm(apply_fn, params, X, Y, 0.1)
    grad = jax.grad(lambda x: jnp.sum(jax.vmap(
        lambda xi, yi: -jax.nn.log_softmax(apply_fn(params, xi[None])[0])[yi])(x, Y)))(X)
    expected = jnp.clip(X + 0.1 * jnp.sign(grad), 0.0, 1.0)
    np.testing.assert_allclose(x_adv, expected, atol=1e-6)
    assert float(attacks.accuracy(apply_fn, params, x_adv, Y)) <= float(
        attacks.accuracy(apply_fn, params, X, Y))
