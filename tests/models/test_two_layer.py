"""The two-layer ReLU network: the pure (init, apply) pair and the Flax module agree, against a
direct numpy computation; the bias coordinate; bad arguments are named."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.models import two_layer


def test_apply_matches_numpy_and_jits(dtype):
  key_x, key_p = jax.random.split(jax.random.key(0))
  x = two_layer.with_bias_coordinate(jax.random.normal(key_x, (7, 3)))
  params = two_layer.init(key_p, 4, 5)
  expected = np.maximum(np.asarray(x) @ np.asarray(params.w).T, 0.0) @ np.asarray(params.a)
  tol = 1e-12 if dtype == "float64" else 1e-5
  np.testing.assert_allclose(jax.jit(two_layer.apply)(params, x), expected, rtol=tol, atol=tol)
  assert params.w.dtype == jnp.dtype(dtype) and params.a.shape == (5,)


def test_bias_coordinate_maps_the_sphere_to_the_sphere(x64):
  x = jax.random.normal(jax.random.key(1), (50, 4), jnp.float64)
  x = x / jnp.linalg.norm(x, axis=1, keepdims=True)
  x_t = two_layer.with_bias_coordinate(x)
  np.testing.assert_allclose(jnp.linalg.norm(x_t, axis=1), 1.0, rtol=1e-14)
  np.testing.assert_allclose(x_t[:, -1], 2**-0.5, rtol=1e-15)
  np.testing.assert_allclose(x_t[:, :-1] * 2**0.5, x, rtol=1e-14)


def test_flax_module_is_the_pure_network(x64):
  x = two_layer.with_bias_coordinate(jax.random.normal(jax.random.key(2), (9, 2), jnp.float64))
  net = two_layer.TwoLayerReLU(width=6)
  variables = net.init(jax.random.key(3), x)
  assert variables["params"]["w"].shape == (6, 3) and variables["params"]["a"].shape == (6,)
  params = two_layer.as_params(variables)
  np.testing.assert_allclose(net.apply(variables, x), two_layer.apply(params, x), rtol=1e-14)
  # every accepted container gives the same weights, and with_weights keeps the container
  for container in (params, {"w": params.w, "a": params.a}, variables):
    w, a = two_layer.weights(container)
    np.testing.assert_array_equal(w, params.w)
    replaced = two_layer.with_weights(container, 2 * w, a)
    assert type(replaced) is type(container)
    np.testing.assert_array_equal(two_layer.weights(replaced)[0], 2 * params.w)


def test_init_scale_is_the_documented_variance(x64):
  params = two_layer.init(jax.random.key(4), 10, 4000, scale=2.0)
  # w_k ~ N(0, scale^2 I / D), a_k ~ N(0, scale^2 / m): 40k and 4k samples
  np.testing.assert_allclose(jnp.var(params.w), 4.0 / 10, rtol=0.03)
  np.testing.assert_allclose(jnp.var(params.a), 4.0 / 4000, rtol=0.1)


@pytest.mark.parametrize("kwargs, name", [
    (dict(input_dim=0, width=3), "input_dim"), (dict(input_dim=3, width=0), "width"),
    (dict(input_dim=3, width=2, scale=0.0), "scale")])
def test_bad_arguments_are_named(kwargs, name):
  with pytest.raises(ValueError, match=f"^{name}:"):
    two_layer.init(jax.random.key(0), **kwargs)


def test_bad_inputs_are_named():
  with pytest.raises(ValueError, match="^x: .*d >= 1"):
    two_layer.with_bias_coordinate(jnp.zeros((4, 0)))
  with pytest.raises(TypeError, match="^params:"):
    two_layer.weights({"kernel": jnp.zeros(3)})
