"""Linear layers (Dense, attention, pooling, normalisation) and their infinite-width kernel
maps, with neural-tangents' `stax` names, arguments, defaults and values.

  from jaxlab.ntk import stax
  init_fn, apply_fn, kernel_fn = stax.serial(
      stax.Dense(64), stax.GlobalSelfAttention(64, 64, 64, n_heads=4), stax.Relu(),
      stax.GlobalAvgPool(), stax.Dense(1))
  _, params = init_fn(key, (8, 5, 16))     # x: (N, tokens, d)
  apply_fn(params, x)                      # (8, 1)
  kernel_fn(x, None, "ntk")                # (8, 8)

Layers act on the last (channel) axis of inputs `(N, *spatial, C)`; `batch_axis=0` and
`channel_axis=-1` are the only supported layout (the arguments exist for NT compatibility).
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

from jaxlab.ntk.kernel import Covariances, layer_kernel_fn, outer, outer_self


def _check_layout(name: str, batch_axis: int = 0, channel_axis: int = -1) -> None:
  if batch_axis != 0 or channel_axis != -1:
    raise NotImplementedError(f"{name}: only batch_axis=0 and channel_axis=-1 are supported, "
                              f"got batch_axis={batch_axis}, channel_axis={channel_axis}")


def _affine(m: jax.Array, w_std: float, b_std: float | None) -> jax.Array:
  """Covariance of x W + b for i.i.d. weights of variance w_std^2 (and biases b_std^2)."""
  m = w_std ** 2 * m
  return m if b_std is None else m + b_std ** 2


def Identity():
  """Identity (no-op)."""
  return (lambda rng, input_shape: (input_shape, ()),
          lambda params, inputs, **kwargs: inputs,
          layer_kernel_fn(lambda c: c, True, "Identity"))


def Dense(out_dim: int, W_std: float = 1.0, b_std: float | None = None, batch_axis: int = 0,
          channel_axis: int = -1, parameterization: str = "ntk", s: tuple[int, int] = (1, 1)):
  """Fully-connected layer on the channel axis.

  `parameterization='ntk'` (Jacot et al. 2018, arXiv:1806.07572): W_ij, b_i ~ N(0, 1) and
  z = W_std / sqrt(n_in) x W + b_std b; the kernel map is
  nngp' = W_std^2 nngp + b_std^2, ntk' = nngp' + W_std^2 ntk (independent of `out_dim`).
  `parameterization='standard'` (Sohl-Dickstein et al. 2020, arXiv:2001.07301): W_ij ~
  N(0, W_std^2 / (n_in / s[0])), b_i ~ N(0, b_std^2), z = x W / sqrt(s[0]) + b, width of W
  `(s[0] n_in, s[1] out_dim)`; ntk' = (n_in / s[0]) nngp + W_std^2 ntk + [1 if bias].

  Args:
    out_dim: output channels. W_std, b_std: weight / bias standard deviations (`b_std=None`:
    no bias). parameterization: 'ntk' or 'standard'. s: width scalings of the standard
    parameterization (`(1, 1)` for the usual He-style layer).
  """
  _check_layout("Dense", batch_axis, channel_axis)
  parameterization = parameterization.lower()
  if parameterization not in ("ntk", "standard"):
    raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")
  standard = parameterization == "standard"
  width_out = out_dim * s[1] if standard else out_dim

  def init_fn(rng, input_shape):
    k_w, k_b = jax.random.split(rng)
    w = jax.random.normal(k_w, (input_shape[-1], width_out))
    b = None if b_std is None else jax.random.normal(k_b, (1,) * (len(input_shape) - 1)
                                                     + (width_out,))
    if standard:
      w = w * W_std / (input_shape[-1] / s[0]) ** 0.5
      b = None if b is None else b * b_std
    return tuple(input_shape[:-1]) + (width_out,), (w, b)

  def apply_fn(params, inputs, **kwargs):
    del kwargs
    w, b = params
    if standard:
      out = inputs @ w / s[0] ** 0.5
      return out if b is None else out + b
    out = (W_std / inputs.shape[-1] ** 0.5) * (inputs @ w)
    return out if b is None else out + b_std * b

  def transform(c: Covariances) -> Covariances:
    if standard:
      ntk = None
      if c.ntk is not None:
        ntk = (c.shape1[-1] / s[0]) * c.nngp + W_std ** 2 * c.ntk
        ntk = ntk if b_std is None else ntk + 1.0
      c = c.map(lambda m: _affine(m, W_std, b_std), ntk_too=False).replace(ntk=ntk)
    else:
      c = c.map(lambda m: _affine(m, W_std, b_std), ntk_too=False)
      c = c.replace(ntk=None if c.ntk is None else c.nngp + W_std ** 2 * c.ntk)
    return c.replace(shape1=c.shape1[:-1] + (width_out,), shape2=c.shape2[:-1] + (width_out,),
                     is_gaussian=True)

  return init_fn, apply_fn, layer_kernel_fn(transform, True, "Dense")


def _pooled_shape(shape) -> tuple:
  return (shape[0], shape[-1])


def GlobalAvgPool(batch_axis: int = 0, channel_axis: int = -1):
  """Mean over all spatial axes: nngp'[a, b] = mean_{t, s} nngp[a, b, t, s]."""
  _check_layout("GlobalAvgPool", batch_axis, channel_axis)

  def init_fn(rng, input_shape):
    del rng
    return _pooled_shape(input_shape), ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return jnp.mean(inputs, axis=tuple(range(1, inputs.ndim - 1)))

  def transform(c: Covariances) -> Covariances:
    pool = lambda m: jnp.mean(m, axis=(-2, -1), keepdims=True)
    return c.map(pool).replace(shape1=_pooled_shape(c.shape1), shape2=_pooled_shape(c.shape2))

  return init_fn, apply_fn, layer_kernel_fn(transform, False, "GlobalAvgPool")


