"""High-dimensional kernel ridge regression under covariate shift, with and without importance
weighting (Chen, Liu, Suzuki & Cevher, ICML 2024, arXiv 2406.03171; spec
`krr_covariate_shift.md`, section 2).

  h = inner_product_fn(jnp.exp)                          # h(0) = h'(0) = h''(0) = 1
  data = sample(key, n=800, d=400, mu=1.0, num_test=2000)
  ev = evaluate(data, h, nlams=jnp.array([0., 0.8, 8.]), noise_std=0.5)
  ev["krr"].variance, ev["iw"].variance                  # (3,) each: exact given the design

Model: training x ~ p = N(0, I_d), test x ~ q = N(mu e_1, I_d), density ratio
w(x) = q(x) / p(x) = exp(mu x_1 - mu^2 / 2); inner-product kernel k(x, x') = h(<x, x'> / d);
target f*(x) = x_1 + (x_1^2 - 1) / 2 + x_2, labels y = f*(x) + N(0, sigma^2).

Estimators (`jaxlab.kernels.ridge`, ridge lambda with n lambda on the diagonal):
KRR alpha = (K + n lambda I)^{-1} y; IW-KRR alpha = (K + n lambda W^{-1})^{-1} y, solved as
W^{1/2} (W^{1/2} K W^{1/2} + n lambda I)^{-1} W^{1/2} y. Bias^2 and variance under q are exact
given the design, averaged over the shared test sample (`ridge.bias_variance`).

Linearisation (El Karoui 2010; spec section 2.4), for Sigma_p = I:
K_lin = c 11^T + h'(0) X X^T / d + diag(gamma), c = h(0) + h''(0) / (2d),
gamma = h(1) - h(0) - h'(0) (population) or h(|x_i|^2/d) - h(0) - h'(0) |x_i|^2/d (empirical);
test vector k(X, x) ~ c_q 1 + h'(0) X x / d with c_q = h(0) + h''(0) (d + mu^2) / (2 d^2).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.kernels import kernel_fns, ridge, spectral

DIAGONALS = ("population", "empirical")


class InnerProductFn(NamedTuple):
  """h with its Taylor coefficients at 0 (`h0 = h(0)`, `h1 = h'(0)`, `h2 = h''(0)`) and the
  implicit ridge `gamma_imp = h(1) - h(0) - h'(0)` of Sigma_p = I (tau = tr(Sigma_p) / d = 1)."""

  h: Callable[[jax.Array], jax.Array]
  h0: float
  h1: float
  h2: float
  gamma_imp: float


def inner_product_fn(h: Callable[[jax.Array], jax.Array]) -> InnerProductFn:
  """Wraps a scalar function h with h(0), h'(0), h''(0) (autodiff) and gamma_imp."""
  zero, one = jnp.asarray(0.0), jnp.asarray(1.0)
  h0, h1 = float(h(zero)), float(jax.grad(h)(zero))
  return InnerProductFn(h, h0, h1, float(jax.grad(jax.grad(h))(zero)), float(h(one)) - h0 - h1)


INNER_PRODUCT_FNS = {
    "exp": jnp.exp,                              # gamma_imp = e - 2 ~ 0.718
    "cubic": lambda t: (1.0 + t) ** 3,           # gamma_imp = 4
    "exp_half": lambda t: jnp.exp(0.5 * t),      # gamma_imp ~ 0.149
}


class Data(NamedTuple):
  """One design: training inputs `x (n, d)`, test inputs `x_test (m, d)` from q, importance
  weights `w (n,)`, noise-free targets `f_train (n,)`, `f_test (m,)`, and the shift `mu`."""

  x: jax.Array
  x_test: jax.Array
  w: jax.Array
  f_train: jax.Array
  f_test: jax.Array
  mu: float


def density_ratio(x: jax.Array, mu: float) -> jax.Array:
  """w(x) = exp(mu x_1 - mu^2 / 2) for `x (n, d)`; E_p[w] = 1, E_p[w^2] = e^{mu^2}."""
  return jnp.exp(mu * x[:, 0] - 0.5 * mu**2)


def target(x: jax.Array) -> jax.Array:
  """f*(x) = x_1 + (x_1^2 - 1) / 2 + x_2 `(n,)`."""
  return x[:, 0] + 0.5 * (x[:, 0] ** 2 - 1.0) + x[:, 1]


def sample(key: jax.Array, n: int, d: int, mu: float, num_test: int, dtype=None) -> Data:
  """n training points from p = N(0, I_d) and `num_test` test points from q = N(mu e_1, I_d)."""
  k_train, k_test = jax.random.split(key)
  x = jax.random.normal(k_train, (n, d), dtype)
  x_test = jax.random.normal(k_test, (num_test, d), dtype).at[:, 0].add(mu)
  return Data(x, x_test, density_ratio(x, mu), target(x), target(x_test), mu)


def kernel(h: InnerProductFn) -> kernel_fns.Kernel:
  """k(x, x') = h(<x, x'> / d)."""
  return kernel_fns.dot_product(h.h)


