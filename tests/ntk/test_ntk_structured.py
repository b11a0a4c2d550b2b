"""STRUCTURED_DERIVATIVES equals Jacobian contraction (float64, 1e-10) on dense, convolutional,
stax and hand-written nets, with neural-tangents' trace / diagonal / vmap axes; the jaxpr
analysis picks the structured rule where it applies and the local-Jacobian rule elsewhere."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxlab import models, ntk
from jaxlab.ntk import stax
from jaxlab.ntk import structured_graph as sg

JC = ntk.NtkImplementation.JACOBIAN_CONTRACTION
SD = ntk.NtkImplementation.STRUCTURED_DERIVATIVES


def _token_net(params, x):
  """(N, T, D) -> (N, T, O): per-token dense layers, a bias and a token-mixing scale."""
  h = jnp.tanh(x @ params["w1"] + params["b1"][None, None])
  mixed = h + jnp.mean(h, axis=1, keepdims=True) * params["mix"]
  return mixed @ params["w2"]


def _normal(rng, shape, scale=1.0):
  return jnp.asarray(scale * rng.standard_normal(shape))


def _token_setup():
  rng = np.random.default_rng(0)
  params = {"w1": _normal(rng, (4, 16), 0.5), "b1": _normal(rng, (16,)),
            "mix": jnp.asarray(0.5, jnp.float64), "w2": _normal(rng, (16, 3), 0.25)}
  return params, _normal(rng, (5, 2, 4)), _normal(rng, (3, 2, 4))


def _rules(f, params, x):
  leaves, treedef = jax.tree_util.tree_flatten(params)
  closed = jax.make_jaxpr(lambda ls, x_: f(jax.tree_util.tree_unflatten(treedef, ls), x_))(
      leaves, x)
  graph = sg.analyse(closed.jaxpr, len(leaves))
  return None if graph is None else sorted(c.rule for c in graph.components)


def _random_like(shapes):
  """float64 normal draws shaped like `shapes` (cheaper than compiling flax's init)."""
  rng = np.random.default_rng(5)
  return jax.tree_util.tree_map(
      lambda s: _normal(rng, s.shape, 1 / np.sqrt(max(s.shape[0], 1))), shapes)


def _full_ntk(f, params, x1, x2):
  """Explicit J(x1) J(x2)^T of shape f(x1).shape + f(x2).shape from the flat Jacobian of
  the stacked inputs (one compilation)."""
  flat, unravel = ravel_pytree(params)
  jac = np.asarray(jax.jit(jax.jacrev(lambda p, x: f(unravel(p), x)))(
      flat, jnp.concatenate([x1, x2])))
  return np.tensordot(jac[:len(x1)], jac[len(x1):], axes=(-1, -1))


# NT layouts of outputs (N, T, O) from the full kernel (n t o m s p), for x2 given / x2 = x1.
LAYOUTS = [
    ((), (), lambda k: np.einsum("ntomsp->nmtsop", k)),
    ((-1,), (), lambda k: np.einsum("ntomso->nmts", k) / 3),
    ((-1,), (1,), lambda k: np.einsum("ntomto->nmt", k) / 3),
    ((1, 2), (), lambda k: np.einsum("ntomto->nm", k) / 6),
    ((), (-1,), lambda k: np.einsum("ntomso->nmtso", k)),
]
SAME_INPUT_LAYOUT = ((-1,), (0,), lambda k: np.einsum("ntonso->nts", k) / 3)


@pytest.fixture(scope="module")
def token_kernels():
  """The token net's explicit full kernels J(x1) J(x2)^T and J(x1) J(x1)^T (float64)."""
  with jax.enable_x64(True):
    params, x1, x2 = _token_setup()
    full = _full_ntk(_token_net, params, x1, jnp.concatenate([x1, x2]))
  return full[..., :len(x1), :, :], full[..., len(x1):, :, :]


def test_equals_explicit_jacobians_with_nt_axes(x64, token_kernels):
  params, x1, x2 = _token_setup()
  full_11, full_12 = token_kernels
  fns = [ntk.empirical_ntk_fn(_token_net, t, d, 0, SD) for t, d, _ in LAYOUTS]
  t, d, same_layout = SAME_INPUT_LAYOUT
  same_fn = ntk.empirical_ntk_fn(_token_net, t, d, 0, SD)
  unbatched = ntk.empirical_ntk_fn(_token_net, (), (), None, SD)

  @jax.jit
  def kernels(x1, x2, params):
    return ([fn(x1, x2, params) for fn in fns], same_fn(x1, None, params),
            unbatched(x1, x2, params))

  cross, same, full = kernels(x1, x2, params)
  for got, (_, _, layout) in zip(cross, LAYOUTS):
    np.testing.assert_allclose(got, layout(full_12), rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(same, same_layout(full_11), rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(full, LAYOUTS[0][2](full_12), rtol=1e-10, atol=1e-12)
  assert _rules(_token_net, params, x1) == ["bias", "dot", "dot", "generic"]


def test_flax_cnn_conv_and_dense_rules(x64):
  model = models.build("cnn", outputs=3, width=4, depth=2)
  x = jnp.asarray(np.random.default_rng(1).uniform(size=(3, 8, 8, 1)))
  shapes = jax.eval_shape(lambda: models.init(model, jax.random.key(0),
                                                jnp.ones((1, 8, 8, 1), jnp.float32)))
  params = _random_like(shapes)
  # Jacobian contraction is checked against explicit Jacobians in test_ntk_empirical.py.
  fns = [ntk.empirical_ntk_fn(model.apply, trace_axes=(), vmap_axes=0, implementation=i)
         for i in (SD, JC)]
  got, expected = jax.jit(lambda x1, x2, p: [fn(x1, x2, p) for fn in fns])(x, x[:2], params)
  np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
  # Each bias joins its convolution's / dense layer's rule (one ones-row more in h).
  assert _rules(model.apply, params, x[:1]) == ["bias"] * 4 + ["conv"] * 2 + ["dot"] * 2


def test_stax_mlp_with_ntk_parameterization(x64):
  init, apply, _ = stax.serial(stax.Dense(16, W_std=1.5, b_std=0.1), stax.Erf(),
                               stax.Dense(4, W_std=2.0, b_std=0.05))
  _, shapes = jax.eval_shape(lambda: init(jax.random.key(0), (5, 6)))
  params = _random_like(shapes)
  x = _normal(np.random.default_rng(1), (5, 6))
  got = jax.jit(ntk.empirical_ntk_fn(apply, trace_axes=(), implementation=SD))(x, x[:2], params)
  expected = np.einsum("nomp->nmop", _full_ntk(apply, params, x, x[:2]))
  np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
  assert _rules(apply, params, x) == ["dot", "dot", "generic", "generic"]


def _small_params():
  rng = np.random.default_rng(2)
  return {"w": _normal(rng, (3, 6)), "b": _normal(rng, (6,)), "s": _normal(rng, (6,)),
          "c": _normal(rng, (1,))}


NETS = {
    # bias-only parameter: the add/broadcast rule
    "bias only": (lambda p, x: jnp.sin(x @ jnp.ones((3, 6)) + p["b"][None]), ["generic"]),
    # W reached through transpose and literal scalings: the dot rule with c^2
    "scaled transpose": (lambda p, x: jnp.tanh(x @ (-(2.0 * p["w"].T).T / 3.0)) @ p["s"],
                         ["dot", "dot"]),
    # elementwise product by a parameter, and a weight used twice (shared)
    "elementwise and shared": (lambda p, x: jnp.tanh(x @ p["w"] * p["s"][None]) @ p["w"].T,
                               ["generic", "generic"]),
    # two leaves meeting before the input (one component, two leaves)
    "two-leaf bias": (lambda p, x: jnp.cos(x @ p["w"] + (p["b"] * p["s"])[None]),
                      ["dot", "generic"]),
    # a reshaped, scaled bias right after a dense layer: the bias rule (ones-row in h)
    "scaled bias": (lambda p, x: jnp.tanh(x @ p["w"] + (-0.5 * p["b"]).reshape(1, 6)) @ p["s"],
                    ["bias", "dot", "dot"]),
    # the dense output is used again, or the "bias" broadcasts along W's axis: no bias rule
    "reused output": (lambda p, x: (lambda y: jnp.sin(y + p["b"][None]) * y)(x @ p["w"]) @ p["s"],
                      ["dot", "dot", "generic"]),
    "scalar offset": (lambda p, x: jnp.sin(x @ p["w"] + p["c"][None]) @ p["s"],
                      ["dot", "dot", "generic"]),
}


def test_rules_and_fallbacks(x64):
  params = _small_params()
  x = _normal(np.random.default_rng(3), (4, 3))
  fns = [[ntk.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0, implementation=i)
          for i in (SD, JC)] for f, _ in NETS.values()]
  kernels = jax.jit(lambda x1, x2, p: [[fn(x1, x2, p) for fn in pair] for pair in fns])(
      x, x[:2], params)
  for (name, (f, rules)), (got, expected) in zip(NETS.items(), kernels):
    assert _rules(f, params, x[:1]) == rules, name
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)
    assert np.max(np.abs(expected)) > 1e-3


def test_kwargs_axes_and_pytree_outputs(x64):
  params, x1, _ = _token_setup()
  scale = jnp.linspace(0.5, 2.0, x1.shape[0])

  def f(p, x, scale):
    out = _token_net(p, x) * scale[:, None, None]
    return {"a": out, "b": jnp.sum(out, axis=1)}

  fns = [ntk.empirical_ntk_fn(f, vmap_axes=(0, {"a": 0, "b": 0}, {"scale": 0}),
                              implementation=i) for i in (JC, SD)]
  expected, got = jax.jit(lambda x, p, s: [fn(x, None, p, scale=s) for fn in fns])(
      x1, params, scale)
  for key in ("a", "b"):
    np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, atol=1e-12)