def Flatten(batch_axis: int = 0, batch_axis_out: int = 0):
  """Flatten all non-batch axes: nngp'[a, b] = mean_t nngp[a, b, t, t] (the 1 / fan-in of
  the next layer averages the positions); the result is not Gaussian (NT semantics)."""
  if batch_axis != 0 or batch_axis_out not in (0, -2):
    raise NotImplementedError(f"Flatten: only batch_axis=0 and batch_axis_out=0 are "
                              f"supported, got {batch_axis}, {batch_axis_out}")
  flat = lambda shape: (shape[0], math.prod(shape[1:]))

  def init_fn(rng, input_shape):
    del rng
    return flat(input_shape), ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return inputs.reshape(flat(inputs.shape))

  def transform(c: Covariances) -> Covariances:
    diag_mean = lambda m: jnp.mean(jnp.diagonal(m, axis1=-2, axis2=-1), axis=-1)[..., None, None]
    return c.map(diag_mean).replace(shape1=flat(c.shape1), shape2=flat(c.shape2),
                                    is_gaussian=False)

  return init_fn, apply_fn, layer_kernel_fn(transform, True, "Flatten")


_MECHANISMS = {
    "SOFTMAX": lambda g: jax.nn.softmax(g, axis=-1),
    "IDENTITY": lambda g: g,
    "ABS": jnp.abs,
    "RELU": lambda g: jnp.maximum(g, 0.0),
}


