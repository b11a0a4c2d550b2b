"""Local linearity of a loss in its input: the ELLE local-linearity error and the GradAlign
gradient cosine, for any per-example loss `loss_fn(x (M, ...), y (M,)) -> (M,)`.

  from jaxlab.adversarial import linearity
  loss_fn = linearity.example_losses(model.apply, params)               # cross-entropy per row
  e_lin, e = linearity.local_linearity_error(loss_fn, x, y, key, 0.3)    # (), (N,)
  cos, c = linearity.gradient_alignment(loss_fn, x, y, key, 0.3)        # (), (N,)

The local-linearity error (ELLE, Abad Rocamora et al., ICLR 2024, arXiv 2401.11618): for each
example draw x_a, x_b uniformly from the eps-ball around x and alpha ~ U[0, 1], let
x_c = (1 - alpha) x_a + alpha x_b and

    e_i   = l(x_c) - (1 - alpha) l(x_a) - alpha l(x_b),       E_lin = mean_i e_i^2.

e = 0 for every triplet iff l is affine on the ball; for a quadratic loss with Hessian H,
e = -(alpha (1 - alpha) / 2) (x_b - x_a)^T H (x_b - x_a), a random-direction curvature. The three
points go through the model as one batch of 3N rows; no double backpropagation is needed.

The GradAlign regulariser (Andriushchenko & Flammarion, NeurIPS 2020, arXiv 2007.02617) is
1 - cos(grad_x l(x), grad_x l(x + eta)), eta ~ U(eps-ball); training through it needs
second-order derivatives (double backpropagation).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxlab.adversarial.attacks import Box, clip_to_box, uniform_ball
from jaxlab.training.steps import cross_entropy

ExampleLoss = Callable[[jax.Array, jax.Array], jax.Array]  # (x (M, ...), y (M,)) -> (M,)


def example_losses(apply_fn, params, loss=cross_entropy) -> ExampleLoss:
  """`(x, y) -> loss(apply_fn(params, x), y)`, the per-example loss `(M,)` of a classifier."""
  return lambda x, y: loss(apply_fn(params, x), y)


def _row(v: jax.Array, ndim: int) -> jax.Array:
  return jnp.reshape(v, v.shape + (1,) * (ndim - 1))


def triplets(key: jax.Array, x: jax.Array, eps, *, norm: str = "linf", box: Box = None
             ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """Random triplets in the eps-ball: `(x_a, x_b, x_c, alpha)`, points `(N, ...)` and
  `alpha (N,)` with x_c = (1 - alpha) x_a + alpha x_b. With `box`, x_a and x_b are clipped to
  it (x_c then lies in it too); the reference CIFAR code does not clip (box=None)."""
  key_a, key_b, key_alpha = jax.random.split(key, 3)
  x_a = clip_to_box(x + uniform_ball(key_a, x.shape, eps, norm, x.dtype), box)
  x_b = clip_to_box(x + uniform_ball(key_b, x.shape, eps, norm, x.dtype), box)
  alpha = jax.random.uniform(key_alpha, x.shape[:1], x.dtype)
  x_c = (1 - _row(alpha, x.ndim)) * x_a + _row(alpha, x.ndim) * x_b
  return x_a, x_b, x_c, alpha


def local_linearity_error(loss_fn: ExampleLoss, x: jax.Array, y: jax.Array, key: jax.Array,
                          eps, *, norm: str = "linf", box: Box = None
                          ) -> tuple[jax.Array, jax.Array]:
  """The ELLE term `E_lin = mean_i e_i^2` `()` and the errors `e (N,)` (module docstring).

  Args:
    loss_fn: per-example loss, called once on the 3N rows `[x_a; x_b; x_c]`.
    x, y: inputs `(N, ...)` and labels `(N,)`.
    key: draws the triplets; use a fresh key per training step.
    eps, norm: the ball (the radius of the training attack).
    box: data range to clip x_a, x_b to, or None.

  Gradients flow through all three losses (no stop-gradient), as in the paper's code.
  """
  x_a, x_b, x_c, alpha = triplets(key, x, eps, norm=norm, box=box)
  n = x.shape[0]
  losses = loss_fn(jnp.concatenate([x_a, x_b, x_c]), jnp.concatenate([y, y, y]))
  l_a, l_b, l_c = losses[:n], losses[n:2 * n], losses[2 * n:]
  e = l_c - (1 - alpha) * l_a - alpha * l_b
  return jnp.mean(jnp.square(e)), e


def input_gradient(loss_fn: ExampleLoss, x: jax.Array, y: jax.Array) -> jax.Array:
  """Per-example input gradients `(N, ...)` of `loss_fn` (the gradient of the summed loss, as
  the rows are independent)."""
  return jax.grad(lambda z: jnp.sum(loss_fn(z, y)))(x)


def cosine(a: jax.Array, b: jax.Array) -> jax.Array:
  """Row-wise cosine similarity `(N,)` of `a, b (N, ...)`; 0 where a row is zero."""
  a = jnp.reshape(a, (a.shape[0], -1))
  b = jnp.reshape(b, (b.shape[0], -1))
  tiny = jnp.finfo(a.dtype).tiny
  norms = jnp.sqrt(jnp.sum(a * a, -1) * jnp.sum(b * b, -1) + tiny)
  return jnp.sum(a * b, -1) / norms


def gradient_alignment(loss_fn: ExampleLoss, x: jax.Array, y: jax.Array, key: jax.Array, eps,
                       *, norm: str = "linf", box: Box = None,
                       stop_clean_gradient: bool = True) -> tuple[jax.Array, jax.Array]:
  """GradAlign cosine: mean `()` and per-example `(N,)` cos(grad l(x), grad l(x + eta)),
  eta ~ U(eps-ball) (x + eta clipped to `box` if given).

  As in GradAlign's code, the clean gradient is a constant (`stop_clean_gradient`) and only the
  gradient at the noisy point is differentiated (double backpropagation) when training with
  the regulariser `1 - cos`.
  """
  g_clean = input_gradient(loss_fn, x, y)
  if stop_clean_gradient:
    g_clean = jax.lax.stop_gradient(g_clean)
  x_noisy = clip_to_box(x + uniform_ball(key, x.shape, eps, norm, x.dtype), box)
  c = cosine(g_clean, input_gradient(loss_fn, x_noisy, y))
  return jnp.mean(c), c
