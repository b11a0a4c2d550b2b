"""The constructions as ReLU networks that the shared adversarial core can attack.

  model, params = classifier_network(c)       # c = construction.classifier(...)
  logits = model.apply(params, x)             # (N, 2): (-h / 2, h / 2), class 1 iff h > 0
  attacks.pgd(model.apply, params, x, labels, key, delta, delta / 4, steps=20)

1D: h is a one-hidden-layer ReLU network, the `jaxlab.models.MLP(hidden=(H,), outputs=2)` that
the PGD-trained baseline of P4-D also is, with H = units(g) + 4 |F| units of input weight 1:
g's 2 (2k - 1) ramp kinks and the 4 units of each trapezoid T_c (arXiv 2401.13624, steps 2 and
6). Its parameters are 4 H + 2 (3 H + 1 for the scalar h: weight, bias and output weight per
unit, one output bias, as the spec counts; the two-logit head doubles the output layer).

2D (d >= 2): `LInfBumpNetwork` = g + sum_i kappa_i B_i. Layer 1 holds g's ramp units and 4 units
per coordinate per bump (each reads one coordinate); layer 2 holds g's two units relu(s_1 + s_2),
relu(-s_1 - s_2) and the first level of each bump's min-tree, min(a, b) = a - relu(a - b) with
a = relu(a) since a trapezoid is >= 0 (depth ceil(log2 d)). The bump layers are stored per bump
(`(F, d, 4)` arrays), not as a dense matrix, so the parameter count is P_g + (12 d + 1) |F|:
linear in n (a dense two-layer MLP of the same units would hold (8 |F|) x (2 |F|) weights).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.models import MLP
from jaxlab.papers.robust_overfitting import data
from jaxlab.papers.robust_overfitting import piecewise_linear as pl
from jaxlab.papers.robust_overfitting.construction import Construction
from jaxlab.papers.robust_overfitting.piecewise_linear import ReluUnits


def mlp_from_units(units: ReluUnits, outputs: int = 2) -> tuple[MLP, dict[str, Any]]:
  """The `MLP(hidden=(U,), outputs)` computing f = units (outputs=1) or the logits
  (-f / 2, f / 2) (outputs=2); float64 parameters."""
  if outputs not in (1, 2):
    raise ValueError(f"outputs: must be 1 (regression) or 2 (two logits), got {outputs}")
  head = np.array([1.0]) if outputs == 1 else np.array([-0.5, 0.5])
  params = {"params": {
      "Dense_0": {"kernel": np.ones((1, len(units.kinks))), "bias": -units.kinks},
      "Dense_1": {"kernel": units.slopes[:, None] * head, "bias": units.bias * head}}}
  return MLP(hidden=(len(units.kinks),), outputs=outputs), jax.tree_util.tree_map(
      jnp.asarray, params)


def g_units(c: Construction) -> ReluUnits:
  """The ReLU units of the 1D square wave g."""
  return pl.relu_units(data.square_wave(c.bands))


def classifier_units_1d(c: Construction) -> ReluUnits:
  """h = g + sum_i kappa_i T_i as ReLU units: g's units, then 4 per bump."""
  g = g_units(c)
  bumps = pl.trapezoid_units(c.bumps.centres[:, 0], c.bumps.delta, c.bumps.w)
  slopes = bumps.slopes * np.repeat(c.bumps.kappa, 4)
  return ReluUnits(np.concatenate([g.kinks, bumps.kinks]),
                   np.concatenate([g.slopes, slopes]), g.bias)


def min_tree(t: jax.Array) -> jax.Array:
  """min over the last axis by a pairwise tree of min(a, b) = a - relu(a - b) for a, b >= 0
  (a = relu(a)); an odd leftover passes a level as relu(x) = x. `(..., d)` -> `(...)`."""
  while t.shape[-1] > 1:
    a, b = t[..., 0:-1:2], t[..., 1::2]
    level = [nn.relu(a) - nn.relu(a - b)]
    if t.shape[-1] % 2:
      level.append(nn.relu(t[..., -1:]))
    t = jnp.concatenate(level, axis=-1)
  return t[..., 0]