def GlobalSelfAttention(n_chan_out: int, n_chan_key: int, n_chan_val: int, n_heads: int,
                        linear_scaling: bool = True, W_key_std: float = 1.0,
                        W_value_std: float = 1.0, W_query_std: float = 1.0,
                        W_out_std: float = 1.0, b_std: float | None = None,
                        attention_mechanism: str = "SOFTMAX", pos_emb_type: str = "NONE",
                        pos_emb_p_norm: float = 2, pos_emb_decay_fn=None,
                        n_chan_pos_emb: int | None = None, W_pos_emb_std: float = 1.0,
                        val_pos_emb: bool = False, batch_axis: int = 0, channel_axis: int = -1):
  """Global self-attention over all spatial positions (tokens), NTK parameterization.

  Per head h: G_h = mechanism(Q_h K_h^T * W_query_std W_key_std / (n_in n_chan_key^p)) with
  p = 1 if `linear_scaling` (keys and queries tied, Q = K) else 1/2; output
  concat_h(G_h V_h) W_out * W_out_std W_value_std / sqrt(n_chan_val n_heads n_in) + b_std b.
  With `linear_scaling=True` the heads/key widths -> infinity limit has a closed form
  ("Infinite attention", Hron et al. 2020, arXiv:2006.10540): per example the attention
  weights converge to G = mechanism(W_query_std W_key_std cov) (softmax over the key axis)
  and, with OV = W_out_std W_value_std,
    nngp' = OV^2 G1 nngp G2^T + b_std^2,
    ntk'  = OV^2 G1 ntk G2^T + b_std^2 + 2 (nngp' - b_std^2).
  `linear_scaling=False` has an `apply_fn` but no closed-form kernel (NotImplementedError).
  Positional embeddings (`pos_emb_*`) are not supported; the arguments exist for NT
  compatibility and must keep their defaults.

  Args:
    n_chan_out, n_chan_key, n_chan_val, n_heads: widths (the kernel needs none of them).
    attention_mechanism: 'SOFTMAX', 'IDENTITY', 'ABS' or 'RELU'.
  """
  _check_layout("GlobalSelfAttention", batch_axis, channel_axis)
  mechanism_name = attention_mechanism.upper()
  if mechanism_name not in _MECHANISMS:
    raise ValueError(f"attention_mechanism must be one of {sorted(_MECHANISMS)}, got "
                     f"{attention_mechanism!r}")
  mechanism = _MECHANISMS[mechanism_name]
  if str(pos_emb_type).upper() != "NONE" or val_pos_emb or pos_emb_decay_fn is not None:
    raise NotImplementedError("GlobalSelfAttention: positional embeddings are not supported "
                              "(pos_emb_type must be 'NONE')")
  del pos_emb_p_norm, n_chan_pos_emb, W_pos_emb_std
  qk_std = W_query_std * W_key_std
  ov_std = W_out_std * W_value_std

  def init_fn(rng, input_shape):
    k_q, k_k, k_v, k_o, k_b = jax.random.split(rng, 5)
    n_in = input_shape[-1]
    keys = jax.random.normal(k_k, (n_heads, n_in, n_chan_key))
    values = jax.random.normal(k_v, (n_heads, n_in, n_chan_val))
    w_out = jax.random.normal(k_o, (n_chan_val * n_heads, n_chan_out))
    b = None if b_std is None else jax.random.normal(k_b, (1,) * (len(input_shape) - 1)
                                                     + (n_chan_out,))
    queries = None if linear_scaling else jax.random.normal(k_q, (n_heads, n_in, n_chan_key))
    return tuple(input_shape[:-1]) + (n_chan_out,), (queries, keys, values, w_out, b, None)

  def apply_fn(params, inputs, **kwargs):
    del kwargs
    queries, keys, values, w_out, b, _ = params
    n, n_in = inputs.shape[0], inputs.shape[-1]
    x = inputs.reshape(n, -1, n_in)                                     # (N, T, C)
    k = jnp.einsum("ntc,hck->hntk", x, keys)
    q = k if linear_scaling else jnp.einsum("ntc,hck->hntk", x, queries)
    v = jnp.einsum("ntc,hcv->hntv", x, values)
    scale = qk_std / (n_in * n_chan_key ** (1.0 if linear_scaling else 0.5))
    g = mechanism(jnp.einsum("hntk,hnsk->hnts", q, k) * scale)
    heads = jnp.einsum("hnts,hnsv->ntvh", g, v).reshape(n, x.shape[1], -1)
    out = heads @ w_out * (ov_std / (n_chan_val * n_heads * n_in) ** 0.5)
    out = out.reshape(inputs.shape[:-1] + (n_chan_out,))
    return out if b is None else out + b_std * b

  def transform(c: Covariances) -> Covariances:
    if not linear_scaling:
      raise NotImplementedError(
          "GlobalSelfAttention(linear_scaling=False) has no closed-form infinite-width kernel; "
          "use linear_scaling=True (tied keys and queries)")
    g1 = mechanism(qk_std * c.cov1)                                   # (N1, T, T)
    g2 = g1 if c.cov2 is None else mechanism(qk_std * c.cov2)
    weigh = lambda m: _affine(jnp.einsum("ats,absu,bpu->abtp", g1, m, g2), ov_std, b_std)
    weigh_cov = lambda m, g: _affine(jnp.einsum("ats,asu,apu->atp", g, m, g), ov_std, b_std)
    nngp = weigh(c.nngp)
    ntk = None
    if c.ntk is not None:
      ntk = weigh(c.ntk) + 2 * (nngp if b_std is None else nngp - b_std ** 2)
    shape = lambda s: tuple(s[:-1]) + (n_chan_out,)
    return c.replace(nngp=nngp, ntk=ntk, cov1=weigh_cov(c.cov1, g1),
                     cov2=None if c.cov2 is None else weigh_cov(c.cov2, g2),
                     shape1=shape(c.shape1), shape2=shape(c.shape2), is_gaussian=True)

  return init_fn, apply_fn, layer_kernel_fn(transform, False, "GlobalSelfAttention")


