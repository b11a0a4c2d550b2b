"""Scaled deep ResNet in the mean-field regime: model, particle GD, Gram matrices.

Chen, Liu, Lu, Chrysos, Cevher, *Generalization of Scaled Deep ResNets in the Mean-Field
Regime*, ICLR 2024 (arXiv 2403.09889); concrete form after Lu et al. 2020 (arXiv 2003.05508)
and Ding et al. 2022 (arXiv 2105.14417):

  z_0 = x,   z_{l+1} = z_l + alpha/(L M) sum_m u_{l,m} tanh(w_{l,m}^T z_l)
  f(x) = beta/K sum_k a_k tanh(b_k^T z_L),           R = 1/(2n) sum_i (f(x_i) - y_i)^2

  params = init(jax.random.key(0), dim=16, depth=8, width=64, head_width=512)
  x = synthetic.sphere(jax.random.key(1), 16, 16)           # (n, d) = (16, 16), ||x|| = 1
  y = jnp.sin(3 * x[:, 0])                                  # (16,)
  apply(params, x, alpha=1.0, beta=4.0)                     # (16,), 0 up to rounding (symmetric head)
  g1, g2 = gram(params, x, alpha=1.0)                       # (16, 16) each, PSD
  opt = particle_gd(0.5 / 4.0**2)                           # optax (init, update)
  grads = jax.grad(risk)(params, x, y, alpha=1.0, beta=4.0)
  updates, _ = opt.update(grads, opt.init(params))          # -eta L M dR/dtheta, -eta K dR/domega

Parameters are particles: `ResNetParticles(u, w)` of shape `(L, M, d)` each and
`HeadParticles(a (K,), b (K, d))`. The group-scaled learning rate (L M for ResNet particles, K
for head particles) makes each particle move O(1) per unit time whatever L, M, K are, and the
function-space dynamics is df/dt = -(1/n) beta^2 (G1 + G2) (f - y). Pure JAX; float64 is the
caller's choice (`dtype=jnp.float64` under `jax.enable_x64(True)`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlab.ntk import empirical_ntk_fn


class ResNetParticles(NamedTuple):
  """theta_{l,m} = (u, w): `u (L, M, d)` residual output weights, `w (L, M, d)` input weights."""

  u: jax.Array
  w: jax.Array


class HeadParticles(NamedTuple):
  """omega_k = (a_k, b_k): `a (K,)` output weights, `b (K, d)` input weights."""

  a: jax.Array
  b: jax.Array


class Params(NamedTuple):
  resnet: ResNetParticles
  head: HeadParticles


def sizes(params: Params) -> tuple[int, int, int]:
  """(depth L, width M, head width K) of `params`."""
  depth, width = params.resnet.u.shape[:2]
  return depth, width, params.head.a.shape[0]


def init_resnet(key: jax.Array, *, dim: int, depth: int, width: int, dtype=None
                ) -> ResNetParticles:
  """I.i.d. N(0, I) ResNet particles, `u` and `w` of shape `(L, M, d)`."""
  ku, kw = jax.random.split(key)
  return ResNetParticles(jax.random.normal(ku, (depth, width, dim), dtype=dtype),
                         jax.random.normal(kw, (depth, width, dim), dtype=dtype))


def init_head(key: jax.Array, *, dim: int, head_width: int, dtype=None) -> HeadParticles:
  """Symmetric head: K/2 i.i.d. N(0, I) particles (a, b) and their mirrors (-a, b), so f_0 = 0."""
  if head_width < 2 or head_width % 2:
    raise ValueError(f"head_width must be even and >= 2 for the symmetric head, got {head_width}")
  ka, kb = jax.random.split(key)
  a = jax.random.normal(ka, (head_width // 2,), dtype=dtype)
  b = jax.random.normal(kb, (head_width // 2, dim), dtype=dtype)
  return HeadParticles(jnp.concatenate([a, -a]), jnp.concatenate([b, b]))


def init(key: jax.Array, *, dim: int, depth: int, width: int, head_width: int, dtype=None
         ) -> Params:
  """All particles i.i.d. N(0, I) with a symmetric head (`init_resnet`, `init_head`)."""
  kr, kh = jax.random.split(key)
  return Params(init_resnet(kr, dim=dim, depth=depth, width=width, dtype=dtype),
                init_head(kh, dim=dim, head_width=head_width, dtype=dtype))


def shared_layers(params: Params, *, depth: int, width: int) -> Params:
  """The depth-L, width-M model whose every layer holds the first M particles of the first
  layer of `params`; the head is kept.

  Models of different (L, M) built this way from one `init(key, depth=1, width=M_max, ...)`
  discretise one mean-field limit: the initial law is the same at every depth s = l/L, so depth
  L is an Euler discretisation (step 1/L) of dZ/ds = alpha E[u tanh(w^T Z)] and width M a
  Monte-Carlo estimate of the expectation. Errors against a reference model then behave like
  O(1/L) and O(1/sqrt(M)) (Ding et al. 2022).
  """
  max_width, dim = params.resnet.u.shape[1:]
  if not 1 <= width <= max_width:
    raise ValueError(f"width must be in [1, {max_width}], got {width}")
  resnet = jax.tree.map(lambda v: jnp.broadcast_to(v[:1, :width], (depth, width, dim)),
                        params.resnet)
  return Params(resnet, params.head)


def _layer(z: jax.Array, u: jax.Array, w: jax.Array, scale) -> jax.Array:
  """One residual block on `z (n, d)` with particles `u, w (M, d)`; `scale` = alpha / (L M)."""
  return z + scale * jnp.tanh(z @ w.T) @ u


def hidden_states(resnet: ResNetParticles, x: jax.Array, *, alpha) -> jax.Array:
  """`(L + 1, n, d)`: z_0 = x, z_1, ..., z_L for inputs `x (n, d)`."""
  depth, width = resnet.u.shape[:2]
  scale = alpha / (depth * width)

  def step(z, theta):
    z_next = _layer(z, *theta, scale)
    return z_next, z_next

  _, zs = jax.lax.scan(step, x, (resnet.u, resnet.w))
  return jnp.concatenate([x[None], zs])


def features(resnet: ResNetParticles, x: jax.Array, *, alpha) -> jax.Array:
  """z_L `(n, d)`: the ResNet's output for inputs `x (n, d)`."""
  depth, width = resnet.u.shape[:2]
  scale = alpha / (depth * width)
  z, _ = jax.lax.scan(lambda z, theta: (_layer(z, *theta, scale), None), x,
                      (resnet.u, resnet.w))
  return z


