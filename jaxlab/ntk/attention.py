"""Global self-attention at infinite width ("Infinite attention", Hron et al. 2020,
arXiv:2006.10540), NT's `GlobalSelfAttention` with `linear_scaling=True`.

  from jaxlab.ntk import stax
  init_fn, apply_fn, kernel_fn = stax.serial(
      stax.Dense(64), stax.GlobalSelfAttention(64, 64, 64, n_heads=4), stax.Relu(),
      stax.GlobalAvgPool(), stax.Dense(1))
  _, params = init_fn(key, (8, 5, 16))     # x: (N, tokens, d)
  apply_fn(params, x)                      # (8, 1)
  kernel_fn(x, None, "ntk")                # (8, 8)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlab.ntk.kernel import (Bool, Covariances, Diagonal, Requirements, check_layout,
                               layer_kernel_fn)
from jaxlab.ntk.linear import affine as _affine


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
    if (batch_axis % len(input_shape), channel_axis % len(input_shape)) != (
        0, len(input_shape) - 1):
      raise NotImplementedError("GlobalSelfAttention: only batch_axis=0 and channel_axis=-1 "
                                "are supported")
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
    check_layout(c, "GlobalSelfAttention", batch_axis, channel_axis)
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
                     shape1=shape(c.shape1), shape2=shape(c.shape2), is_gaussian=True,
                     is_input=False)

  return init_fn, apply_fn, layer_kernel_fn(transform, Requirements(
      Diagonal(input=Bool.NO), batch_axis, channel_axis), "GlobalSelfAttention")
