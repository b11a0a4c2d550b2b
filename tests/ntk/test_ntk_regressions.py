"""Regression tests of issue 21's bugs in what jaxlab.ntk already claimed (each failed on
main before the fix; neural-tangents 0.6.5 passes the same cases)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ntk
from jaxlab.ntk import stax


def _x(key, shape):
  return jax.random.normal(jax.random.key(key), shape, jnp.float64)


def test_nested_parallel_inputs_are_unpacked_at_every_level(x64):
  a = stax.serial(stax.Dense(8, W_std=1.3, b_std=0.1), stax.Relu(), stax.Dense(1))
  b = stax.serial(stax.Dense(8, W_std=0.7), stax.Erf(), stax.Dense(1))
  c = stax.Dense(1, W_std=1.1, b_std=0.3)
  xa, xb, xc = _x(0, (3, 4)), _x(1, (3, 5)), _x(2, (3, 2))
  ya, yb, yc = _x(3, (2, 4)), _x(4, (2, 5)), _x(5, (2, 2))
  nested = stax.parallel(stax.parallel(a, b), c)[2]([[xa, xb], xc], [[ya, yb], yc], "ntk")
  assert isinstance(nested, list) and isinstance(nested[0], list)
  for got, (net, x, y) in zip([nested[0][0], nested[0][1], nested[1]],
                              [(a, xa, ya), (b, xb, yb), (c, xc, yc)]):
    np.testing.assert_allclose(got, net[2](x, y, "ntk"), rtol=1e-13)


def test_x2_tuple_of_nones_means_x2_equals_x1(x64):
  _, _, kernel_fn = stax.serial(stax.parallel(stax.Dense(4), stax.Dense(4)), stax.FanInSum(),
                                stax.Relu(), stax.Dense(1))
  x = (_x(0, (3, 4)), _x(1, (3, 4)))
  expected = kernel_fn(x, None)
  for x2 in ((None, None), [None, None]):
    got = kernel_fn(x, x2)
    np.testing.assert_allclose(got.ntk, expected.ntk, rtol=1e-14)
    assert got.cov2 is None


def test_vmap_axes_that_are_not_a_triple_are_in_and_out_axes(x64):
  # NT reads vmap_axes=(0, 0) as in_axes = out_axes = (0, 0) for a pair of inputs/outputs.
  w = _x(0, (4, 3))
  f = lambda p, x: (jnp.tanh(x[0] @ p), x[1] @ p)
  x = (_x(1, (5, 4)), _x(2, (5, 4)))
  for impl in (1, 2):
    got = ntk.empirical_ntk_fn(f, vmap_axes=(0, 0), implementation=impl)(x, None, w)
    expected = ntk.empirical_ntk_fn(f, vmap_axes=None, implementation=impl)(x, None, w)
    for g, e in zip(got, expected):
      np.testing.assert_allclose(g, e, rtol=1e-12)


@pytest.mark.parametrize("implementation", [0, 1, 2])
def test_zero_size_outputs_give_neural_tangents_results(x64, implementation):
  # NT: a traced empty output axis gives NaN (0 / 0), an untraced one an empty kernel.
  f = lambda p, x: x @ p
  x, p = _x(0, (3, 4)), jnp.zeros((4, 0), jnp.float64)
  traced = ntk.empirical_ntk_fn(f, implementation=implementation)(x, None, p)
  assert traced.shape == (3, 3) and np.all(np.isnan(traced))
  full = ntk.empirical_ntk_fn(f, trace_axes=(), implementation=implementation)(x, None, p)
  assert full.shape == (3, 3, 0, 0)


def test_channel_axis_one_on_flat_inputs_is_the_channel_last_layout(x64):
  x1, x2 = _x(0, (4, 6)), _x(1, (3, 6))
  ones = stax.serial(stax.Dense(8, W_std=1.2, b_std=0.1, channel_axis=1), stax.Relu(),
                     stax.Dense(2, channel_axis=1))
  last = stax.serial(stax.Dense(8, W_std=1.2, b_std=0.1), stax.Relu(), stax.Dense(2))
  np.testing.assert_allclose(ones[2](x1, x2, "ntk"), last[2](x1, x2, "ntk"), rtol=1e-14)
  _, params = last[0](jax.random.key(0), x1.shape)
  np.testing.assert_allclose(ones[1](params, x1), last[1](params, x1), rtol=1e-14)


def test_diagonal_batch_false_gives_covariances_of_all_pairs(x64):
  _, _, kernel_fn = stax.serial(stax.Conv(4, (2, 2), padding="SAME", b_std=0.1), stax.Relu(),
                                stax.Conv(4, (2, 2)))
  x1, x2 = _x(0, (3, 4, 3, 2)), _x(1, (2, 4, 3, 2))
  # One compilation for the four kernels (op by op costs ~4x the CPU).
  k, nngp1, nngp2, diag = jax.jit(lambda a, b: (
      kernel_fn(a, b, diagonal_batch=False), kernel_fn(a, None, "nngp"),
      kernel_fn(b, None, "nngp"), kernel_fn(a, b)))(x1, x2)
  assert not k.diagonal_batch and k.cov1.shape == (3, 3, 3, 3, 2, 2)
  np.testing.assert_allclose(k.cov1, nngp1, rtol=1e-13)
  np.testing.assert_allclose(k.cov2, nngp2, rtol=1e-13)
  np.testing.assert_allclose(k.ntk, diag.ntk, rtol=1e-14)
  np.testing.assert_allclose(np.einsum("aa...->a...", k.cov1), diag.cov1, rtol=1e-13)


def test_batching_a_stax_kernel_fn_with_get_none_tiles_the_kernel(x64):
  _, _, kernel_fn = stax.serial(stax.Dense(8, b_std=0.2), stax.Relu(), stax.Dense(1))
  x1, x2 = _x(0, (7, 3)), _x(1, (5, 3))
  for x2_ in (None, x2):
    expected = kernel_fn(x1, x2_)
    got = ntk.batch(kernel_fn, batch_size=2, device_count=0)(x1, x2_)
    assert isinstance(got, ntk.Kernel) and got.shape1 == expected.shape1
    for field in ("nngp", "ntk", "cov1", "cov2"):
      if getattr(expected, field) is None:
        assert getattr(got, field) is None
      else:
        # Coincident inputs sit on the arc-cosine kernel's square-root kink, where tiles
        # and the whole batch round differently (relative 1e-9).
        np.testing.assert_allclose(getattr(got, field), getattr(expected, field), rtol=1e-8)
