"""P1-B of the mean-field ResNet study (arXiv 2403.09889): approach to the mean-field limit.

  rows = limit_sweep(config, key, x, y, x_test, sweep_dir)   # one row per (L, M) point
  limit_ratios(config, rows)["depth_ratio"]                  # about 2: error ~ 1/L

Models of depth L and width M are built from one depth-1 draw (`resnet.shared_layers`), so
every (L, M) discretises the same mean-field limit; each is trained for the same time and
compared with a reference (L_ref, M_ref) model on test inputs (sup over x of |f - f_ref|).
Seeds are vmapped; the (L, M) points run through `jaxlab.experiment.sweep.run_sweep`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import sweep
from jaxlab.papers.meanfield_resnet import resnet
from jaxlab.papers.meanfield_resnet.config import Config


@functools.partial(jax.jit, static_argnames=("depth", "width", "num_steps"))
def limit_outputs(shared: resnet.Params, x, y, x_test, *, depth: int, width: int, alpha, beta,
                  learning_rate, num_steps: int):
  """For each seed of `shared` (depth-1 params with a leading seed axis S): f(x_test)
  `(S, n_test)` after `num_steps` GD steps and the features z_L(x_test) `(S, n_test, d)` at
  init of the (L, M) model `resnet.shared_layers(shared, depth=L, width=M)`."""

  def one(params):
    params = resnet.shared_layers(params, depth=depth, width=width)
    z0 = resnet.features(params.resnet, x_test, alpha=alpha)
    params = resnet.train(params, x, y, alpha=alpha, beta=beta, learning_rate=learning_rate,
                          num_steps=num_steps)
    return resnet.apply(params, x_test, alpha=alpha, beta=beta), z0

  return jax.vmap(one)(shared)


def limit_sweep(config: Config, key, x, y, x_test, sweep_dir: str) -> list[dict[str, Any]]:
  """Sup-over-test-x errors against the reference (L_ref, M_ref) model: depths at M = M_ref,
  widths at L = L_ref; rows `{"depth", "width", "varied", "error_trained",
  "error_trained_per_seed", "error_init_features"}` (means over the seeds drawn from `key`)."""
  limit = config.limit
  init = functools.partial(resnet.init, dim=config.dim, depth=1, width=limit.ref_width,
                           head_width=config.head_width, dtype=jnp.float64)
  shared = jax.jit(jax.vmap(init))(jax.random.split(key, limit.num_seeds))
  run_model = functools.partial(
      limit_outputs, shared, x, y, x_test, alpha=config.alpha, beta=limit.beta,
      learning_rate=config.eta_beta2 / limit.beta ** 2, num_steps=limit.num_steps)
  f_ref, z_ref = run_model(depth=limit.ref_depth, width=limit.ref_width)

  def point_fn(point):
    f, z = run_model(depth=point["depth"], width=point["width"])
    err = jnp.max(jnp.abs(f - f_ref), axis=-1)                      # (S,)
    zerr = jnp.max(jnp.linalg.norm(z - z_ref, axis=-1), axis=-1)    # (S,)
    return {"error_trained": float(jnp.mean(err)), "error_trained_per_seed": np.asarray(err),
            "error_init_features": float(jnp.mean(zerr))}

  points = ([{"depth": d, "width": limit.ref_width} for d in limit.depths] +
            [{"depth": limit.ref_depth, "width": w} for w in limit.widths])
  records = sweep.run_sweep(point_fn, points, sweep_dir)
  return [{**r["point"], "varied": "depth" if i < len(limit.depths) else "width",
           **r["result"]} for i, r in enumerate(records)]


def limit_ratios(config: Config, rows: list[dict[str, Any]]) -> dict[str, Any]:
  """Error ratios e(L)/e(2L) and e(M)/e(4M) between consecutive grid points (NaN where the grid
  does not double / quadruple) and their geometric means. Depth pairs (L, 2L) count only while
  2L <= L_ref / 4: with the reference's own O(1/L_ref) error the expected ratio is
  (1/L - 1/L_ref) / (1/(2L) - 1/L_ref), which is 2.33 at 2L = L_ref / 4 but 3 at
  2L = L_ref / 2."""
  out: dict[str, Any] = {}
  for varied, factor in (("depth", 2), ("width", 4)):
    sel = [r for r in rows if r["varied"] == varied]
    ratios, counted = [], []
    for lo, hi in zip(sel, sel[1:]):
      r = (lo["error_trained"] / hi["error_trained"] if hi[varied] == factor * lo[varied]
           else float("nan"))
      ratios.append(r)
      if varied == "width" or 4 * hi[varied] <= config.limit.ref_depth:
        counted.append(r)
    counted = [r for r in counted if math.isfinite(r) and r > 0]
    out[f"{varied}_ratios"] = ratios
    out[f"{varied}_ratio"] = (float(np.exp(np.mean(np.log(counted)))) if counted
                              else float("nan"))
  return out
