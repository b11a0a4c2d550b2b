"""Robust-NTK scores of an architecture at initialisation (NAS-RobBench-201's theory).

  f = lambda p, x: model.apply({"params": p, **model_state}, x)     # eval-mode BatchNorm
  x_adv, x_adv2 = perturbed_inputs(f, params, x, y, eps=8 / 255)     # FGSM, then again
  k = robust_kernels(f, params, x, x_adv, x_adv2, betas=(0.0, 0.5, 1.0))
  k.k, k.k_bar, k.k_tilde, k.k_bar2, k.k_tilde2                      # (n, n) each
  k.k_all[0.5]                          # (n, n) Gram of 0.5 J(x) + 0.5 J(x_adv)
  scores(k)                             # {"K_all_b0.5_lambda_min": ..., ...}

Tangent features are J(x) = d f(x; W_0) / dW (averaged over the logits, `jaxlab.ntk`'s
default); x~ = A_eps(x) is an attack in the eps-ball (FGSM here, clipped to [0, 1]) and
x~~ = A_eps(x~) attacks the adversarial point once more. Wu et al. (arXiv 2403.13134, Eqs.
4-5) combine them, for the multi-objective loss (1 - beta) L_clean + beta L_robust, into

  K_all(beta)  = (1 - beta)^2 K  + beta (1 - beta) (K_bar  + K_bar^T)  + beta^2 K~
  K~_all(beta) = (1 - beta)^2 K~ + beta (1 - beta) (K_bar2 + K_bar2^T) + beta^2 K~_2

with K = <J(x_i), J(x_j)>, K_bar = <J(x_i), J(x~_j)>, K~ = <J(x~_i), J(x~_j)>, and K_bar2,
K~_2 the same with (x~, x~~) for (x, x~). K_all(beta) is the Gram matrix of the mixed
features phi_i = (1 - beta) J(x_i) + beta J(x~_i), which is how `robust_kernels` computes it
(an empirical NTK of the mixed network `(1 - beta) f(x) + beta f(x~)`, `mixed_gram`);
`expanded` gives the formula above from K, K_bar, K~, and the tests hold the two equal. At
beta = 0 and 1 the mixed features are J(x) and J(x~) bit for bit, so K_all(0) = K and
K_all(1) = K~ exactly (`robust_kernels` computes K_all(1) and K~ from different rows).

Scores (higher should mean a better architecture): lambda_min(K_all(beta)) for clean
accuracy and lambda_min(K~_all(beta)) for robust accuracy, plus lambda_min / trace and
lambda_min / lambda_max (the inverse condition number, TE-NAS style). Use eval-mode BatchNorm
(fresh statistics are the identity): in train mode the kernel of one example would depend on
the batch. Compute in float64 (`jax.enable_x64`), lambda_min is small.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab import ntk
from jaxlab.adversarial import attacks

ApplyFn = Callable[[object, jax.Array], jax.Array]   # f(params, x (N, ...)) -> logits (N, C)
BETAS = (0.0, 0.5, 1.0)
STATS = ("lambda_min", "lambda_min_over_trace", "inverse_condition")


class Kernels(NamedTuple):
  """The robust-NTK kernels of one batch, each `(n, n)` (see the module docstring).

  Attributes:
    k, k_bar, k_tilde, k_bar2, k_tilde2: K, K_bar, K~, K_bar2, K~_2.
    k_all, kt_all: `{beta: K_all(beta)}` and `{beta: K~_all(beta)}`, Gram matrices of the
      mixed features.
  """

  k: jax.Array
  k_bar: jax.Array
  k_tilde: jax.Array
  k_bar2: jax.Array
  k_tilde2: jax.Array
  k_all: dict[float, jax.Array]
  kt_all: dict[float, jax.Array]


def perturbed_inputs(f: ApplyFn, params, x: jax.Array, y: jax.Array, eps: float
                     ) -> tuple[jax.Array, jax.Array]:
  """`(x~, x~~)`: FGSM at radius `eps` (in [0, 1] pixel units, clipped to [0, 1]) from x,
  then from x~, each `(n, ...)`. `f` must be a stable function (it is a static argument)."""
  x_adv = attacks.fgsm(f, params, x, y, eps)
  return x_adv, attacks.fgsm(f, params, x_adv, y, eps)


def mixed_gram(f: ApplyFn, params, a: jax.Array, b: jax.Array, w: jax.Array) -> jax.Array:
  """`(m, m)` Gram matrix of the features phi_i = (1 - w_i) J(a_i) + w_i J(b_i), for inputs
  `a, b (m, ...)` and weights `w (m,)`: the empirical NTK (`jaxlab.ntk`, averaged over the
  logits) of the network `(1 - w) f(a) + w f(b)` on the triples. With w_i = 0 the feature is
  exactly J(a_i) (the other branch gets a zero cotangent), with w_i = 1 exactly J(b_i)."""

  def mixed(p, triple):
    a_, b_, w_ = triple
    w_ = w_.astype(a_.dtype)[:, None]
    return (1 - w_) * f(p, a_) + w_ * f(p, b_)

  ntk_fn = ntk.empirical_ntk_fn(mixed, vmap_axes=0,
                                implementation=ntk.NtkImplementation.JACOBIAN_CONTRACTION)
  return ntk_fn((a, b, w), None, params)


def robust_kernels(f: ApplyFn, params, x: jax.Array, x_adv: jax.Array, x_adv2: jax.Array,
                   betas: Sequence[float] = BETAS) -> Kernels:
  """Every kernel of `Kernels`, as blocks of one `mixed_gram` over the rows (a, b, w):

    R0 = (x, x~, 0) -> J(x)        R1 = (x, x~, 1) -> J(x~)      K = R0 R0, K_bar = R0 R1
    R2 = (x~, x~~, 0) -> J(x~)     R3 = (x~, x~~, 1) -> J(x~~)   K~ = R2 R2, K_bar2 = R2 R3,
                                                                 K~_2 = R3 R3
    and for each beta in `betas` strictly between 0 and 1, (x, x~, beta) and (x~, x~~, beta).

  K_all(0) = K, K_all(1) = R1 R1, K~_all(0) = K~, K~_all(1) = K~_2. Since K~ and K_all(1)
  come from different rows (weights 0 and 1 on J(x~)), `k_all[1.0] == k_tilde` checks the
  mixing bit for bit. `(4 + 2 * interior betas) n` rows, one contraction.
  """
  for beta in betas:
    if not 0.0 <= beta <= 1.0:
      raise ValueError(f"every beta must be in [0, 1], got {beta}")
  interior = [float(b) for b in betas if 0.0 < b < 1.0]
  n = x.shape[0]
  firsts = [x, x, x_adv, x_adv] + [z for _ in interior for z in (x, x_adv)]
  seconds = [x_adv, x_adv, x_adv2, x_adv2] + [z for _ in interior for z in (x_adv, x_adv2)]
  weights = [0.0, 1.0, 0.0, 1.0] + [b for b in interior for _ in (0, 1)]
  w = jnp.repeat(jnp.asarray(weights, x.dtype), n)
  gram = mixed_gram(f, params, jnp.concatenate(firsts), jnp.concatenate(seconds), w)
  block = lambda i, j: gram[i * n:(i + 1) * n, j * n:(j + 1) * n]  # noqa: E731
  k_all = {0.0: block(0, 0), 1.0: block(1, 1)}
  kt_all = {0.0: block(2, 2), 1.0: block(3, 3)}
  for i, beta in enumerate(interior):
    k_all[beta] = block(4 + 2 * i, 4 + 2 * i)
    kt_all[beta] = block(5 + 2 * i, 5 + 2 * i)
  keep = [float(b) for b in betas]
  return Kernels(block(0, 0), block(0, 1), block(2, 2), block(2, 3), block(3, 3),
                 {b: k_all[b] for b in keep}, {b: kt_all[b] for b in keep})


def expanded(k: Kernels, beta: float, *, robust: bool = False) -> jax.Array:
  """The expanded formula of K_all(beta) (or, `robust`, of K~_all(beta)) from `kernels`."""
  base, cross, adv = (k.k_tilde, k.k_bar2, k.k_tilde2) if robust else (k.k, k.k_bar, k.k_tilde)
  return ((1 - beta) ** 2 * base + beta * (1 - beta) * (cross + cross.T) + beta ** 2 * adv)


def spectrum(kernel) -> dict[str, float]:
  """`{"lambda_min", "lambda_min_over_trace", "inverse_condition"}` of a symmetric PSD
  `kernel (n, n)` (eigenvalues of its symmetric part), computed on the host in float64
  (LAPACK; no compilation, whatever the kernel's device or precision)."""
  a = np.asarray(kernel, np.float64)
  values = np.linalg.eigvalsh(0.5 * (a + a.T))
  lam_min, lam_max = values[0], values[-1]
  return {"lambda_min": float(lam_min), "lambda_min_over_trace": float(lam_min / np.trace(a)),
          "inverse_condition": float(lam_min / lam_max)}


def score_name(kernel: str, beta: float, stat: str) -> str:
  """'K_all_b0.5_lambda_min' style names; `kernel` is 'K_all' or 'Kt_all'."""
  return f"{kernel}_b{beta:g}_{stat}"


def scores(k: Kernels) -> dict[str, float]:
  """Every score `score_name(kernel, beta, stat)`: kernel in (K_all, Kt_all), beta in the
  kernels' betas, stat in `STATS`."""
  out = {}
  for name, by_beta in (("K_all", k.k_all), ("Kt_all", k.kt_all)):
    for beta, kernel in by_beta.items():
      for stat, value in spectrum(kernel).items():
        out[score_name(name, beta, stat)] = value
  return out
