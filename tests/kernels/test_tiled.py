"""Tiled, sharded kernel matrices and kernel-vector products (`jaxlab.kernels.tiled`) against
the direct `kernel(x1, x2)` on one device, on a mesh of the 8 host CPU devices (tests/conftest.py
sets --xla_force_host_platform_device_count=8)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from jaxlab.kernels import kernel_fns, tiled
from jaxlab.ntk import stax

KERNELS = {
    "rbf": kernel_fns.rbf(1.3),
    "laplace": kernel_fns.laplace(0.8),
    "matern52": kernel_fns.matern(2.5, 1.1),
    "stax_relu_ntk": kernel_fns.from_kernel_fn(
        stax.serial(stax.Dense(64), stax.Relu(), stax.Dense(1))[2], "ntk"),
}


def _tol(name):
  if name.startswith("stax"):
    # the arc-cosine kernel's angle, arccos(cos), is sqrt-sensitive at cos = 1: the kernel
    # itself is only sqrt(eps)-accurate on the diagonal, however it is evaluated
    return 1e-7
  return 1e-12


def _data(dtype, n=96, m=21, d=3):
  k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
  return (jax.random.normal(k1, (n, d), dtype), jax.random.normal(k2, (m, d), dtype),
          jax.random.normal(k3, (n, 2), dtype))


def _close(a, b, tol):
  a, b = np.asarray(a), np.asarray(b)
  np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("name", ["laplace", "stax_relu_ntk"])
def test_sharded_gram_equals_the_direct_kernel_on_8_devices(name, x64):
  del x64
  k = KERNELS[name]
  x, _, _ = _data("float64")
  # an Auto-axis mesh (tiled.row_mesh) and an Explicit-axis one (jax.make_mesh's default)
  mesh = tiled.row_mesh() if name == "stax_relu_ntk" else jax.make_mesh((4, 2), ("a", "b"))
  assert mesh.size == 8
  g = tiled.gram(k, x, tile_size=5, mesh=mesh)            # 12 rows per device: tiles 5, 5, 2+3
  _close(g, k(x), _tol(name))
  spec = PartitionSpec(mesh.axis_names)                   # rows over every axis of the mesh
  assert g.sharding.is_equivalent_to(NamedSharding(mesh, spec), 2)
  assert {s.data.shape for s in g.addressable_shards} == {(12, 96)}
  np.testing.assert_array_equal(np.asarray(g), np.asarray(g).T)
  if name == "laplace":
    # sqrt of the squared distance: the diagonal tiles come from kernel(x_tile), whose exact
    # zero self-distance gives exactly 1 (the expanded form would leave sqrt(eps) round-off)
    np.testing.assert_array_equal(np.diagonal(np.asarray(g)), np.ones(96))


def test_matvec_equals_the_dense_product(x64):
  # sharded matvecs: tests/kernels/test_ridge_cg.py (8 devices, uneven rows) and
  # tests/experiment/test_multihost.py (2 processes)
  del x64
  k = KERNELS["matern52"]
  x, x_test, v = _data("float64", n=101)                  # 101 rows: tiles of 6 are uneven
  _close(jax.jit(lambda x, v: tiled.matvec(k, x, v, tile_size=6))(x, v), k(x) @ v, 1e-12)
  _close(tiled.matvec(k, x_test, v[:, 0], x, tile_size=4), k(x_test, x) @ v[:, 0], 1e-12)


def test_matvec_never_forms_the_n_by_n_matrix():
  k = KERNELS["rbf"]
  n = 4096
  x = jnp.zeros((n, 3), jnp.float32)
  v = jnp.zeros((n,), jnp.float32)
  compiled = jax.jit(lambda x, v: tiled.matvec(k, x, v, tile_size=64)).lower(x, v).compile()
  temp = compiled.memory_analysis().temp_size_in_bytes
  assert temp < n * n * 4 / 16, temp        # the (n, n) Gram would be 64 MiB; one tile is 1 MiB


def test_bad_arguments_are_named():
  k = KERNELS["rbf"]
  x = jnp.ones((10, 2))
  with pytest.raises(ValueError, match="x1"):
    tiled.gram(k, jnp.ones(10))
  with pytest.raises(ValueError, match="x2"):
    tiled.gram(k, x, jnp.ones((4, 3)))
  with pytest.raises(ValueError, match="v:"):
    tiled.matvec(k, x, jnp.ones(9))
  with pytest.raises(ValueError, match="tile_size"):
    tiled.matvec(k, x, jnp.ones(10), tile_size=0)
  with pytest.raises(TypeError, match="mesh"):
    tiled.gram(k, x, mesh="rows")
  with pytest.raises(TypeError, match="kernel"):
    tiled.gram(None, x)
  with pytest.raises(ValueError, match="divisible by 8"):
    tiled.gram(k, x, mesh=tiled.row_mesh())
  with pytest.raises(ValueError, match="num_devices"):
    tiled.row_mesh(9)


def _gpus():
  try:
    return jax.devices("gpu")
  except RuntimeError:                                    # JAX_PLATFORMS=cpu (the default here)
    return []


@pytest.mark.skipif(not _gpus(), reason="no GPU: run with JAX_PLATFORMS=cuda,cpu on a GPU host")
def test_sharded_gram_and_cg_on_the_gpus_equal_the_cpu(x64):
  del x64
  from jaxlab.kernels import ridge, ridge_cg  # pylint: disable=g-import-not-at-top
  gpus, cpu = _gpus(), jax.devices("cpu")[0]
  k = KERNELS["matern52"]
  n = 96 * len(gpus)
  x = jax.device_put(jax.random.normal(jax.random.key(0), (n, 3), jnp.float64), cpu)
  y = jnp.sin(x[:, 0])
  mesh = tiled.row_mesh(devices=gpus)
  with jax.default_device(cpu):
    dense = np.asarray(k(x))
    exact = np.asarray(ridge.kernel_ridge(k(x), y, 1e-3))
  x_gpus = jax.device_put(x, NamedSharding(mesh, PartitionSpec()))   # replicated on the GPUs
  _close(tiled.gram(k, x_gpus, mesh=mesh), dense, 1e-12)
  sol = ridge_cg.solve(k, x, y, 1e-3, key=jax.random.key(1), num_centres=50, mesh=mesh)
  assert np.linalg.norm(np.asarray(sol.alpha) - exact) <= 1e-6 * np.linalg.norm(exact)
