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

  from jaxlab.ntk import stax                   # infinite width, same values as NT 0.6.5
  init_fn, apply_fn, kernel_fn = stax.serial(stax.Dense(512), stax.Relu(), stax.Dense(3))
  k_dd = kernel_fn(x, None, ("nngp", "ntk"))     # AnalyticKernel(nngp=(10, 10), ntk=(10, 10))
  y = jnp.ones((10, 3))
  ntk.predict.gradient_descent_mse(k_dd.ntk, y)(t=None, fx_train_0=0.0, fx_test_0=0.0,
                                                 k_test_train=k_dd.ntk)   # ((10, 3), (10, 3))
  ensemble = ntk.predict.gradient_descent_mse_ensemble(kernel_fn, x, y)
  ensemble(t=5.0, x_test=x[:4], get="ntk", compute_cov=True)   # Gaussian((4, 3), (4, 4))
  mc = ntk.monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.key(1), 4, vmap_axes=0)
  mc(x, None, "ntk")                                                     # (10, 10)
  ntk.batch(kernel_fn, batch_size=4, device_count=-1)(x, None, "ntk")    # (10, 10), tiled

Contents:
  empirical_ntk_fn, empirical_nngp_fn, empirical_kernel_fn, empirical_ntk_vp_fn, linearize,
    taylor_expand, NtkImplementation, ntk_implementation_costs   (`jaxlab.ntk.empirical`)
  batch                                            (`jaxlab.ntk.batching`, over devices)
  stax: serial, parallel, Dense, Conv, AvgPool, Relu, Gelu, ...   (`jaxlab.ntk.stax`)
  monte_carlo_kernel_fn                            (`jaxlab.ntk.monte_carlo`)
  predict: gradient_descent_mse, gradient_descent_mse_ensemble, gradient_descent, gp_inference,
    max_learning_rate, Gaussian, ODEState          (`jaxlab.ntk.predict`)
  lambda_min, lambda_max, condition_number         (re-exported from `jaxlab.kernels.spectral`)
A name-by-name map from neural-tangents is in docs/coming_from_neural_tangents.md.
"""

from jaxlab.kernels.spectral import condition_number, lambda_max, lambda_min
from jaxlab.ntk import predict, stax
from jaxlab.ntk.batching import batch
from jaxlab.ntk.empirical import (NtkImplementation, empirical_kernel_fn, empirical_nngp_fn,
                                  empirical_ntk_fn, empirical_ntk_vp_fn, kernel_shape, linearize,
                                  ntk_implementation_costs, taylor_expand)
from jaxlab.ntk.kernel import Kernel
from jaxlab.ntk.monte_carlo import monte_carlo_kernel_fn

__all__ = [
    "Kernel", "NtkImplementation", "batch", "condition_number", "empirical_kernel_fn",
    "empirical_nngp_fn", "empirical_ntk_fn", "empirical_ntk_vp_fn", "kernel_shape",
    "lambda_max", "lambda_min", "linearize", "monte_carlo_kernel_fn",
    "ntk_implementation_costs", "predict", "stax", "taylor_expand",
]
