"""Infinite-width `stax` kernels: neural-tangents 0.6.5 reference values (float64, 1e-6
relative; recorded by tests/ntk/reference/make_nt_reference.py in a separate environment), closed forms
(arc-cosine, arcsine), Monte Carlo convergence, layouts, composition and errors."""

import importlib.util
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab import ntk
from jaxlab.ntk import stax

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference")


def _module():
  spec = importlib.util.spec_from_file_location("nt_architectures",
                                                os.path.join(DATA, "nt_architectures.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


MODULE = _module()
ARCHITECTURES = MODULE.ARCHITECTURES
REFERENCE = dict(np.load(os.path.join(DATA, "nt_reference.npz")))
KINDS = ("flat", "tokens", "images")


def _fields(kernel, prefix, names):
  kernels = kernel if isinstance(kernel, (list, tuple)) else [kernel]
  out = {}
  for i, k in enumerate(kernels):
    tag = prefix if len(kernels) == 1 else f"{prefix}[{i}]"
    for f in names:
      value = getattr(k, f)
      if f in ("is_reversed", "diagonal_spatial"):
        out[f"{tag}/{f}"] = np.asarray(float(value))
      elif value is not None:
        out[f"{tag}/{f}"] = value
  return out


def _inputs(kind):
  arrays = {k: (REFERENCE[f"inputs/{k}/0"], REFERENCE[f"inputs/{k}/1"]) for k in KINDS}
  return MODULE.inputs_of(kind, arrays)


def _entry(name):
  entry = ARCHITECTURES[name]
  return entry[0], entry[1], (entry[2] if len(entry) > 2 else {})


def _coincident_mask(name, key, shape):
  """True where NT's reference is singular at coincident points (nt_architectures.py)."""
  if name not in MODULE.SINGULAR_AT_COINCIDENT_POINTS:
    return np.zeros(shape, bool)
  if key.endswith(("/cov1", "/cov2")):
    return np.ones(shape, bool)
  return np.eye(*shape, dtype=bool) if "/x1x1/" in key else np.zeros(shape, bool)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_kernels_match_neural_tangents(x64, name):
  kind, build, kwargs = _entry(name)
  _, _, kernel_fn = build(stax)
  x1, x2 = _inputs(kind)
  # Both kernels in one compilation: ~3x less CPU than running them op by op.
  k12, k11 = jax.jit(lambda a, b: (kernel_fn(a, b, **kwargs), kernel_fn(a, None, **kwargs)))(
      x1, x2)
  got = _fields(k12, f"{name}/x1x2",
                ("nngp", "ntk", "cov1", "cov2", "is_reversed", "diagonal_spatial"))
  got.update(_fields(k11, f"{name}/x1x1", ("nngp", "ntk", "cov1")))
  expected = {k: v for k, v in REFERENCE.items() if k.startswith(name + "/")}
  assert set(got) == set(expected)
  for key, ref in expected.items():
    value = np.broadcast_to(np.asarray(got[key]), ref.shape)
    assert np.asarray(got[key]).dtype == np.float64, key
    assert np.all(np.isfinite(value)), key
    compared = ~_coincident_mask(name, key, ref.shape)
    assert np.all(np.isfinite(ref[compared])), key
    np.testing.assert_allclose(value[compared], ref[compared], rtol=1e-6,
                               atol=1e-12 * np.abs(ref[compared]).max(initial=1.0),
                               err_msg=key)


def _double_factorial(n):
  return math.prod(range(n, 0, -2))


@pytest.mark.parametrize("degree", [0, 2, 3])
def test_rectified_monomial_variances_are_the_closed_form(x64, degree):
  # Where NT 0.6.5 gives NaN: one hidden layer Dense(32, 1.2, 0.2) -> relu^d ->
  # Dense(1, 0.9, 0.1). E[relu(u)^2d] = (2d-1)!! q^d / 2, E[(d relu(u)^(d-1))^2] =
  # d^2 (2d-3)!! q^(d-1) / 2, and the NTK adds 0.81 q E[phi'^2] to the NNGP.
  name = f"nonlinearity_rectified_monomial_{degree}"
  x1, x2 = _inputs("flat")
  kernel_fn = ARCHITECTURES[name][1](stax)[2]
  both, same = kernel_fn(x1, x2), kernel_fn(x1, None)
  for x, cov in ((x1, both.cov1), (x2, both.cov2), (x1, same.cov1)):
    q = 1.44 * np.sum(x ** 2, 1) / x.shape[1] + 0.04
    variance = 0.81 * _double_factorial(2 * degree - 1) * q ** degree / 2 + 0.01
    np.testing.assert_allclose(cov, variance, rtol=1e-12)
  q = 1.44 * np.sum(x1 ** 2, 1) / x1.shape[1] + 0.04
  np.testing.assert_allclose(np.diag(same.nngp), same.cov1, rtol=1e-12)
  dot = degree ** 2 * _double_factorial(2 * degree - 3) * q ** (degree - 1) / 2
  np.testing.assert_allclose(np.diag(same.ntk), same.cov1 + 0.81 * q * dot, rtol=1e-12)


def test_sign_network_variances_are_exact_where_nt_rounds(x64):
  # sign(u)^2 = 1: the variance after Dense(1, W_std=0.9) is 0.81 whatever came before, and
  # sign' = 0 leaves the NTK equal to the NNGP (NT is off by ~1e-4 on one diagonal entry).
  x1, _ = _inputs("flat")
  kernel = ARCHITECTURES["nonlinearity_sign"][1](stax)[2](x1, None)
  np.testing.assert_allclose(np.diag(kernel.nngp), 0.81, rtol=1e-14)
  np.testing.assert_allclose(kernel.cov1, 0.81, rtol=1e-14)
  np.testing.assert_allclose(kernel.ntk, kernel.nngp, rtol=1e-14)


def test_nonlinearities_equal_monte_carlo_gaussian_expectations(x64):
  # serial(Dense, phi): nngp = E[phi(u_i) phi(u_j)], ntk = q_ij E[phi'(u_i) phi'(u_j)] with
  # u ~ N(0, q), q = W^2 x x^T / d + b^2. 2^18 antithetic draws, a fixed seed.
  x = np.asarray(jax.random.normal(jax.random.key(3), (3, 4), jnp.float64))
  q = 1.3 ** 2 * x @ x.T / 4 + 0.2 ** 2
  z = np.random.default_rng(0).normal(size=(2 ** 17, 3))
  u = np.concatenate([z, -z]) @ np.linalg.cholesky(q).T
  cases = (
      (stax.Sign(), np.sign, None),
      (stax.RectifiedMonomial(2), lambda v: np.maximum(v, 0) ** 2,
       lambda v: 2 * np.maximum(v, 0)),
      (stax.RectifiedMonomial(3), lambda v: np.maximum(v, 0) ** 3,
       lambda v: 3 * np.maximum(v, 0) ** 2),
      (stax.ElementwiseNumerical(jnp.tanh, deg=25), np.tanh, lambda v: 1 - np.tanh(v) ** 2))
  for layer, fn, dfn in cases:
    kernel = stax.serial(stax.Dense(8, W_std=1.3, b_std=0.2), layer)[2](x, None)
    nngp = fn(u).T @ fn(u) / len(u)
    ntk = np.zeros_like(q) if dfn is None else q * (dfn(u).T @ dfn(u)) / len(u)
    np.testing.assert_allclose(kernel.nngp, nngp, rtol=0.03, atol=1e-3 * np.abs(nngp).max())
    np.testing.assert_allclose(kernel.ntk, ntk, rtol=0.03, atol=1e-3 * np.abs(ntk).max())


def test_dropout_apply_keeps_entries_with_probability_rate():
  x = jnp.arange(1.0, 1.0 + 4000.0).reshape(40, 100)
  _, apply_fn, _ = stax.Dropout(0.7)
  out = apply_fn((), x, rng=jax.random.key(0))
  kept = np.asarray(out != 0)
  np.testing.assert_allclose(np.asarray(out)[kept], np.asarray(x)[kept] / 0.7, rtol=1e-6)
  assert abs(kept.mean() - 0.7) < 0.03
  assert not np.array_equal(kept, np.asarray(apply_fn((), x, rng=jax.random.key(1)) != 0))
  np.testing.assert_array_equal(stax.Dropout(0.7, mode="test")[1]((), x), x)
  with pytest.raises(ValueError, match="rng"):
    apply_fn((), x)
  with pytest.raises(ValueError, match="mode"):
    stax.Dropout(0.5, mode="eval")


def test_float32_kernels_match_neural_tangents_to_float32_precision():
  for name in ("transformer", "myrtle"):
    _, _, kernel_fn = ARCHITECTURES[name][1](stax)
    x1, x2 = _inputs(ARCHITECTURES[name][0])
    got = jax.jit(kernel_fn, static_argnames="get")(x1, x2, ("nngp", "ntk"))
    assert got.ntk.dtype == jnp.float32
    for g in ("nngp", "ntk"):
      np.testing.assert_allclose(getattr(got, g), REFERENCE[f"{name}/x1x2/{g}"], rtol=2e-4,
                                 atol=1e-5)


def _leaves(tree):
  return tree if isinstance(tree, list) and not isinstance(tree[0], list) else [tree]


def test_every_architecture_tracks_the_finite_width_shapes():
  # init_fn's output shape == apply_fn's output shape == the Kernel's shape1 (abstractly).
  for name in ARCHITECTURES:
    kind, build, kwargs = _entry(name)
    init_fn, apply_fn, kernel_fn = build(stax)
    x1, x2 = _inputs(kind)
    init_shape = []
    shapes_in = jax.tree_util.tree_map(lambda a: a.shape, x1,
                                       is_leaf=lambda a: isinstance(a, np.ndarray))

    def init(key, init_fn=init_fn, shapes_in=shapes_in, init_shape=init_shape):
      shape, params = init_fn(key, shapes_in)
      init_shape.append(shape)
      return params

    params = jax.eval_shape(init, jax.random.key(0))
    out = jax.eval_shape(lambda p, x: apply_fn(p, x, rng=jax.random.key(1)), params, x1)
    kernel = jax.eval_shape(lambda: kernel_fn(x1, x2, **kwargs))
    kernels = kernel if isinstance(kernel, list) else [kernel]
    outs = out if isinstance(out, list) else [out]
    shapes = init_shape[0] if isinstance(init_shape[0], list) else init_shape
    n1 = jax.tree_util.tree_leaves(x1)[0].shape[0]
    n2 = jax.tree_util.tree_leaves(x2)[0].shape[0]
    for k, o, s in zip(kernels, outs, shapes):
      assert tuple(o.shape) == tuple(s) == k.shape1, name
      assert k.shape2[k.batch_axis] == n2 and k.shape1[k.batch_axis] == n1, name
      spatial = [d for i, d in enumerate(k.shape1) if i not in (k.batch_axis, k.channel_axis)]
      if k.is_reversed:
        spatial = spatial[::-1]
      pairs = tuple(spatial) if k.diagonal_spatial else tuple(d for s_ in spatial
                                                              for d in (s_, s_))
      assert k.nngp.shape == (n1, n2) + pairs, name


def _one_hidden_layer(nonlinearity, w_std, b_std):
  return stax.serial(stax.Dense(2048, W_std=w_std, b_std=b_std), nonlinearity,
                     stax.Dense(1, W_std=w_std, b_std=b_std))


def test_relu_network_is_the_arc_cosine_kernel(x64):
  x = np.asarray(jax.random.normal(jax.random.key(0), (6, 5), jnp.float64))
  w, b = 1.4, 0.3
  kernel = _one_hidden_layer(stax.Relu(), w, b)[2](x, None, ("nngp", "ntk"))
  q = w ** 2 * x @ x.T / 5 + b ** 2
  norms = np.sqrt(np.outer(np.diag(q), np.diag(q)))
  theta = np.arccos(np.clip(q / norms, -1, 1))
  kappa1 = norms * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
  kappa0 = (np.pi - theta) / (2 * np.pi)
  nngp = w ** 2 * kappa1 + b ** 2
  np.testing.assert_allclose(kernel.nngp, nngp, rtol=1e-7)
  np.testing.assert_allclose(kernel.ntk, nngp + w ** 2 * q * kappa0, rtol=1e-7)


def test_erf_network_is_the_arcsine_kernel(x64):
  x = np.asarray(jax.random.normal(jax.random.key(1), (6, 5), jnp.float64))
  w, b = 0.9, 0.2
  kernel = _one_hidden_layer(stax.Erf(), w, b)[2](x, x[:4], ("nngp", "ntk"))
  q = w ** 2 * x @ x[:4].T / 5 + b ** 2
  d1, d2 = 1 + 2 * (w ** 2 * np.sum(x ** 2, 1) / 5 + b ** 2), 1 + 2 * (
      w ** 2 * np.sum(x[:4] ** 2, 1) / 5 + b ** 2)
  prod = np.outer(d1, d2)
  nngp = w ** 2 * 2 / np.pi * np.arcsin(2 * q / np.sqrt(prod)) + b ** 2
  np.testing.assert_allclose(kernel.nngp, nngp, rtol=1e-10)
  np.testing.assert_allclose(kernel.ntk, nngp + w ** 2 * q * 4 / np.pi / np.sqrt(prod - 4 * q ** 2),
                             rtol=1e-10)


def _mc_error(build, x1, x2, width, get, n_samples, key):
  """Relative Frobenius error of the Monte Carlo estimate of `get` at `width`."""
  init_fn, apply_fn, _ = build(width)
  # One device: the 8 test devices would shard 4 rows (tests/ntk/test_ntk_batch.py covers that).
  mc = ntk.monte_carlo_kernel_fn(init_fn, apply_fn, key, n_samples, device_count=0,
                                 vmap_axes=0)(x1, x2, get)
  reference = build(8)[2](x1, x2, get)
  return float(np.linalg.norm(mc - reference) / np.linalg.norm(reference))


def _mc_mlp(w, out):
  return stax.serial(stax.Dense(w, W_std=1.5, b_std=0.1), stax.Relu(),
                     stax.Dense(w, W_std=1.3, b_std=0.2), stax.Erf(),
                     stax.Dense(out, W_std=1.2, b_std=0.1))


def _mc_attention(w, out):
  return stax.serial(stax.Dense(w, W_std=1.2, b_std=0.1),
                     stax.GlobalSelfAttention(w, w, w, 4, W_key_std=1.3, b_std=0.2),
                     stax.Relu(), stax.GlobalAvgPool(), stax.Dense(out))


def _assert_monte_carlo_converges(build, x1, x2):
  # NNGP: outputs of width w averaged (trace_axes=(-1,)); NTK: one output, the hidden sums
  # concentrate. Both estimates' errors shrink ~ 1/sqrt(w).
  key = jax.random.key(2)
  for get, out, n_samples in (("nngp", None, 8), ("ntk", 1, 4)):
    net = lambda w, out=out: build(w, out or w)
    narrow, wide = (_mc_error(net, x1, x2, w, get, n_samples, key) for w in (32, 512))
    assert wide < narrow / 2 and wide < 0.1, (build.__name__, get, narrow, wide)


def _mc_tokens():
  tokens1 = jax.random.normal(jax.random.key(0), (4, 3, 2), jnp.float64)
  tokens2 = jax.random.normal(jax.random.key(1), (3, 3, 2), jnp.float64)
  return tokens1, tokens2


def test_monte_carlo_converges_to_the_analytic_mlp_kernels(x64):
  tokens1, tokens2 = _mc_tokens()
  _assert_monte_carlo_converges(_mc_mlp, tokens1.reshape(4, 6), tokens2.reshape(3, 6))


@pytest.mark.slow  # the attention kernel is checked against NT (attention_*), MC on the MLP
def test_monte_carlo_converges_to_the_analytic_attention_kernels(x64):
  _assert_monte_carlo_converges(_mc_attention, *_mc_tokens())


def test_monte_carlo_sample_counts_and_get():
  init_fn, apply_fn, _ = stax.serial(stax.Dense(16), stax.Relu(), stax.Dense(4))
  x = jax.random.normal(jax.random.key(0), (3, 5))
  key = jax.random.key(1)
  # One device (sharding: tests/ntk/test_ntk_batch.py).
  running = list(ntk.monte_carlo_kernel_fn(init_fn, apply_fn, key, (1, 3), device_count=0)(
      x, None, "ntk"))
  ntk_fn = jax.jit(ntk.empirical_ntk_fn(apply_fn))
  draws = [ntk_fn(x, None, init_fn(k, x.shape)[1]) for k in jax.random.split(key, 3)]
  assert len(running) == 2
  np.testing.assert_allclose(running[0], draws[0], rtol=1e-5)
  np.testing.assert_allclose(running[1], sum(draws) / 3, rtol=1e-5)
  both = ntk.monte_carlo_kernel_fn(init_fn, apply_fn, key, 3, batch_size=2, device_count=0)(
      x, None)
  assert both._fields == ("nngp", "ntk") and both.nngp.shape == (3, 3)
  np.testing.assert_allclose(both.ntk, running[1], rtol=1e-5)
  with pytest.raises(ValueError, match="n_samples"):
    ntk.monte_carlo_kernel_fn(init_fn, apply_fn, key, (4, 2))


def test_get_layouts_and_kernel_inputs(x64):
  x1, x2 = _inputs("tokens")
  head = stax.serial(stax.Dense(16, W_std=1.3, b_std=0.2), stax.Relu(), stax.Dense(8))
  tail = stax.serial(stax.Relu(), stax.GlobalAvgPool(), stax.Dense(1))
  full = stax.serial(head, tail)[2](x1, x2)
  assert isinstance(full, ntk.Kernel) and full.nngp.shape == (4, 3)
  assert full.cov1.shape == (4,) and full.cov2.shape == (3,)
  # A Kernel feeds the next network: head then tail == serial(head, tail).
  mid = head[2](x1, x2)
  assert mid.nngp.shape == (4, 3, 3, 3) and mid.cov1.shape == (4, 3, 3)
  np.testing.assert_allclose(tail[2](mid).ntk, full.ntk, rtol=1e-13)
  # get: a field name, a tuple (namedtuple in that order), cov2 None for x2=None.
  assert head[2](x1, None, "cov2") is None
  pair = head[2](x1, None, ("ntk", "nngp"))
  assert pair._fields == ("ntk", "nngp")
  np.testing.assert_allclose(pair.nngp, head[2](x1, x1, "nngp"), rtol=1e-14)
  # diagonal_spatial keeps the diagonal over tokens for position-wise networks only.
  diag = head[2](x1, x2, "nngp", diagonal_spatial=True)
  np.testing.assert_allclose(diag, np.einsum("abtt->abt", mid.nngp), rtol=1e-14)
  with pytest.raises(ValueError, match="diagonal_spatial"):
    stax.serial(head, stax.GlobalAvgPool())[2](x1, x2, "nngp", diagonal_spatial=True)
  with pytest.raises(ValueError, match="get must name"):
    head[2](x1, x2, "covariance")


def test_images_keep_nt_zipped_spatial_layout(x64):
  x = np.asarray(jax.random.normal(jax.random.key(0), (3, 2, 4, 5), jnp.float64))
  _, _, kernel_fn = stax.serial(stax.Dense(8), stax.Relu(), stax.Dense(2))
  _, _, pooled = stax.serial(stax.Dense(8), stax.Relu(), stax.GlobalAvgPool())
  k, tokens, mean = jax.jit(lambda x: (                        # one compilation
      kernel_fn(x, None, "nngp"), kernel_fn(x.reshape(3, 8, 5), None, "nngp"),
      pooled(x, None, "nngp")))(x)
  assert k.shape == (3, 3, 2, 2, 4, 4) and tokens.shape == (3, 3, 8, 8)
  np.testing.assert_allclose(k, tokens.reshape(3, 3, 2, 4, 2, 4).transpose(0, 1, 2, 4, 3, 5),
                             rtol=1e-14)
  np.testing.assert_allclose(mean, k.mean(axis=(2, 3, 4, 5)), rtol=1e-12)


def test_jitted_kernel_fn_compiles_once(x64):
  traces = []
  init_fn, apply_fn, kernel_fn = ARCHITECTURES["transformer"][1](stax)

  def counted(x1, x2, get):
    traces.append(1)
    return kernel_fn(x1, x2, get)

  jitted = jax.jit(counted, static_argnames="get")
  x1, x2 = _inputs("tokens")
  a = jitted(x1, x2, "ntk")
  b = jitted(x1 * 2.0, x2, "ntk")
  assert len(traces) == 1 and not np.allclose(a, b)
  np.testing.assert_allclose(a, REFERENCE["transformer/x1x2/ntk"], rtol=1e-6)
  kernel = jax.jit(kernel_fn)(x1, x2)                 # a Kernel is a pytree
  assert isinstance(kernel, ntk.Kernel) and kernel.shape1 == (4, 1)


def test_parameterizations_and_layer_arguments():
  init_fn, apply_fn, _ = stax.Dense(7, W_std=2.0, b_std=0.5, parameterization="standard",
                                    s=(1, 3))
  shape, (w, b) = init_fn(jax.random.key(0), (5, 4))
  assert shape == (5, 21) and w.shape == (4, 21) and b.shape == (1, 21)
  x = jnp.ones((5, 4))
  np.testing.assert_allclose(apply_fn((w, b), x), x @ w + b, rtol=1e-6)
  init_fn, apply_fn, _ = stax.Dense(7, W_std=2.0, b_std=0.5)
  _, (w, b) = init_fn(jax.random.key(0), (5, 4))
  np.testing.assert_allclose(apply_fn((w, b), x), 2.0 / 2.0 * x @ w + 0.5 * b, rtol=1e-6)
  attn_init, attn_apply, _ = stax.GlobalSelfAttention(6, 5, 4, 3)
  shape, params = attn_init(jax.random.key(1), (2, 7, 4))
  assert shape == (2, 7, 6) and params[0] is None and params[1].shape == (3, 4, 5)
  assert attn_apply(params, jnp.ones((2, 7, 4))).shape == (2, 7, 6)


def test_bad_networks_raise_clear_errors():
  x = jnp.ones((3, 4))
  with pytest.raises(ValueError, match="must be Gaussian"):
    stax.serial(stax.Relu(), stax.Dense(1))[2](x, None, "nngp")
  with pytest.raises(ValueError, match="must be Gaussian"):
    stax.serial(stax.Dense(4), stax.Flatten(), stax.Erf())[2](x, None, "nngp")
  with pytest.raises(NotImplementedError, match="FanInSum"):
    stax.serial(stax.Dense(4), stax.FanOut(2), stax.parallel(stax.Relu(), stax.Identity()),
                stax.FanInSum())[2](x, None, "nngp")
  with pytest.raises(ValueError, match="channel axis"):
    stax.serial(stax.Dense(4), stax.LayerNorm(axis=0))[2](x, None, "nngp")
  with pytest.raises(NotImplementedError, match="linear_scaling"):
    stax.GlobalSelfAttention(4, 4, 4, 1, linear_scaling=False)[2](jnp.ones((2, 3, 4)))
  with pytest.raises(NotImplementedError, match="positional"):
    stax.GlobalSelfAttention(4, 4, 4, 1, pos_emb_type="SUM")
  with pytest.raises(ValueError, match="parameterization"):
    stax.Dense(4, parameterization="mup")
  with pytest.raises(ValueError, match="channel_axis"):
    stax.serial(stax.Dense(4), stax.Dense(4, channel_axis=1))[2](jnp.ones((3, 4, 5)))
  with pytest.raises(ValueError, match="attention_mechanism"):
    stax.GlobalSelfAttention(4, 4, 4, 1, attention_mechanism="sparsemax")
  with pytest.raises(ValueError, match="at least 2D"):
    stax.Dense(4)[2](jnp.ones((3,)))
  with pytest.raises(TypeError, match="not a jaxlab.ntk.stax kernel_fn"):
    stax.serial(stax.Dense(4), (None, None, lambda k: k))


def test_relu_kernel_is_differentiable_at_coincident_inputs(x64):
  _, _, kernel_fn = stax.serial(stax.Dense(8, b_std=0.1), stax.Relu(), stax.Dense(1))
  x = jnp.ones((1, 3))
  grad = jax.jit(jax.grad(lambda x: kernel_fn(x, None, "ntk")[0, 0]))(x)
  assert np.all(np.isfinite(grad))


def _docstring_example(doc: str) -> str:
  """The indented code block after a module docstring's first paragraph."""
  lines = doc.split("\n")
  code = []
  for line in lines[lines.index("") + 1:]:
    if line and not line.startswith("  "):
      break
    code.append(line[2:])
  return "\n".join(code)


@pytest.mark.parametrize("module", [ntk, stax], ids=["jaxlab.ntk", "jaxlab.ntk.stax"])
def test_module_docstring_examples_run(module):
  code = _docstring_example(module.__doc__)
  assert "kernel_fn" in code
  exec(compile(code, module.__name__, "exec"), {})  # pylint: disable=exec-used
