"""Infinite-width networks as `(init_fn, apply_fn, kernel_fn)` triples: neural-tangents'
`stax`, on public JAX APIs (`from neural_tangents import stax` -> `from jaxlab.ntk import
stax`).

  import jax
  from jaxlab.ntk import stax

  init_fn, apply_fn, kernel_fn = stax.serial(
      stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu(),
      stax.Dense(512, W_std=1.5, b_std=0.05), stax.Relu(),
      stax.Dense(1, W_std=1.5, b_std=0.05))
  x1 = jax.random.normal(jax.random.key(0), (10, 8))
  x2 = jax.random.normal(jax.random.key(1), (4, 8))
  kernel_fn(x1, x2, "ntk")                        # (10, 4) infinite-width NTK
  kernel_fn(x1, None, ("nngp", "ntk"))            # AnalyticKernel(nngp=(10, 10), ntk=(10, 10))
  _, params = init_fn(jax.random.key(2), x1.shape)
  apply_fn(params, x1)                            # (10, 1) finite-width network

Inputs are `(N, d)` or `(N, tokens, d)` (any number of spatial axes, channels last); kernels
of token inputs keep the token pairs, `(N1, N2, T, T)`, until `GlobalAvgPool` or `Flatten`.
Values agree with neural-tangents 0.6.5 to float64 precision (tests/test_ntk_stax.py).

Layers: serial, parallel, FanOut, FanInSum (combinators); Dense, Identity, GlobalAvgPool,
Flatten, GlobalSelfAttention (linear_scaling=True), LayerNorm (linear); Relu, ABRelu,
LeakyRelu, Abs, Erf (elementwise). `Kernel` is what `kernel_fn(..., get=None)` returns.
"""

from jaxlab.ntk.combinators import FanInSum, FanOut, parallel, serial
from jaxlab.ntk.elementwise import ABRelu, Abs, Erf, LeakyRelu, Relu
from jaxlab.ntk.kernel import Kernel
from jaxlab.ntk.linear import (Dense, Flatten, GlobalAvgPool, GlobalSelfAttention, Identity,
                               LayerNorm)

__all__ = [
    "ABRelu", "Abs", "Dense", "Erf", "FanInSum", "FanOut", "Flatten", "GlobalAvgPool",
    "GlobalSelfAttention", "Identity", "Kernel", "LayerNorm", "LeakyRelu", "Relu", "parallel",
    "serial",
]
