"""NTK engine on public JAX APIs, with neural-tangents' API (`import neural_tangents as nt`
becomes `from jaxlab import ntk as nt`).

  import jax, jax.numpy as jnp
  from jaxlab import ntk

  def f(params, x):                                   # any f(params, x); Flax apply works too
    return jnp.tanh(x @ params["w1"]) @ params["w2"] / 8.0

  k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
  params = {"w1": jax.random.normal(k1, (5, 64)), "w2": jax.random.normal(k2, (64, 3))}
  x = jax.random.normal(k3, (10, 5))
  ntk_fn = jax.jit(ntk.empirical_ntk_fn(f, vmap_axes=0))
  theta = ntk_fn(x, None, params)                     # (10, 10), averaged over the 3 outputs
  full = ntk.empirical_ntk_fn(f, trace_axes=())(x, x[:4], params)   # (10, 4, 3, 3)
  ntk.lambda_min(theta), ntk.condition_number(theta)                # float64 under x64

Contents:
  empirical_ntk_fn, empirical_nngp_fn, empirical_kernel_fn, empirical_ntk_vp_fn, linearize,
    NtkImplementation, ntk_implementation_costs   (`jaxlab.ntk.empirical`)
  batch                                            (`jaxlab.ntk.batching`)
  lambda_min, lambda_max, condition_number         (re-exported from `jaxlab.kernels.spectral`)
"""

from jaxlab.kernels.spectral import condition_number, lambda_max, lambda_min
from jaxlab.ntk.batching import batch
from jaxlab.ntk.empirical import (NtkImplementation, empirical_kernel_fn, empirical_nngp_fn,
                                  empirical_ntk_fn, empirical_ntk_vp_fn, kernel_shape, linearize,
                                  ntk_implementation_costs)

__all__ = [
    "NtkImplementation", "batch", "condition_number", "empirical_kernel_fn",
    "empirical_nngp_fn", "empirical_ntk_fn", "empirical_ntk_vp_fn", "kernel_shape",
    "lambda_max", "lambda_min", "linearize", "ntk_implementation_costs",
]
