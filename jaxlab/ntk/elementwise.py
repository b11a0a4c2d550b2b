"""Elementwise nonlinearities and their infinite-width kernel maps (NT's `stax` semantics).

  from jaxlab.ntk import stax
  _, apply_fn, kernel_fn = stax.serial(stax.Dense(256), stax.Relu(), stax.Dense(1))

For a Gaussian pre-activation with covariance [[q11, q12], [q12, q22]] a nonlinearity phi
maps nngp to E[phi(u) phi(v)] and ntk to ntk * E[phi'(u) phi'(v)] ("Deep Neural Networks as
Gaussian Processes", Lee et al. 2018, arXiv:1711.00165; "Neural Tangent Kernel", Jacot et al.
2018, arXiv:1806.07572). Closed forms used:
  ABRelu a min(x, 0) + b max(x, 0) (ReLU: a=0, b=1), with theta = arccos(q12 / sqrt(q11 q22)):
    E[phi phi]   = (a - b)^2 / (2 pi) sqrt(q11 q22 - q12^2) + ((a^2 + b^2) / 2
                   - (a - b)^2 / (2 pi) theta) q12          (arc-cosine kernel, Cho & Saul 2009)
    E[phi' phi'] = (a^2 + b^2) / 2 - (a - b)^2 / (2 pi) theta
  Erf a erf(b x) + c, with q -> b^2 q:
    E[phi phi]   = a^2 (2 / pi) arcsin(2 q12 / sqrt((1 + 2 q11)(1 + 2 q22))) + c^2   (Williams
                   1997)
    E[phi' phi'] = a^2 (4 / pi) / sqrt((1 + 2 q11)(1 + 2 q22) - 4 q12^2)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxlab.ntk.kernel import Covariances, layer_kernel_fn, outer, outer_self


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


def _elementwise(fn, name: str, transform):
  """Layer triple of an elementwise `fn` whose kernel map is `transform(Covariances)`."""

  def init_fn(rng, input_shape):
    del rng
    return input_shape, ()

  def apply_fn(params, inputs, **kwargs):
    del params, kwargs
    return fn(inputs)

  def checked(c: Covariances) -> Covariances:
    if not c.is_gaussian:
      raise ValueError(f"The input to {name} must be Gaussian, i.e. a random affine transform "
                       f"(Dense, GlobalSelfAttention) is required before the activation")
    return transform(c).replace(is_gaussian=False)

  return init_fn, apply_fn, layer_kernel_fn(checked, True, name)


def ABRelu(a: float, b: float, do_stabilize: bool = False):
  """`a * min(x, 0) + b * max(x, 0)`; `do_stabilize` rescales by max |nngp| (deep nets)."""

  def fn(x):
    return a * jnp.minimum(x, 0) + b * jnp.maximum(x, 0)

  factor = (a - b) ** 2 / (2 * math.pi)

  def maps(q12, prod):
    root = _sqrt(prod - q12 ** 2)
    dot = (a ** 2 + b ** 2) / 2 - factor * _arctan2(root, q12, math.pi / 2)
    return factor * root + dot * q12, dot

  def transform(c: Covariances) -> Covariances:
    scale = jnp.maximum(jnp.max(jnp.abs(c.nngp)), 1e-12) if do_stabilize else 1.0
    c = c.map(lambda m: m / scale, ntk_too=False)
    v1, v2 = c.variances()
    nngp, dot = maps(c.nngp, outer(v1, v2))
    cov1 = maps(c.cov1, outer_self(v1))[0]
    cov2 = None if c.cov2 is None else maps(c.cov2, outer_self(v2))[0]
    c = c.replace(nngp=nngp, cov1=cov1, cov2=cov2, ntk=None if c.ntk is None else c.ntk * dot)
    return c.map(lambda m: m * scale, ntk_too=False)

  return _elementwise(fn, f"ABRelu({a}, {b})", transform)


def Relu(do_stabilize: bool = False):
  """ReLU max(x, 0): the arc-cosine kernel of degree 1."""
  return ABRelu(0.0, 1.0, do_stabilize)


def LeakyRelu(alpha: float, do_stabilize: bool = False):
  """`alpha * min(x, 0) + max(x, 0)`."""
  return ABRelu(alpha, 1.0, do_stabilize)


def Abs(do_stabilize: bool = False):
  """|x|."""
  return ABRelu(-1.0, 1.0, do_stabilize)


def Erf(a: float = 1.0, b: float = 1.0, c: float = 0.0):
  """`a * erf(b * x) + c`: the arcsine kernel."""

  def fn(x):
    return a * jax.scipy.special.erf(b * x) + c

  def maps(q12, prod):
    root = _sqrt(prod - 4 * q12 ** 2)
    nngp = (2 / math.pi) * _arctan2(2 * q12, root, 0.0)
    return nngp, (4 / math.pi) / root

  def transform(k: Covariances) -> Covariances:
    k = k.map(lambda m: m * b ** 2)
    v1, v2 = k.variances()
    nngp, dot = maps(k.nngp, outer(1 + 2 * v1, 1 + 2 * v2))
    cov1 = maps(k.cov1, outer_self(1 + 2 * v1))[0]
    cov2 = None if k.cov2 is None else maps(k.cov2, outer_self(1 + 2 * v2))[0]
    k = k.replace(nngp=nngp, cov1=cov1, cov2=cov2, ntk=None if k.ntk is None else k.ntk * dot)
    k = k.map(lambda m: m * a ** 2)
    return k.map(lambda m: m + c ** 2, ntk_too=False)

  return _elementwise(fn, f"Erf({a}, {b}, {c})", transform)
