"""Networks as `(init_fn, apply_fn, kernel_fn)` triples: neural-tangents' `stax` on public
JAX APIs (`from neural_tangents import stax` -> `from jaxlab.ntk import stax`).

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
  images = jax.random.normal(jax.random.key(3), (3, 4, 4, 2))
  _, _, cnn_kernel_fn = stax.serial(stax.Conv(64, (3, 3), padding="SAME"), stax.Relu(),
                                    stax.AvgPool((2, 2), (2, 2)), stax.Flatten(),
                                    stax.Dense(1))
  cnn_kernel_fn(images, None, "ntk")              # (3, 3) CNTK

Inputs are `(N, d)`, `(N, tokens, d)` or images `(N, H, W, C)` (any number of spatial axes;
other layouts through `batch_axis` / `channel_axis` / `dimension_numbers`); kernels keep the
spatial pairs, `(N1, N2, H, H, W, W)`, until `GlobalAvgPool` or `Flatten`. Values agree with
neural-tangents 0.6.5 to float64 precision (tests/ntk/test_ntk_stax*.py).

Layers:
  combinators: serial, parallel, repeat; FanOut, FanInSum, FanInProd, FanInConcat.
  linear: Dense, Identity, DotGeneral, Index (with Slice), Dropout, LayerNorm,
    GlobalSelfAttention (linear_scaling=True).
  convolutions and pooling: Conv, ConvTranspose, ConvLocal, AvgPool, SumPool, GlobalAvgPool,
    GlobalSumPool, Flatten.
  nonlinearities: Relu, ABRelu, LeakyRelu, Abs, Sign, Erf, Sigmoid_like, Gelu, Sin, Cos, Rbf,
    Exp, Gaussian, Gabor, Monomial, RectifiedMonomial, Polynomial, Hermite, and any
    activation through Elementwise (closed form) or ElementwiseNumerical (quadrature).
`Kernel` is what `kernel_fn(..., get=None)` returns; `Bool` / `Diagonal` state which
covariances a layer needs.
"""

from jaxlab.ntk.attention import GlobalSelfAttention
from jaxlab.ntk.branching import FanInConcat, FanInProd, FanInSum, FanOut
from jaxlab.ntk.combinators import parallel, repeat, serial
from jaxlab.ntk.convolution import Conv, ConvLocal, ConvTranspose
from jaxlab.ntk.elementwise import (ABRelu, Abs, Cos, Elementwise, ElementwiseNumerical, Erf,
                                    Exp, Gabor, Gaussian, Gelu, Hermite, LeakyRelu, Monomial,
                                    Polynomial, Rbf, RectifiedMonomial, Relu, Sigmoid_like, Sign,
                                    Sin)
from jaxlab.ntk.kernel import Bool, Diagonal, Kernel
from jaxlab.ntk.linear import Dense, DotGeneral, Dropout, Identity, Index, LayerNorm, Slice
from jaxlab.ntk.pooling import AvgPool, Flatten, GlobalAvgPool, GlobalSumPool, SumPool

__all__ = [
    "ABRelu", "Abs", "AvgPool", "Bool", "Conv", "ConvLocal", "ConvTranspose", "Cos", "Dense",
    "Diagonal", "DotGeneral", "Dropout", "Elementwise", "ElementwiseNumerical", "Erf", "Exp",
    "FanInConcat", "FanInProd", "FanInSum", "FanOut", "Flatten", "Gabor", "Gaussian", "Gelu",
    "GlobalAvgPool", "GlobalSelfAttention", "GlobalSumPool", "Hermite", "Identity", "Index",
    "Kernel", "LayerNorm", "LeakyRelu", "Monomial", "Polynomial", "Rbf", "RectifiedMonomial",
    "Relu", "Sigmoid_like", "Sign", "Sin", "Slice", "SumPool", "parallel", "repeat", "serial",
]