class LInfBumpNetwork(nn.Module):
  """h(x) = g(x) + sum_i kappa_i min_j T_i(x_j) for `x (N, d)`; logits `(N, 2)` = (-h/2, h/2).

  Attributes:
    g_hidden: hidden widths of g's MLP (it outputs one value).
    num_bumps: F.
  """

  g_hidden: tuple[int, ...]
  num_bumps: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    d = x.shape[-1]
    g = MLP(hidden=self.g_hidden, outputs=1, name="g")(x)[:, 0]
    shape = (self.num_bumps, d, 4)
    kernel = self.param("bump_kernel", nn.initializers.ones, shape)
    bias = self.param("bump_bias", nn.initializers.zeros, shape)
    trapezoid = self.param("trapezoid", nn.initializers.zeros, shape)
    kappa = self.param("amplitude", nn.initializers.zeros, (self.num_bumps,))
    units = nn.relu(x[:, None, :, None] * kernel[None] + bias[None])  # (N, F, d, 4) layer 1
    t = jnp.sum(units * trapezoid[None], axis=-1)                       # (N, F, d)
    h = g + min_tree(t) @ kappa
    return jnp.stack([-h / 2, h / 2], axis=-1)


def g_params_2d(c: Construction) -> tuple[tuple[int, ...], dict[str, Any]]:
  """g = relu(s_1 + s_2) + relu(-s_1 - s_2) - 1 as an MLP(hidden=(2 U, 2), outputs=1) with
  s the square wave's U units on each coordinate: `(hidden, params)`."""
  s = g_units(c)
  u = len(s.kinks)
  kernel0 = np.zeros((2, 2 * u))
  kernel0[0, :u] = kernel0[1, u:] = 1.0
  a = np.concatenate([s.slopes, s.slopes])
  params = {"Dense_0": {"kernel": kernel0, "bias": -np.concatenate([s.kinks, s.kinks])},
            "Dense_1": {"kernel": np.stack([a, -a], -1),
                        "bias": np.array([2 * s.bias, -2 * s.bias])},
            "Dense_2": {"kernel": np.ones((2, 1)), "bias": np.array([-1.0])}}
  return (2 * u, 2), params


def classifier_network(c: Construction) -> tuple[nn.Module, dict[str, Any]]:
  """The construction as a Flax module and its float64 parameters (module docstring)."""
  if c.dim == 1:
    return mlp_from_units(classifier_units_1d(c), outputs=2)
  hidden, g_params = g_params_2d(c)
  knots, _ = pl.trapezoid(c.bumps.centres.ravel(), c.bumps.delta, c.bumps.w)   # (F d, 4)
  f = len(c.bumps.kappa)
  shape = (f, c.dim, 4)
  params = {"params": {
      "g": g_params, "bump_kernel": np.ones(shape), "bump_bias": -knots.reshape(shape),
      "trapezoid": np.broadcast_to(np.array([1.0, -1.0, -1.0, 1.0]) / c.bumps.w, shape).copy(),
      "amplitude": c.bumps.kappa.copy()}}
  return (LInfBumpNetwork(g_hidden=hidden, num_bumps=f),
          jax.tree_util.tree_map(jnp.asarray, params))


def hidden_units(c: Construction) -> int:
  """ReLU units of the network: units(g) + 4 |F| in 1D; g's 2 U + 2 units plus, per bump,
  4 d in layer 1 and the min-tree's units (2 for d = 2) in 2D."""
  g = len(g_units(c).kinks)
  f = len(c.bumps.kappa)
  if c.dim == 1:
    return g + 4 * f
  tree, width = 0, c.dim
  while width > 1:
    tree += 2 * (width // 2) + width % 2
    width = width // 2 + width % 2
  return 2 * g + 2 + f * (4 * c.dim + tree)
