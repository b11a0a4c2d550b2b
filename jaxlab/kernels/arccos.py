"""The degree-1 arc-cosine kernel (Cho & Saul 2009) as a jaxlab kernel, in closed form.

  from jaxlab.kernels import arccos, ridge
  k = arccos.arc_cosine()
  x = two_layer.with_bias_coordinate(synthetic.sphere(key, 512, 5))    # (512, 6), unit rows
  gram = k(x)                                     # (512, 512), ones on the diagonal
  preds = ridge.predictions(ridge.path(gram), k(x_test, x), y, lams)   # KRR, (L, m)

For inputs x, x' with t = x.x' / (||x|| ||x'||) (clipped to [-1, 1] before arccos: rounding
makes |t| > 1 and arccos NaN) and theta = arccos t,

  k(x, x') = ||x|| ||x'|| (sqrt(1 - t^2) + (pi - theta) t) / pi
           = 2 E_{w ~ N(0, I)} [relu(w.x) relu(w.x')],     k(x, x) = ||x||^2,

the kernel of a random-features two-layer ReLU network (Liu, Dadi & Cevher, arXiv:2404.18769,
section 2.2, on the unit vectors x~ of `jaxlab.models.two_layer.with_bias_coordinate`). It is
the ReLU NNGP of `jaxlab.ntk.stax` up to scale: with D input features,
  k = (2 D / W_std^2) * stax.serial(stax.Dense(1, W_std=W_std), stax.Relu())[2](x, x', "nngp")
(the NT parameterisation divides x.x' by D). Compute it in float64 when it feeds a ridge solve
(the oracle ridge of a learning curve reaches 1e-7): the kernel does not change the dtype.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxlab.kernels.kernel_fns import Kernel, _pair


def profile(t: jax.Array) -> jax.Array:
  """k on unit vectors as a function of the cosine t: (sqrt(1 - t^2) + (pi - arccos t) t) / pi,
  with t clipped to [-1, 1]; k(1) = 1, k(-1) = 0, k(0) = 1 / pi."""
  t = jnp.clip(t, -1.0, 1.0)
  return (jnp.sqrt(jnp.maximum(1.0 - t * t, 0.0)) + (math.pi - jnp.arccos(t)) * t) / math.pi


def arc_cosine() -> Kernel:
  """The degree-1 arc-cosine kernel `k(x1 (n1, D), x2 (n2, D) | None) -> (n1, n2)`; with
  `x2=None` the Gram of `x1`, exactly symmetric. A zero input has k = 0 with everything."""

  def kernel(x1, x2=None):
    x1, x2, same = _pair(x1, x2)
    n1 = jnp.linalg.norm(x1, axis=-1)
    n2 = n1 if same else jnp.linalg.norm(x2, axis=-1)
    scale = n1[:, None] * n2[None, :]
    g = x1 @ x2.T
    if same:
      g = 0.5 * (g + g.T)
    t = g / jnp.where(scale > 0, scale, 1.0)
    out = scale * profile(t)
    return 0.5 * (out + out.T) if same else out
  return kernel


__all__ = ["arc_cosine", "profile"]
