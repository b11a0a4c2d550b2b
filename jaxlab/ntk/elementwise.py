"""Elementwise nonlinearities and their infinite-width kernel maps (NT's `stax` semantics).

  from jaxlab.ntk import stax
  _, apply_fn, kernel_fn = stax.serial(stax.Dense(256), stax.Gelu(), stax.Dense(1))
  # any activation: a closed form of E[phi(u) phi(v)] ...
  erf_like = stax.Elementwise(jax.scipy.special.erf,
                              lambda c, v1, v2: 2 / jnp.pi * jnp.arcsin(
                                  2 * c / jnp.sqrt((1 + 2 * v1) * (1 + 2 * v2))))
  # ... or Gauss-Hermite quadrature of phi alone
  swish = stax.ElementwiseNumerical(jax.nn.swish, deg=25)

For a Gaussian pre-activation (u, v) with covariance [[q11, q12], [q12, q22]] a nonlinearity
phi maps nngp to E[phi(u) phi(v)] and ntk to ntk * E[phi'(u) phi'(v)] ("Deep Neural Networks
as Gaussian Processes", Lee et al. 2018, arXiv:1711.00165; "Neural Tangent Kernel", Jacot et
al. 2018, arXiv:1806.07572; "Fast Neural Kernel Embeddings for General Activations", Han et
al. 2022, arXiv:2209.04121). Each layer below is one `Moments(nngp, dot, diag)` record of
those two expectations as functions of (q12, q11, q22) (and of q = q11 = q12 = q22 for the
spatial-diagonal covariances). Closed forms, with prod = q11 q22, sum = q11 + q22,
theta = arccos(q12 / sqrt(prod)):
  ABRelu a min(x,0) + b max(x,0): (a-b)^2/(2 pi) sqrt(prod - q12^2) + ((a^2+b^2)/2
    - (a-b)^2/(2 pi) theta) q12; dot = (a^2+b^2)/2 - (a-b)^2/(2 pi) theta (Cho & Saul 2009).
  Erf a erf(b x) + c: a^2 (2/pi) arcsin(2 b^2 q12 / sqrt((1+2b^2 q11)(1+2b^2 q22))) + c^2
    (Williams 1997); Sigmoid_like = Erf(1/2, 1/2.40206, 1/2).
  Gelu x Phi(x): (q12^2 + prod (1 + sum + prod - q12^2)) / (2 pi (1+q11)(1+q22) delta)
    + q12 (arctan2(q12, delta) / (2 pi) + 1/4), delta = sqrt((1+q11)(1+q22) - q12^2).
  Sin a sin(b x + c): a^2/2 (e^{b^2(q12 - sum/2)} - e^{-b^2(q12 + sum/2)} cos 2c); Cos alike.
  Exp a e^{bx}: a^2 e^{b^2(q12 + sum/2)}. Gaussian a e^{b x^2}: a^2 / sqrt((1-2b q11)(1-2b
    q22) - 4 b^2 q12^2). Rbf sqrt(2) sin(sqrt(2 gamma) x + pi/4): e^{gamma(2 q12 - sum)}.
  Monomial x^d: Isserlis' theorem. RectifiedMonomial max(x,0)^d: the arc-cosine kernel of
    degree d, sqrt(prod)^d / (2 pi) J_d(theta), J_d = P_d(cos) (pi - theta) + Q_d(cos) sin
    with P_{d+1} = (1-c^2) P_d' + (2d+1) c P_d, Q_{d+1} = (1-c^2) Q_d' + P_d + 2d c Q_d.
  Polynomial sum_k c_k x^k: Mehler's expansion sum_l r_l(q11) r_l(q22) rho^l, rho =
    q12 / sqrt(prod), r_l(q) = sum_i c_{2i+l} (2i+l)! / (2^i i! sqrt(l!)) q^{i + l/2}.
  Sign: 1 - 2 theta / pi (dot = 0). Gabor e^{-x^2} sin x: see `Gabor`.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.ntk.kernel import Covariances, Diagonal, Requirements, layer_kernel_fn

Fn2 = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]   # (q12, q11, q22) -> value


class Moments(NamedTuple):
  """The kernel map of an elementwise phi, for (u, v) ~ N(0, [[q11, q12], [q12, q22]]).

  Attributes:
    nngp: (q12, q11, q22) -> E[phi(u) phi(v)].
    dot: (q12, q11, q22) -> E[phi'(u) phi'(v)] (multiplies the NTK).
    diag: optional q -> E[phi(u)^2] for u ~ N(0, q), used for the per-position variances
      when only the spatial diagonal is kept (a stabler form of nngp(q, q, q)).
  """

  nngp: Fn2
  dot: Fn2
  diag: Callable[[jax.Array], jax.Array] | None = None


@jax.custom_jvp
def _sqrt(x):
  """sqrt(max(x, 0)) with derivative 0 where x <= 0 (kernels at coincident inputs)."""
  return jnp.sqrt(jnp.maximum(x, 0.0))


@_sqrt.defjvp
def _sqrt_jvp(primals, tangents):
  (x,), (dx,) = primals, tangents
  root = _sqrt(x)
  return root, jnp.where(x > 0, dx / (2 * jnp.where(x > 0, root, 1.0)), 0.0)


def _arctan2(y, x, fill):
  """arctan2(y, x), `fill` at y = x = 0, with a finite derivative there."""
  both_zero = (y == 0) & (x == 0)
  return jnp.where(both_zero, fill, jnp.arctan2(jnp.where(both_zero, 1.0, y), x))


def kernel_map(moments: Moments, c: Covariances) -> Covariances:
  """Applies `moments` to nngp, ntk and the per-example covariances of `c`."""
  v1, v2 = c.variances()
  q11, q22 = c.pair(v1, v2)
  nngp = moments.nngp(c.nngp, q11, q22)
  ntk = None if c.ntk is None else c.ntk * moments.dot(c.nngp, q11, q22)

  def cov(m, v):
    if m is None:
      return None
    if c.diagonal and moments.diag is not None:
      return moments.diag(m)
    a, b = c.pair_self(v)
    return moments.nngp(m, a, b)

  return c.replace(nngp=nngp, ntk=ntk, cov1=cov(c.cov1, v1), cov2=cov(c.cov2, v2))


def _elementwise(fn, name: str, transform: Callable[[Covariances], Covariances] | None):
  """Layer triple of an elementwise `fn` whose kernel map is `transform(Covariances)`."""

  def init_fn(rng, input_shape):
    del rng
    return input_shape, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    if fn is None:
      raise NotImplementedError(f"{name} has no finite-width function (fn=None)")
    return fn(inputs)

  def checked(c: Covariances) -> Covariances:
    if transform is None:
      raise NotImplementedError(f"{name} has no kernel (nngp_fn=None)")
    if not c.is_gaussian:
      raise ValueError(f"The input to {name} must be Gaussian, i.e. a random affine transform "
                       f"(Dense, Conv, GlobalSelfAttention) is required before the activation")
    return transform(c).replace(is_gaussian=False)

  return init_fn, apply_fn, layer_kernel_fn(checked, Requirements(Diagonal()), name)


def _from_moments(fn, name: str, moments: Moments):
  return _elementwise(fn, name, lambda c: kernel_map(moments, c))


# ---------------------------------------------------------------------------------------------
# Rectifiers.


def ABRelu(a: float, b: float, do_stabilize: bool = False):
  """`a * min(x, 0) + b * max(x, 0)`; `do_stabilize` rescales by max |nngp| (deep nets)."""
  factor = (a - b) ** 2 / (2 * math.pi)

  def dot(q12, q11, q22):
    root = _sqrt(q11 * q22 - q12 ** 2)
    return (a ** 2 + b ** 2) / 2 - factor * _arctan2(root, q12, math.pi / 2)

  def nngp(q12, q11, q22):
    return factor * _sqrt(q11 * q22 - q12 ** 2) + dot(q12, q11, q22) * q12

  moments = Moments(nngp, dot, lambda q: (a ** 2 + b ** 2) / 2 * q)

  def transform(c: Covariances) -> Covariances:
    if not do_stabilize:
      return kernel_map(moments, c)
    scale = jnp.maximum(jnp.max(jnp.abs(c.nngp)), 1e-12)
    c = kernel_map(moments, c.map(lambda m: m / scale, ntk_too=False))
    return c.map(lambda m: m * scale, ntk_too=False)

  return _elementwise(lambda x: a * jnp.minimum(x, 0) + b * jnp.maximum(x, 0),
                      f"ABRelu({a}, {b})", transform)


def Relu(do_stabilize: bool = False):
  """ReLU max(x, 0): the arc-cosine kernel of degree 1."""
  return ABRelu(0.0, 1.0, do_stabilize)


def LeakyRelu(alpha: float, do_stabilize: bool = False):
  """`alpha * min(x, 0) + max(x, 0)`."""
  return ABRelu(alpha, 1.0, do_stabilize)


def Abs(do_stabilize: bool = False):
  """|x|."""
  return ABRelu(-1.0, 1.0, do_stabilize)


def Sign():
  """sign(x): nngp 1 - 2 theta / pi; its derivative vanishes almost surely (ntk -> 0)."""

  def nngp(q12, q11, q22):
    return 1 - 2 / math.pi * _arctan2(_sqrt(q11 * q22 - q12 ** 2), q12, math.pi / 2)

  return _from_moments(jnp.sign, "Sign", Moments(
      nngp, lambda q12, q11, q22: jnp.zeros_like(q12 * q11 * q22),
      lambda q: jnp.where(q == 0, 0.0, 1.0).astype(q.dtype)))


def _double_factorial(n: int) -> int:
  return math.prod(range(n, 0, -2)) if n > 0 else 1


def _arccos_polynomials(degree: int) -> tuple[np.ndarray, np.ndarray]:
  """Coefficients (increasing powers of cos theta) of P_degree, Q_degree (module doc)."""
  P = np.polynomial.polynomial
  p, q = np.array([1.0]), np.array([0.0])
  one_minus_c2 = np.array([1.0, 0.0, -1.0])
  for n in range(degree):
    p, q = (P.polyadd(P.polymul(one_minus_c2, P.polyder(p)), (2 * n + 1) * P.polymulx(p)),
            P.polyadd(P.polyadd(P.polymul(one_minus_c2, P.polyder(q)), p),
                      2 * n * P.polymulx(q)))
  return p, q


def _arccos_kernel(degree: int):
  """(q12, q11, q22) -> E[relu(u)^d relu(v)^d] = sqrt(prod)^d / (2 pi) J_d(theta)."""
  p, q = _arccos_polynomials(degree)

  def kernel(q12, q11, q22):
    root = _sqrt(q11 * q22)
    sin = _sqrt(q11 * q22 - q12 ** 2)
    theta = _arctan2(sin, q12, math.pi / 2)
    cos = jnp.where(root > 0, q12 / jnp.where(root > 0, root, 1.0), 0.0)
    sin_t = jnp.where(root > 0, sin / jnp.where(root > 0, root, 1.0), 1.0)
    poly = lambda coef: sum(float(c_) * cos ** i for i, c_ in enumerate(coef))
    j = poly(p) * (math.pi - theta) + poly(q) * sin_t
    return root ** degree * j / (2 * math.pi)

  return kernel


def RectifiedMonomial(degree: int):
  """max(x, 0)^degree (degree 0: the step function): the arc-cosine kernel of that degree
  (Cho & Saul 2009); dot = degree^2 times the kernel of degree - 1."""
  if not isinstance(degree, int) or degree < 0:
    raise ValueError(f"degree must be a non-negative int, got {degree!r}")
  nngp = _arccos_kernel(degree)
  lower = _arccos_kernel(max(degree - 1, 0))

  def dot(q12, q11, q22):
    if degree == 0:
      return jnp.zeros_like(q12 * q11 * q22)
    return degree ** 2 * lower(q12, q11, q22)

  return _from_moments(lambda x: jnp.where(x >= 0, x ** degree, jnp.zeros_like(x)), f"RectifiedMonomial({degree})",
                       Moments(nngp, dot, lambda q: _double_factorial(2 * degree - 1)
                               * q ** degree / 2))


# ---------------------------------------------------------------------------------------------
# Smooth activations with closed forms.


def Erf(a: float = 1.0, b: float = 1.0, c: float = 0.0):
  """`a * erf(b * x) + c`: the arcsine kernel."""
  b2 = b ** 2

  def root(q12, q11, q22):
    return _sqrt((1 + 2 * b2 * q11) * (1 + 2 * b2 * q22) - 4 * b2 ** 2 * q12 ** 2)

  def nngp(q12, q11, q22):
    return a ** 2 * (2 / math.pi) * _arctan2(2 * b2 * q12, root(q12, q11, q22), 0.0) + c ** 2

  def dot(q12, q11, q22):
    return a ** 2 * b2 * (4 / math.pi) / root(q12, q11, q22)

  def diag(q):
    return a ** 2 * (2 / math.pi) * jnp.arctan2(b2 * q, jnp.sqrt(b2 * q + 0.25)) + c ** 2

  return _from_moments(lambda x: a * jax.scipy.special.erf(b * x) + c, f"Erf({a}, {b}, {c})",
                       Moments(nngp, dot, diag))


def Sigmoid_like():
  """Erf(1/2, 1/2.4020563531719796, 1/2), a sigmoid-shaped activation with a closed form."""
  return Erf(a=0.5, b=1 / 2.4020563531719796, c=0.5)


def Gelu(approximate: bool = False):
  """x Phi(x) (Hendrycks & Gimpel 2016); the kernel is that of the exact GELU even when
  `approximate=True` selects the tanh approximation for `apply_fn`."""

  def parts(q12, q11, q22):
    plus = (q11 + 1) * (q22 + 1)
    delta2 = plus - q12 ** 2
    delta = _sqrt(delta2)
    return plus, delta2, delta, jnp.arctan2(q12, delta)

  def nngp(q12, q11, q22):
    plus, delta2, delta, angle = parts(q12, q11, q22)
    out = ((q12 ** 2 + q11 * q22 * delta2) / (plus * delta) + q12 * angle) / (2 * math.pi)
    return out + 0.25 * q12

  def dot(q12, q11, q22):
    plus, delta2, delta, angle = parts(q12, q11, q22)
    first = (1 / delta2 + (1 - q11 * q22) / plus + 1) * q12 / delta / (2 * math.pi)
    return first + 0.25 + angle / (2 * math.pi)

  def diag(q):
    root = jnp.sqrt(1 + 2 * q)
    out = q / ((q + 1) * root) + jnp.arctan2(q, root) / 2
    return (out / math.pi + 0.25) * q

  return _from_moments(lambda x: jax.nn.gelu(x, approximate=approximate), "Gelu",
                       Moments(nngp, dot, diag))


def Sin(a: float = 1.0, b: float = 1.0, c: float = 0.0):
  """`a * sin(b * x + c)`."""
  half = a ** 2 / 2

  def terms(q12, q11, q22):
    mean = -0.5 * (q11 + q22)
    return (jnp.exp(b ** 2 * (mean + q12)),
            jnp.exp(b ** 2 * (mean - q12)) * math.cos(2 * c))

  def nngp(q12, q11, q22):
    s1, s2 = terms(q12, q11, q22)
    return half * (s1 - s2)

  def dot(q12, q11, q22):
    s1, s2 = terms(q12, q11, q22)
    return half * b ** 2 * (s1 + s2)

  return _from_moments(lambda x: a * jnp.sin(b * x + c), f"Sin({a}, {b}, {c})", Moments(
      nngp, dot, lambda q: half * (1 - jnp.exp(-2 * b ** 2 * q) * math.cos(2 * c))))


def Cos(a: float = 1.0, b: float = 1.0, c: float = 0.0):
  """`a * cos(b * x + c)` = Sin(a, b, c + pi / 2)."""
  return Sin(a=a, b=b, c=c + math.pi / 2)


def Rbf(gamma: float = 1.0):
  """`sqrt(2) sin(sqrt(2 gamma) x + pi / 4)`, whose NNGP is the RBF kernel
  exp(-gamma ||x1 - x2||^2 / d) of the pre-activations (random Fourier features)."""

  def nngp(q12, q11, q22):
    return jnp.exp(gamma * (2 * q12 - q11 - q22))

  return _from_moments(lambda x: math.sqrt(2) * jnp.sin(math.sqrt(2 * gamma) * x + math.pi / 4),
                       f"Rbf({gamma})", Moments(
                           nngp, lambda q12, q11, q22: 2 * gamma * nngp(q12, q11, q22),
                           jnp.ones_like))


def Exp(a: float = 1.0, b: float = 1.0):
  """`a * exp(b * x)`."""

  def nngp(q12, q11, q22):
    return a ** 2 * jnp.exp(b ** 2 * ((q11 + q22) / 2 + q12))

  return _from_moments(lambda x: a * jnp.exp(b * x), f"Exp({a}, {b})", Moments(
      nngp, lambda q12, q11, q22: b ** 2 * nngp(q12, q11, q22),
      lambda q: a ** 2 * jnp.exp(2 * b ** 2 * q)))


def Gaussian(a: float = 1.0, b: float = -1.0):
  """`a * exp(b * x^2)` (a bump for b < 0)."""

  def det(q12, q11, q22):
    return _sqrt((1 - 2 * b * q11) * (1 - 2 * b * q22) - 4 * b ** 2 * q12 ** 2)

  return _from_moments(lambda x: a * jnp.exp(b * x ** 2), f"Gaussian({a}, {b})", Moments(
      lambda q12, q11, q22: a ** 2 / det(q12, q11, q22),
      lambda q12, q11, q22: a ** 2 * 4 * b ** 2 * q12 / det(q12, q11, q22) ** 3,
      lambda q: a ** 2 / _sqrt(1 - 4 * b * q)))


def Gabor():
  """`exp(-x^2) sin(x)`."""

  def parts(q12, q11, q22):
    s = q11 + q22
    diff = 4 * (q11 * q22 - q12 ** 2)
    denom = 2 * s + diff + 1
    exp_left = jnp.exp(-(s + diff + 2 * q12) / (2 * denom))
    return s, diff, denom, exp_left, jnp.exp(2 * q12 / denom)

  def nngp(q12, q11, q22):
    _, _, denom, exp_left, exp_right = parts(q12, q11, q22)
    return exp_left * (exp_right - 1) / (2 * _sqrt(denom))

  def dot(q12, q11, q22):
    s, diff, denom, exp_left, exp_right = parts(q12, q11, q22)
    shared = 1 + 2 * s + 4 * (q12 ** 2 + q11 * q22)
    cross = 4 * q12 * (diff + 3 * s + 2)
    return exp_left * ((shared - cross) + exp_right * (shared + cross)) / denom ** 2.5 / 2

  def diag(q):
    denom = 1 + 4 * q
    return (1 - jnp.exp(-2 * q / denom)) / (2 * _sqrt(denom))

  return _from_moments(lambda x: jnp.exp(-x ** 2) * jnp.sin(x), "Gabor",
                       Moments(nngp, dot, diag))


# ---------------------------------------------------------------------------------------------
# Polynomials.


def _monomial_moment(degree: int):
  """(q12, q11, q22) -> E[u^d v^d] by Isserlis' theorem (degrees -1..5)."""

  def moment(q12, q11, q22):
    prod = q11 * q22
    if degree == -1:
      return jnp.zeros_like(q12 * prod)
    if degree == 0:
      return jnp.ones_like(q12 * prod)
    return {1: lambda: q12 * jnp.ones_like(prod),
            2: lambda: 2 * q12 ** 2 + prod,
            3: lambda: 6 * q12 ** 3 + 9 * q12 * prod,
            4: lambda: 3 * (8 * q12 ** 4 + 3 * prod * (8 * q12 ** 2 + prod)),
            5: lambda: 15 * q12 * (8 * q12 ** 4 + 5 * prod * (8 * q12 ** 2 + 3 * prod))
            }[degree]()

  return moment