def head_apply(head: HeadParticles, z: jax.Array, *, beta) -> jax.Array:
  """f = beta/K sum_k a_k tanh(b_k^T z) `(n,)` for features `z (n, d)`."""
  return beta * jnp.mean(head.a[None, :] * jnp.tanh(z @ head.b.T), axis=-1)


def apply(params: Params, x: jax.Array, *, alpha, beta) -> jax.Array:
  """f(x) `(n,)` for inputs `x (n, d)` (rows of unit norm in the paper's setting)."""
  return head_apply(params.head, features(params.resnet, x, alpha=alpha), beta=beta)


def risk(params: Params, x: jax.Array, y: jax.Array, *, alpha, beta) -> jax.Array:
  """R = 1/(2n) sum_i (f(x_i) - y_i)^2 for `x (n, d)`, `y (n,)`."""
  return 0.5 * jnp.mean((apply(params, x, alpha=alpha, beta=beta) - y) ** 2)


def particle_gd(learning_rate) -> optax.GradientTransformation:
  """Particle gradient descent with group-scaled rates (spec section 2):

    theta_{l,m} <- theta_{l,m} - eta L M dR/dtheta_{l,m},   omega_k <- omega_k - eta K dR/domega_k

  `learning_rate` (eta) may be a traced scalar, e.g. vmapped over a beta sweep with
  eta = 0.5 / beta^2. Stateless; `update(grads, state, params=None)` as in optax.
  """

  def init_fn(params):
    del params
    return optax.EmptyState()

  def update_fn(grads: Params, state, params=None):
    del params
    depth, width, head_width = sizes(grads)
    scale = lambda g, group: -learning_rate * group * g
    return Params(jax.tree.map(lambda g: scale(g, depth * width), grads.resnet),
                  jax.tree.map(lambda g: scale(g, head_width), grads.head)), state

  return optax.GradientTransformation(init_fn, update_fn)


def gd_step(params: Params, x: jax.Array, y: jax.Array, *, alpha, beta, learning_rate
            ) -> tuple[Params, jax.Array]:
  """One particle-GD step on R; returns (new params, R before the step)."""
  loss, grads = jax.value_and_grad(risk)(params, x, y, alpha=alpha, beta=beta)
  updates, _ = particle_gd(learning_rate).update(grads, optax.EmptyState())
  return optax.apply_updates(params, updates), loss


def train(params: Params, x: jax.Array, y: jax.Array, *, alpha, beta, learning_rate,
          num_steps: int) -> Params:
  """`num_steps` particle-GD steps (a `fori_loop`; jit the caller with `num_steps` static)."""
  step = lambda _, p: gd_step(p, x, y, alpha=alpha, beta=beta, learning_rate=learning_rate)[0]
  return jax.lax.fori_loop(0, num_steps, step, params)


# Gram matrices ----------------------------------------------------------------------------

def gram_head(head: HeadParticles, z: jax.Array) -> jax.Array:
  """G2 `(n, n)` in closed form for features `z = z_L (n, d)`:

    G2_ij = 1/K sum_k [tanh(b_k z_i) tanh(b_k z_j) + a_k^2 tanh'(b_k z_i) tanh'(b_k z_j) z_i.z_j]

  the particle estimate of E_omega <grad_omega h(z_i), grad_omega h(z_j)>, h = a tanh(b^T z).
  """
  s = jnp.tanh(z @ head.b.T)                       # (n, K)
  ds = 1.0 - s ** 2
  k = head.a.shape[0]
  return (s @ s.T + (ds * head.a[None, :] ** 2) @ ds.T * (z @ z.T)) / k