def linearized_gram(x: jax.Array, h: InnerProductFn, diagonal: str = "empirical") -> jax.Array:
  """El Karoui's K_lin `(n, n)` for Sigma_p = I with the population or empirical diagonal."""
  n, d = x.shape
  c = h.h0 + h.h2 / (2.0 * d)
  if diagonal == "population":
    gamma = jnp.full((n,), h.gamma_imp, x.dtype)
  elif diagonal == "empirical":
    s = jnp.sum(x**2, axis=1) / d
    gamma = h.h(s) - h.h0 - h.h1 * s
  else:
    raise ValueError(f"diagonal must be one of {DIAGONALS}, got {diagonal!r}")
  g = x @ x.T
  return c + h.h1 * 0.5 * (g + g.T) / d + jnp.diag(gamma)


def linearized_test_kernel(x_test: jax.Array, x: jax.Array, h: InnerProductFn,
                           constant: float) -> jax.Array:
  """c 1 + h'(0) X x / d as `(m, n)` test-train rows, for a given constant c (the shifted
  `shifted_constant`, or the training Gram's for the exact weighted-ridge identity)."""
  return constant + h.h1 * (x_test @ x.T) / x.shape[1]


def train_constant(h: InnerProductFn, d: int) -> float:
  """The 11^T coefficient of K_lin, h(0) + h''(0) tr(Sigma_p^2) / (2 d^2) with Sigma_p = I."""
  return h.h0 + h.h2 / (2.0 * d)


def shifted_constant(h: InnerProductFn, d: int, mu: float) -> float:
  """h(0) + h''(0) tr(Sigma_p S_q) / (2 d^2), tr(Sigma_p S_q) = d + mu^2 for q = N(mu e_1, I)."""
  return h.h0 + h.h2 * (d + mu**2) / (2.0 * d**2)


def operator_norm(a: jax.Array) -> jax.Array:
  """Spectral norm of a symmetric matrix, max |eigenvalue|."""
  values = spectral.eigvalsh(a)
  return jnp.maximum(jnp.abs(values[0]), jnp.abs(values[-1]))


def linearization_errors(data: Data, h: InnerProductFn) -> dict[str, jax.Array]:
  """||K - K_lin||_op (population and empirical diagonal) and the RMS entry error of the
  test vector k(X, x) (x ~ q) against c_q 1 + h'(0) X x / d."""
  k = kernel(h)
  gram = k(data.x)
  d = data.x.shape[1]
  lin_test = linearized_test_kernel(data.x_test, data.x, h,
                                    shifted_constant(h, d, data.mu))
  return {
      "op_population": operator_norm(gram - linearized_gram(data.x, h, "population")),
      "op_empirical": operator_norm(gram - linearized_gram(data.x, h, "empirical")),
      "test_rms": jnp.sqrt(jnp.mean((k(data.x_test, data.x) - lin_test) ** 2)),
  }


def weighted_ridge_weights(w: jax.Array, gamma: jax.Array, nlam) -> jax.Array:
  """omega_i = w_i / (gamma_i w_i + n lambda) = 1 / (gamma_i + n lambda / w_i): the sample
  weights of the linearised IW-KRR (spec section 2.4)."""
  return w / (gamma * w + nlam)


def weighted_ridge_features(phi: jax.Array, y: jax.Array, omega: jax.Array,
                            phi_test: jax.Array) -> jax.Array:
  """Primal weighted ridge with unit penalty: theta = (Phi^T Omega Phi + I)^{-1} Phi^T Omega y;
  predictions `phi_test @ theta`. `phi (n, p)`, `omega (n,)`, `phi_test (m, p)`."""
  a = phi.T @ (omega[:, None] * phi) + jnp.eye(phi.shape[1], dtype=phi.dtype)
  theta = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(a), phi.T @ (omega * y))
  return phi_test @ theta


def features(x: jax.Array, h: InnerProductFn, constant: float) -> jax.Array:
  """phi(x) = (sqrt c, sqrt h'(0) x / sqrt d) `(n, d + 1)`: K_lin = Phi Phi^T + diag(gamma)."""
  d = x.shape[1]
  return jnp.concatenate([jnp.full((x.shape[0], 1), jnp.sqrt(constant), x.dtype),
                          jnp.sqrt(h.h1) * x / jnp.sqrt(d)], axis=1)


def evaluate(data: Data, h: InnerProductFn, nlams: jax.Array, noise_std: float, *,
             surrogate: bool = False) -> dict[str, ridge.BiasVariance]:
  """Exact bias^2 and variance under q of KRR and IW-KRR for every n lambda in `nlams (L,)`.

  Returns `{"krr": BiasVariance, "iw": BiasVariance}` (fields `(L,)`), plus "krr_lin" and
  "iw_lin" computed on the linearised surrogate (K_lin with the empirical diagonal, the
  shifted linear test vector) if `surrogate`.
  """
  n, d = data.x.shape
  lams = jnp.asarray(nlams) / n
  k = kernel(h)
  grams = {"": (k(data.x), k(data.x_test, data.x))}
  if surrogate:
    grams["_lin"] = (linearized_gram(data.x, h, "empirical"),
                     linearized_test_kernel(data.x_test, data.x, h,
                                            shifted_constant(h, d, data.mu)))
  out = {}
  for suffix, (gram, k_test) in grams.items():
    for name, weights in (("krr", None), ("iw", data.w)):
      p = ridge.path(gram, weights)
      out[name + suffix] = ridge.bias_variance(p, k_test, data.f_train, data.f_test,
                                               noise_std**2, lams)
  return out