def Monomial(degree: int):
  """`x^degree` for degree in 0..5."""
  if degree not in range(6):
    raise NotImplementedError(f"Monomial: degree must be an int in 0..5, got {degree!r}")
  lower = _monomial_moment(degree - 1)
  return _from_moments(lambda x: x ** degree, f"Monomial({degree})", Moments(
      _monomial_moment(degree), lambda q12, q11, q22: degree ** 2 * lower(q12, q11, q22),
      lambda q: _double_factorial(2 * degree - 1) * q ** degree))


def Polynomial(coef: Sequence[float]):
  """`sum_k coef[k] x^k`, by Mehler's (Hermite) expansion (module doc)."""
  coef = [float(c) for c in coef]
  degree = len(coef)

  def r(q, l):
    """r_l(q) = sum_i coef[2i+l] (2i+l)! / (2^i i! sqrt(l!)) q^(i + l/2)."""
    root = _sqrt(q)
    total = jnp.zeros_like(q)
    for i in range((degree - 1 - l) // 2 + 1):
      k = 2 * i + l
      weight = coef[k] * math.factorial(k) / (2 ** i * math.factorial(i)
                                              * math.sqrt(math.factorial(l)))
      total = total + weight * root ** k
    return total

  def series(q12, q11, q22, derivative):
    root = _sqrt(q11 * q22)
    rho = q12 / root
    total = jnp.zeros_like(q12 * root)
    for l in range(1 if derivative else 0, degree):
      term = r(q11, l) * r(q22, l)
      total = total + (l * term * rho ** (l - 1) / root if derivative else term * rho ** l)
    return total

  def diag(q):
    return sum((r(q, l) ** 2 for l in range(degree)), jnp.zeros_like(q))

  return _from_moments(lambda x: jnp.polyval(jnp.asarray(coef[::-1], x.dtype), x),
                       f"Polynomial({coef})", Moments(
                           lambda q12, q11, q22: series(q12, q11, q22, False),
                           lambda q12, q11, q22: series(q12, q11, q22, True), diag))


def Hermite(degree: int):
  """The normalised probabilists' Hermite polynomial He_d(x) / sqrt(d!); its kernel is
  q12^d, valid for inputs of unit variance (NT's assumption)."""
  if not isinstance(degree, int) or degree < 0:
    raise ValueError(f"degree must be a non-negative int, got {degree!r}")
  poly = np.polynomial.hermite_e.herme2poly([0] * degree + [1])[::-1] / math.sqrt(
      math.factorial(degree))

  def dot(q12, q11, q22):
    del q11, q22
    return jnp.zeros_like(q12) if degree == 0 else degree * q12 ** (degree - 1)

  return _elementwise(lambda x: jnp.polyval(jnp.asarray(poly, x.dtype), x),
                      f"Hermite({degree})", lambda c: c.map(
                          lambda m: m ** degree, ntk_too=False).replace(
                              ntk=None if c.ntk is None else c.ntk * dot(c.nngp, None, None)))


# ---------------------------------------------------------------------------------------------
# Any activation.


def Elementwise(fn: Callable | None = None, nngp_fn: Fn2 | None = None,
                d_nngp_fn: Fn2 | None = None):
  """An activation from its finite-width `fn` and a closed form of its kernel.

  Args:
    fn: phi, elementwise (None: `apply_fn` raises).
    nngp_fn: `nngp_fn(cov12, var1, var2) = E[phi(u) phi(v)]` for (u, v) Gaussian with
      variances var1, var2 and covariance cov12; scalar code is fine (it is vectorised).
      None: `kernel_fn` raises.
    d_nngp_fn: `E[phi'(u) phi'(v)]` in the same arguments; by default d nngp_fn / d cov12
      (automatic differentiation), which holds for any phi (Price's theorem).
  """
  if fn is None and nngp_fn is None:
    raise ValueError("Elementwise needs fn (finite width) or nngp_fn (infinite width)")
  name = getattr(fn if fn is not None else nngp_fn, "__name__", "Elementwise")
  if nngp_fn is None:
    return _elementwise(fn, name, None)
  nngp = jnp.vectorize(nngp_fn)
  dot = jnp.vectorize(d_nngp_fn if d_nngp_fn is not None else jax.grad(nngp_fn))

  def broadcast(f):
    def g(q12, q11, q22):
      q11, q22 = jnp.broadcast_to(q11, q12.shape), jnp.broadcast_to(q22, q12.shape)
      return f(q12, q11, q22)
    return g

  return _from_moments(fn, name, Moments(broadcast(nngp), broadcast(dot)))


def ElementwiseNumerical(fn: Callable, deg: int, df: Callable | None = None):
  """Any activation by Gauss-Hermite quadrature of degree `deg` (error and cost ~ deg^2).

  With nodes x_i and weights w_i of `hermgauss(deg)`, (u, v) = (sqrt(2 q11) x_i,
  q12 / sqrt(q11 / 2) x_i + sqrt(2 (q22 - q12^2 / q11)) x_j) and
  E[f(u) f(v)] ~ sum_ij w_i w_j f(u) f(v) / pi, for f = fn (nngp) and f = df (ntk;
  default: the derivative of fn by automatic differentiation). Smooth activations need
  `deg` ~ 25; prefer closed forms or Monte Carlo for kinks (ReLU).
  """
  if not isinstance(deg, int) or deg < 1:
    raise ValueError(f"deg must be a positive int, got {deg!r}")
  nodes, weights = np.polynomial.hermite.hermgauss(deg)
  df = df if df is not None else jnp.vectorize(jax.grad(fn))

  def integrate(f, q12, q11, q22):
    q12, q11, q22 = (q[None, None] for q in jnp.broadcast_arrays(q12, q11, q22))
    x = jnp.asarray(nodes, q12.dtype).reshape((deg, 1) + (1,) * (q12.ndim - 2))
    y = jnp.asarray(nodes, q12.dtype).reshape((1, deg) + (1,) * (q12.ndim - 2))
    u = _sqrt(2 * q11) * x
    v = q12 / jnp.sqrt(jnp.maximum(q11 / 2, 1e-30)) * x + _sqrt(2 * (q22 - q12 ** 2 / q11)) * y
    grid = jnp.asarray(np.outer(weights, weights), q12.dtype)
    return jnp.tensordot(grid, f(u) * f(v), ((0, 1), (0, 1))) / math.pi

  def diag(q):
    x = jnp.asarray(nodes, q.dtype).reshape((deg,) + (1,) * q.ndim)
    values = fn(_sqrt(2 * q[None]) * x) ** 2
    return jnp.tensordot(jnp.asarray(weights, q.dtype), values, (0, 0)) / math.sqrt(math.pi)

  return _from_moments(fn, f"ElementwiseNumerical({getattr(fn, '__name__', fn)}, deg={deg})",
                       Moments(lambda q12, q11, q22: integrate(fn, q12, q11, q22),
                               lambda q12, q11, q22: integrate(df, q12, q11, q22), diag))