def test_parameter_only_output_falls_back_to_jacobian_contraction(x64):
  params = _small_params()
  x = _normal(np.random.default_rng(3), (4, 3))
  f = lambda p, x: (x @ p["w"], p["b"] * p["s"])   # the second output ignores x
  assert _rules(f, params, x) is None
  fns = [ntk.empirical_ntk_fn(f, trace_axes=(), implementation=i) for i in (JC, SD)]
  expected, got = jax.jit(lambda x, p: [fn(x, None, p) for fn in fns])(x, params)
  for e, g in zip(expected, got):
    np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_auto_times_the_implementations_and_keeps_the_fastest(x64, monkeypatch, token_kernels):
  from jaxlab.ntk import empirical
  params, x1, x2 = _token_setup()
  monkeypatch.setattr(empirical, "MEASURE_ABOVE_FLOPS", 0.0)   # measure even this tiny case
  auto = ntk.empirical_ntk_fn(_token_net, vmap_axes=0)
  got = jax.jit(auto)(x1, x2, params)
  np.testing.assert_allclose(got, LAYOUTS[1][2](token_kernels[1]), rtol=1e-10, atol=1e-12)
  (times,) = auto.implementation_times.values()
  (choice,) = auto.implementation_choices.values()
  assert SD in times and all(t > 0 for t in times.values())
  assert choice == min(times, key=times.get)
  # Tracing again with the same shapes reuses the choice (no second measurement).
  jax.jit(auto)(x1 + 1.0, x2, params)
  assert len(auto.implementation_times) == 1