def adjoints(params: Params, x: jax.Array, *, alpha) -> tuple[jax.Array, jax.Array]:
  """Hidden states and normalised adjoints q_l = (1/beta) df/dz_l.

  Returns:
    zs `(L + 1, n, d)` (z_0 .. z_L) and qs `(L + 1, n, d)` (q_0 .. q_L), from the backward
    recursion q_L = 1/K sum_k a_k tanh'(b_k z_L) b_k and
    q_l = q_{l+1} + alpha/(L M) sum_m (q_{l+1}.u_{l,m}) tanh'(w_{l,m} z_l) w_{l,m}.
  """
  resnet, head = params
  depth, width = resnet.u.shape[:2]
  scale = alpha / (depth * width)
  zs = hidden_states(resnet, x, alpha=alpha)
  s = jnp.tanh(zs[-1] @ head.b.T)
  q_last = ((1.0 - s ** 2) * head.a[None, :]) @ head.b / head.a.shape[0]

  def back(q, layer):
    z, u, w = layer
    dsig = 1.0 - jnp.tanh(z @ w.T) ** 2            # (n, M)
    q_prev = q + scale * ((q @ u.T) * dsig) @ w
    return q_prev, q_prev

  _, qs = jax.lax.scan(back, q_last, (zs[:-1], resnet.u, resnet.w), reverse=True)
  return zs, jnp.concatenate([qs, q_last[None]])


def gram_resnet(params: Params, x: jax.Array, *, alpha) -> jax.Array:
  """G1 `(n, n)` in closed form (adjoint sensitivity), G1 = (L M / beta^2) J_res J_res^T:

    G1_ij = alpha^2/(L M) sum_{l,m} [tanh(w z_l^i) tanh(w z_l^j) q_{l+1}^i.q_{l+1}^j
                                     + (q_{l+1}^i.u)(q_{l+1}^j.u) tanh'(w z_l^i) tanh'(w z_l^j)
                                       z_l^i.z_l^j]

  with (u, w) = theta_{l,m} and q the normalised adjoints of `adjoints`.
  """
  depth, width = params.resnet.u.shape[:2]
  zs, qs = adjoints(params, x, alpha=alpha)

  def layer_term(z, q, u, w):
    s = jnp.tanh(z @ w.T)                           # (n, M)
    v = (q @ u.T) * (1.0 - s ** 2)                  # (n, M)
    return (s @ s.T) * (q @ q.T) + (v @ v.T) * (z @ z.T)

  terms = jax.vmap(layer_term)(zs[:-1], qs[1:], params.resnet.u, params.resnet.w)
  return alpha ** 2 * jnp.sum(terms, axis=0) / (depth * width)


def gram(params: Params, x: jax.Array, *, alpha) -> tuple[jax.Array, jax.Array]:
  """(G1, G2), each `(n, n)`, in closed form; the NTK of f is beta^2 (G1 + G2) scaled by the
  group learning rates."""
  z = features(params.resnet, x, alpha=alpha)
  return gram_resnet(params, x, alpha=alpha), gram_head(params.head, z)


def gram_jacobian(params: Params, x: jax.Array, *, alpha) -> tuple[jax.Array, jax.Array]:
  """(G1, G2) from Jacobians through jaxlab's empirical NTK: G1 = L M J_res J_res^T and
  G2 = K J_head J_head^T at beta = 1. Equal to `gram` (to rounding); slower."""
  depth, width, head_width = sizes(params)
  f_res = lambda resnet, x: apply(Params(resnet, params.head), x, alpha=alpha, beta=1.0)
  f_head = lambda head, x: apply(Params(params.resnet, head), x, alpha=alpha, beta=1.0)
  ntk_res = empirical_ntk_fn(f_res, trace_axes=(), vmap_axes=0)(x, None, params.resnet)
  ntk_head = empirical_ntk_fn(f_head, trace_axes=(), vmap_axes=0)(x, None, params.head)
  return depth * width * ntk_res, head_width * ntk_head


# Particle statistics ------------------------------------------------------------------------

def mean_sq_displacement(particles: jax.Array, initial: jax.Array) -> jax.Array:
  """Mean over particles of ||p_t - p_0||^2 for particle arrays `(..., N, p)`; an upper bound
  on the squared W2 distance of the empirical laws (a proxy, spec pitfall 5)."""
  return jnp.mean(jnp.sum((particles - initial) ** 2, axis=-1), axis=-1)


def resnet_samples(resnet: ResNetParticles) -> jax.Array:
  """ResNet particles as per-layer samples `(L, M, 2d)` of theta = (u, w)."""
  return jnp.concatenate([resnet.u, resnet.w], axis=-1)


def head_samples(head: HeadParticles) -> jax.Array:
  """Head particles as samples `(K, d + 1)` of omega = (a, b)."""
  return jnp.concatenate([head.a[:, None], head.b], axis=-1)