def _norm_axes(axis, ndim: int) -> tuple[int, ...]:
  axes = (axis,) if isinstance(axis, int) else tuple(axis)
  for a in axes:
    if not -ndim <= a < ndim:
      raise ValueError(f"LayerNorm: axis {a} is out of range for inputs of rank {ndim}")
  return tuple(sorted({a % ndim for a in axes}))


def LayerNorm(axis: int | Sequence[int] = -1, eps: float = 1e-12, batch_axis: int = 0,
              channel_axis: int = -1):
  """(x - mean) / sqrt(eps + var) over `axis` (which must include the channel axis), without
  learned scale or shift. For Gaussian inputs in the infinite-width limit the mean vanishes
  and the variance concentrates on the mean of cov's diagonal over the normalised positions:
  nngp'[a, b, t, s] = nngp[a, b, t, s] / sqrt((eps + v1[a, t]) (eps + v2[b, s])), ntk alike.
  """
  _check_layout("LayerNorm", batch_axis, channel_axis)

  def init_fn(rng, input_shape):
    del rng
    return input_shape, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    axes = _norm_axes(axis, inputs.ndim)
    mean = jnp.mean(inputs, axis=axes, keepdims=True)
    var = jnp.var(inputs, axis=axes, keepdims=True)
    return (inputs - mean) / jnp.sqrt(eps + var)

  def transform(c: Covariances) -> Covariances:
    if not c.is_gaussian:
      raise NotImplementedError("LayerNorm is only implemented for Gaussian inputs (after an "
                                "affine layer such as Dense)")
    ndim = len(c.shape1)
    axes = _norm_axes(axis, ndim)
    if ndim - 1 not in axes:
      raise ValueError(f"LayerNorm must normalise over the channel axis ({ndim - 1}) for the "
                       f"infinite-width kernel to exist; got axis={axis}")
    kernel_axes = tuple(a for a in axes if a != ndim - 1)   # 0: batch, 1..: spatial

    def scale(v, shape):
      v = eps + v.reshape(shape[:-1])
      if kernel_axes:
        v = jnp.broadcast_to(jnp.mean(v, axis=kernel_axes, keepdims=True), v.shape)
      return v.reshape(shape[0], -1)

    v1, v2 = c.variances()
    s1 = scale(v1, c.shape1)
    s2 = s1 if c.cov2 is None else scale(v2, c.shape2)
    root = jnp.sqrt(outer(s1, s2))
    return c.replace(nngp=c.nngp / root, ntk=None if c.ntk is None else c.ntk / root,
                     cov1=c.cov1 / jnp.sqrt(outer_self(s1)),
                     cov2=None if c.cov2 is None else c.cov2 / jnp.sqrt(outer_self(s2)))

  diagonal_ok = isinstance(axis, int) and axis in (-1,)
  return init_fn, apply_fn, layer_kernel_fn(transform, diagonal_ok, "LayerNorm")
