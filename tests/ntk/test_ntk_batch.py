"""`ntk.batch` over 8 host CPU devices (tests/conftest.py): analytic, empirical and Monte
Carlo kernel functions equal their unbatched values, for every tiling and device count."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ntk
from jaxlab.ntk import stax


def _x(key, shape):
  return jax.random.normal(jax.random.key(key), shape, jnp.float64)


def test_eight_host_devices_are_available():
  assert jax.local_device_count() == 8


@pytest.mark.parametrize("batch_size,device_count", [(2, -1), (3, 4)])
def test_analytic_kernels_over_devices_equal_the_whole_kernel(x64, batch_size, device_count):
  # (2, -1): 8 devices x 2 rows, x1's 11 rows padded to 16; (3, 4): two row blocks of 12.
  _, _, kernel_fn = stax.serial(stax.Conv(3, (2, 2), padding="SAME", b_std=0.1), stax.Erf(),
                                stax.AvgPool((2, 1)), stax.Flatten(), stax.Dense(1))
  x1, x2 = _x(0, (11, 2, 2, 1)), _x(1, (5, 2, 2, 1))
  expected = kernel_fn(x1, x2)
  batched = ntk.batch(kernel_fn, batch_size, device_count)
  got = batched(x1, x2)
  for field in ("nngp", "ntk", "cov1", "cov2"):
    np.testing.assert_allclose(getattr(got, field), getattr(expected, field), rtol=1e-12)


def test_store_on_device_false_keeps_tiles_in_host_memory(x64):
  _, _, kernel_fn = stax.serial(stax.Dense(8, b_std=0.1), stax.Gelu(), stax.Dense(1))
  x1 = _x(0, (9, 3))
  got = ntk.batch(kernel_fn, 2, -1, store_on_device=False)(x1, None)   # a Kernel, x2 = x1
  expected = kernel_fn(x1, None)
  assert got.ntk.devices() == {jax.devices("cpu")[0]} and got.cov2 is None
  for field in ("nngp", "ntk", "cov1"):
    np.testing.assert_allclose(getattr(got, field), getattr(expected, field), rtol=1e-12)


def test_empirical_kernels_over_devices_equal_the_whole_kernel(x64):
  init_fn, apply_fn, _ = stax.serial(stax.Dense(16), stax.Relu(), stax.Dense(3))
  x1, x2 = _x(0, (10, 4)), _x(1, (7, 4))
  _, params = init_fn(jax.random.key(2), x1.shape)
  params = jax.tree_util.tree_map(lambda a: None if a is None else a.astype(jnp.float64),
                                  params)
  ntk_fn = ntk.empirical_ntk_fn(apply_fn, vmap_axes=0)
  kernel_fn = ntk.empirical_kernel_fn(apply_fn, trace_axes=(), vmap_axes=0)
  np.testing.assert_allclose(ntk.batch(ntk_fn, 2)(x1, x2, params), ntk_fn(x1, x2, params),
                             rtol=1e-12)
  got = ntk.batch(kernel_fn, 3, 4)(x1, None, ("nngp", "ntk"), params)
  expected = kernel_fn(x1, None, ("nngp", "ntk"), params)
  assert got.ntk.shape == (10, 10, 3, 3)
  np.testing.assert_allclose(got.ntk, expected.ntk, rtol=1e-12)
  np.testing.assert_allclose(got.nngp, expected.nngp, rtol=1e-12)


def test_monte_carlo_kernels_over_devices_equal_one_device(x64):
  init_fn, apply_fn, _ = stax.serial(stax.Dense(16, b_std=0.1), stax.Relu(), stax.Dense(2))
  x1, x2 = _x(0, (9, 3)), _x(1, (4, 3))
  key = jax.random.key(3)
  one = ntk.monte_carlo_kernel_fn(init_fn, apply_fn, key, 2, device_count=0,
                                  vmap_axes=0)(x1, x2, ("nngp", "ntk"))
  got = ntk.monte_carlo_kernel_fn(init_fn, apply_fn, key, 2, batch_size=2, device_count=4,
                                  vmap_axes=0)(x1, x2, ("nngp", "ntk"))
  np.testing.assert_allclose(got.ntk, one.ntk, rtol=1e-10)
  np.testing.assert_allclose(got.nngp, one.nngp, rtol=1e-10)


def test_bad_batch_arguments_are_named():
  kernel_fn = stax.Dense(1)[2]
  with pytest.raises(ValueError, match="batch_size"):
    ntk.batch(kernel_fn, -1)
  with pytest.raises(ValueError, match="device_count"):
    ntk.batch(kernel_fn, 2, device_count=99)
