"""The exact piecewise-linear form of a trained `jaxlab.models.MLP` on 1D inputs, so its robust
errors are computed exactly (`exact_1d`) instead of estimated by an attack.

  h = piecewise_linear(params)          # PiecewiseLinear of logit_1 - logit_0 on [0, 1]
  sets = exact_1d.sign_sets(h)

A ReLU MLP of one input is continuous and piecewise linear. Layer by layer: between consecutive
breakpoints found so far every earlier layer is linear, so each pre-activation of the next
layer is linear there and changes sign at most once, at the zero of the line through its two
end values; adding those zeros gives the breakpoints of that layer. After the last hidden
layer, the output is linear between breakpoints, so its values at them define it exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab.papers.robust_overfitting.piecewise_linear import PiecewiseLinear


def dense_layers(params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
  """`[(kernel, bias), ...]` of an MLP's `Dense_i` layers in order, as float64."""
  tree = params["params"]
  names = sorted(tree, key=lambda k: int(k.split("_")[-1]))
  return [(np.asarray(tree[k]["kernel"], np.float64), np.asarray(tree[k]["bias"], np.float64))
          for k in names]


def _pre_activation(layers, t: np.ndarray, depth: int) -> np.ndarray:
  """Pre-activations of layer `depth` at inputs `t (B,)`: `(B, H)`."""
  a = t[:, None]
  for kernel, bias in layers[:depth]:
    a = np.maximum(a @ kernel + bias, 0.0)
  kernel, bias = layers[depth]
  return a @ kernel + bias


def piecewise_linear(params: Any, domain: tuple[float, float] = (0.0, 1.0)
                     ) -> PiecewiseLinear:
  """h = logit_1 - logit_0 (or the single output) of the MLP on `domain`, exactly."""
  layers = dense_layers(params)
  breaks = np.array(domain, np.float64)
  for depth in range(len(layers) - 1):
    z = _pre_activation(layers, breaks, depth)
    za, zb = z[:-1], z[1:]
    ta, tb = breaks[:-1, None], breaks[1:, None]
    cross = za * zb < 0
    with np.errstate(divide="ignore", invalid="ignore"):
      t = ta + (tb - ta) * za / (za - zb)
    breaks = np.unique(np.concatenate([breaks, t[cross]]))
  out = _pre_activation(layers, breaks, len(layers) - 1)
  h = out[:, 1] - out[:, 0] if out.shape[1] == 2 else out[:, 0]
  return PiecewiseLinear(breaks, h)
