"""Empirical NTK / NNGP: every implementation against explicit Jacobians J J^T (float64 to
1e-10), neural-tangents' trace/diagonal axes semantics, tiling, NTK-vector products, AUTO."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxlab import models, ntk
from jaxlab.kernels import spectral

IMPLEMENTATIONS = [ntk.NtkImplementation.JACOBIAN_CONTRACTION,
                   ntk.NtkImplementation.NTK_VECTOR_PRODUCTS, ntk.NtkImplementation.AUTO]


def _token_net(params, x):
  """(N, T, D) -> (N, T, O): a per-token MLP plus a token-mixing term (couples tokens)."""
  h = jnp.tanh(x @ params["w1"] + params["b1"][None, None])
  mixed = h + jnp.mean(h, axis=1, keepdims=True) * params["mix"]
  return mixed @ params["w2"]


def _token_setup(dtype=jnp.float64):
  keys = jax.random.split(jax.random.key(0), 6)
  params = {"w1": jax.random.normal(keys[0], (4, 16), dtype) / 2,
            "b1": jax.random.normal(keys[1], (16,), dtype),
            "mix": jnp.asarray(0.5, dtype),
            "w2": jax.random.normal(keys[2], (16, 3), dtype) / 4}
  x1 = jax.random.normal(keys[3], (5, 2, 4), dtype)
  x2 = jax.random.normal(keys[4], (3, 2, 4), dtype)
  return params, x1, x2


def _full_ntk(f, params, x1, x2):
  """Explicit J(x1) J(x2)^T of shape f(x1).shape + f(x2).shape from the flat Jacobian."""
  flat, unravel = ravel_pytree(params)
  jac = jax.jit(jax.jacrev(lambda p, x: f(unravel(p), x)))
  return np.tensordot(np.asarray(jac(flat, x1)), np.asarray(jac(flat, x2)), axes=(-1, -1))


# Hand-written NT layouts for outputs (N, T, O): full kernel index order is (n t o m s p).
LAYOUTS = [
    ((), (), lambda k: np.einsum("ntomsp->nmtsop", k)),
    ((-1,), (), lambda k: np.einsum("ntomso->nmts", k) / 3),
    ((-1,), (1,), lambda k: np.einsum("ntomto->nmt", k) / 3),
    ((1, 2), (), lambda k: np.einsum("ntomto->nm", k) / 6),
    ((-1,), (0,), lambda k: np.einsum("ntonso->nts", k) / 3),
    ((), (-1,), lambda k: np.einsum("ntomso->nmtso", k)),
]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS[:2])
@pytest.mark.parametrize("vmap_axes", [None, 0])
def test_ntk_equals_explicit_jacobian_products_with_nt_axes_semantics(x64, implementation,
                                                                     vmap_axes):
  # vmap over the batch axis is valid here: the net mixes tokens, never batch elements.
  params, x1, x2 = _token_setup()
  fns = [ntk.empirical_ntk_fn(_token_net, trace_axes, diagonal_axes, vmap_axes, implementation)
         for trace_axes, diagonal_axes, _ in LAYOUTS]

  @jax.jit
  def all_layouts(x1, x2, params):
    return ([fn(x1, x2, params) for fn, (_, diag, _) in zip(fns, LAYOUTS) if 0 not in diag],
            [fn(x1, None, params) for fn in fns])

  cross, same = all_layouts(x1, x2, params)
  full_12 = _full_ntk(_token_net, params, x1, x2)
  full_11 = _full_ntk(_token_net, params, x1, x1)
  for got, (_, _, layout) in zip(cross, [l for l in LAYOUTS if 0 not in l[1]]):
    np.testing.assert_allclose(got, layout(full_12), rtol=1e-10, atol=1e-12)
  for got, (_, _, layout) in zip(same, LAYOUTS):
    np.testing.assert_allclose(got, layout(full_11), rtol=1e-10, atol=1e-12)


def test_nngp_is_the_outer_product_of_outputs(x64):
  params, x1, x2 = _token_setup()
  o1, o2 = np.asarray(_token_net(params, x1)), np.asarray(_token_net(params, x2))
  full = np.einsum("nto,msp->ntomsp", o1, o2)
  for trace_axes, diagonal_axes, layout in LAYOUTS:
    if 0 in diagonal_axes:
      continue
    got = ntk.empirical_nngp_fn(_token_net, trace_axes, diagonal_axes)(x1, x2, params)
    np.testing.assert_allclose(got, layout(full), rtol=1e-12)
  var = ntk.empirical_nngp_fn(_token_net, (1, 2), (0,))(x1, None, params)
  np.testing.assert_allclose(var, np.mean(o1 ** 2, axis=(1, 2)), rtol=1e-12)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_flax_models_match_explicit_jacobians(x64, name):
  model = models.build(name, outputs=3, width=8, depth=2)
  x = jax.random.uniform(jax.random.key(1), (4, 8, 8, 1), jnp.float64)
  params = models.init(model, jax.random.key(0), x.astype(jnp.float32))
  params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
  fns = [ntk.empirical_ntk_fn(model.apply, vmap_axes=0, implementation=i)
         for i in IMPLEMENTATIONS]
  got = jax.jit(lambda x1, x2, p: [fn(x1, x2, p) for fn in fns])(x, x[:3], params)
  expected = np.einsum("nomo->nm", _full_ntk(model.apply, params, x, x[:3])) / 3
  for k in got:
    np.testing.assert_allclose(k, expected, rtol=1e-10, atol=1e-12)


def test_dtypes_follow_the_inputs(dtype):
  params, x1, x2 = _token_setup(jnp.dtype(dtype))
  expected = LAYOUTS[1][2](_full_ntk(_token_net, params, x1, x2).astype(np.float64))
  rtol = 1e-10 if dtype == "float64" else 2e-5
  for implementation in IMPLEMENTATIONS[:2]:
    got = jax.jit(ntk.empirical_ntk_fn(_token_net, vmap_axes=0,
                                       implementation=implementation))(x1, x2, params)
    assert got.dtype == jnp.dtype(dtype)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


def test_kwargs_are_vmapped_along_kwargs_axes(x64):
  params, x1, _ = _token_setup()
  scale = jnp.linspace(0.5, 2.0, x1.shape[0])

  def f(p, x, scale):
    return _token_net(p, x) * scale[:, None, None]

  full = _full_ntk(lambda p, x: f(p, x, scale), params, x1, x1)
  expected = LAYOUTS[1][2](full)
  for implementation in IMPLEMENTATIONS[:2]:
    fn = jax.jit(ntk.empirical_ntk_fn(f, vmap_axes=(0, 0, {"scale": 0}),
                                      implementation=implementation))
    np.testing.assert_allclose(fn(x1, None, params, scale=scale), expected, rtol=1e-10)


def test_pytree_outputs_get_one_kernel_per_leaf(x64):
  params, x1, x2 = _token_setup()
  f = lambda p, x: {"a": _token_net(p, x), "b": jnp.sum(_token_net(p, x), axis=1)}
  for implementation in IMPLEMENTATIONS[:2]:
    got = jax.jit(ntk.empirical_ntk_fn(f, implementation=implementation))(x1, x2, params)
    np.testing.assert_allclose(got["a"], LAYOUTS[1][2](_full_ntk(_token_net, params, x1, x2)),
                               rtol=1e-10)
    fb = lambda p, x: f(p, x)["b"]
    np.testing.assert_allclose(got["b"], np.einsum("nomo->nm", _full_ntk(fb, params, x1, x2)) / 3,
                               rtol=1e-10)


def test_kernel_fn_get_and_shapes(x64):
  params, x1, x2 = _token_setup()
  kernel_fn = jax.jit(ntk.empirical_kernel_fn(_token_net, trace_axes=(-1,), vmap_axes=0),
                      static_argnames="get")
  both = kernel_fn(x1, x2, None, params)
  assert both._fields == ("nngp", "ntk")
  assert both.ntk.shape == ntk.kernel_shape((5, 2, 3), (3, 2, 3)) == (5, 3, 2, 2)
  np.testing.assert_allclose(kernel_fn(x1, x2, "ntk", params), both.ntk, rtol=1e-12)
  assert kernel_fn(x1, x2, ("ntk",), params)._fields == ("ntk",)
  with pytest.raises(ValueError, match="get must be"):
    kernel_fn(x1, x2, "cov1", params)


def test_ntk_vector_products_are_matrix_free_kernel_products(x64):
  params, x1, x2 = _token_setup()
  full = _full_ntk(_token_net, params, x1, x2)             # (5, 2, 3, 3, 2, 3)
  v = jax.random.normal(jax.random.key(7), (3, 2, 3), jnp.float64)
  got = jax.jit(ntk.empirical_ntk_vp_fn(_token_net, x1, x2, params))(v)
  np.testing.assert_allclose(got, np.tensordot(full, v, axes=3), rtol=1e-10)
  # An iterative solve of (Theta + I) a = y never forms Theta.
  mv = ntk.empirical_ntk_vp_fn(_token_net, x1, None, params)
  y = jax.random.normal(jax.random.key(8), (5, 2, 3), jnp.float64)
  solve = jax.jit(lambda y: jax.scipy.sparse.linalg.cg(lambda a: mv(a) + a, y, tol=1e-12,
                                                       maxiter=500)[0])
  sol = solve(y)
  k = _full_ntk(_token_net, params, x1, x1).reshape(30, 30)
  np.testing.assert_allclose(sol.reshape(-1), np.linalg.solve(k + np.eye(30), y.reshape(-1)),
                             rtol=1e-8, atol=1e-10)


def test_batch_tiles_equal_the_whole_kernel(x64):
  params, _, _ = _token_setup()
  x = jax.random.normal(jax.random.key(3), (7, 2, 4), jnp.float64)
  y = jax.random.normal(jax.random.key(4), (5, 2, 4), jnp.float64)
  ntk_fn = jax.jit(ntk.empirical_ntk_fn(_token_net, vmap_axes=0))
  for batch_size in (3, 16):
    batched = ntk.batch(ntk_fn, batch_size)
    np.testing.assert_allclose(batched(x, None, params), ntk_fn(x, None, params), rtol=1e-12)
    np.testing.assert_allclose(batched(x, y, params), ntk_fn(x, y, params), rtol=1e-12)
  kernel_fn = jax.jit(ntk.empirical_kernel_fn(_token_net, vmap_axes=0), static_argnames="get")
  both = ntk.batch(kernel_fn, 3)(x, y, ("nngp", "ntk"), params)
  np.testing.assert_allclose(both.nngp, kernel_fn(x, y, "nngp", params), rtol=1e-12)
  diag_fn = ntk.empirical_ntk_fn(_token_net, diagonal_axes=(0,))
  # A diagonal batch axis cannot be tiled: the tile check (one device) or the kernel's own
  # shape check (rows spread over devices) names the reason.
  with pytest.raises(ValueError, match="leading axes|diagonal_axes"):
    ntk.batch(diag_fn, 3)(x, None, params)
  with pytest.raises(ValueError, match="batch_size"):
    ntk.batch(ntk_fn, -1)


def test_jitted_kernels_are_not_retraced(x64):
  params, x1, x2 = _token_setup()
  traces = []

  def f(p, x):
    traces.append(1)
    return _token_net(p, x)

  for implementation in IMPLEMENTATIONS:
    ntk_fn = jax.jit(ntk.empirical_ntk_fn(f, vmap_axes=0, implementation=implementation))
    first = ntk_fn(x1, x2, params)
    n_traces = len(traces)
    second = ntk_fn(x1 + 1.0, x2, jax.tree_util.tree_map(lambda a: a * 1.5, params))
    third = ntk_fn(x1, x2, params)
    assert len(traces) == n_traces, implementation
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(first, third)


def test_auto_follows_the_cost_model(x64):
  # Wide MLP, 32 outputs, full (untraced) kernel: NTK-vector products are cheaper.
  keys = jax.random.split(jax.random.key(0), 3)
  mlp = {"w1": jax.random.normal(keys[0], (8, 256)), "w2": jax.random.normal(keys[1], (256, 32))}
  f_mlp = lambda p, x: jnp.tanh(x @ p["w1"]) @ p["w2"]
  x = jax.random.normal(keys[2], (4, 8))
  costs = ntk.ntk_implementation_costs(f_mlp, x, None, mlp, trace_axes=(), vmap_axes=0)
  assert costs[ntk.NtkImplementation.NTK_VECTOR_PRODUCTS] < costs[
      ntk.NtkImplementation.JACOBIAN_CONTRACTION]
  fn = ntk.empirical_ntk_fn(f_mlp, trace_axes=(), vmap_axes=0)
  jax.eval_shape(fn, x, None, mlp)  # the choice is made while tracing
  assert list(fn.implementation_choices.values()) == [ntk.NtkImplementation.NTK_VECTOR_PRODUCTS]
  # Small CNN, scalar output: the forward pass reuses few weights; contraction is cheaper.
  cnn = models.build("cnn", outputs=1, width=8, depth=2)
  xi = jnp.ones((4, 16, 16, 1), jnp.float32)  # the params flax creates are float32
  params = models.init(cnn, jax.random.key(0), xi)
  costs = ntk.ntk_implementation_costs(cnn.apply, xi, None, params, vmap_axes=0)
  assert costs[ntk.NtkImplementation.JACOBIAN_CONTRACTION] < costs[
      ntk.NtkImplementation.NTK_VECTOR_PRODUCTS]


def test_bad_arguments_are_named():
  params, x1, x2 = _token_setup(jnp.float32)
  with pytest.raises(ValueError, match="implementation"):
    ntk.empirical_ntk_fn(_token_net, implementation=4)
  with pytest.raises(ValueError, match="implementation"):
    ntk.empirical_ntk_fn(_token_net, implementation="fastest")
  with pytest.raises(ValueError, match="trace_axes"):
    ntk.empirical_ntk_fn(_token_net, trace_axes=(5,))(x1, x2, params)
  with pytest.raises(ValueError, match="both trace_axes"):
    ntk.empirical_ntk_fn(_token_net, trace_axes=(-1,), diagonal_axes=(2,))(x1, x2, params)
  with pytest.raises(ValueError, match="must match"):
    ntk.empirical_ntk_fn(_token_net, diagonal_axes=(0,))(x1, x2, params)
  with pytest.raises(ValueError, match="vmap_axes"):
    ntk.empirical_ntk_fn(_token_net, vmap_axes="batch")


def test_linearize_is_the_first_order_taylor_expansion(x64):
  params, x1, _ = _token_setup()
  f_lin = ntk.linearize(_token_net, params)
  np.testing.assert_allclose(f_lin(params, x1), _token_net(params, x1), rtol=1e-14)
  delta = jax.tree_util.tree_map(lambda a: 1e-3 * jnp.ones_like(a), params)
  moved = jax.tree_util.tree_map(jnp.add, params, delta)
  flat_delta, _ = ravel_pytree(delta)
  flat, unravel = ravel_pytree(params)
  jac = jax.jit(jax.jacrev(lambda p: _token_net(unravel(p), x1)))(flat)
  np.testing.assert_allclose(f_lin(moved, x1), _token_net(params, x1) + jac @ flat_delta,
                             rtol=1e-12)


def test_spectrum_helpers_are_the_shared_spectral_ones(x64):
  assert ntk.lambda_min is spectral.lambda_min
  assert ntk.lambda_max is spectral.lambda_max
  assert ntk.condition_number is spectral.condition_number
  params, x1, _ = _token_setup()
  theta = ntk.empirical_ntk_fn(_token_net, trace_axes=(1, 2))(x1, None, params)
  eig = np.linalg.eigvalsh(np.asarray(theta))
  assert float(ntk.lambda_min(theta)) == pytest.approx(eig[0], rel=1e-10)
  assert float(ntk.condition_number(theta)) == pytest.approx(eig[-1] / eig[0], rel=1e-10)
