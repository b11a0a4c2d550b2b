"""E3.1: the empirical Rademacher complexity of the unit path-norm ball against n and d.

Per d, one compiled call estimates every (n, sign draw) at once (`rademacher.estimate` over
the rows of `sign_weights`, nested points); then the sanity gate: random networks of each
width in `sanity_widths`, rescaled to path norm 1, never correlate with a draw's signs above
its estimate (+ 1e-9), and the attaining atom reproduces it; and, as a diagnostic, networks
trained by gradient ascent at the smallest n. One record per (d, n) in points.jsonl.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab.experiment import Workdir, gates, progress
from jaxlab.models import path_norm as path_norm_lib
from jaxlab.papers.path_norm import data, rademacher
from jaxlab.papers.path_norm.config import Config
from jaxlab.papers.path_norm.records import Records
from jaxlab.training import guard

PART = "rademacher"


def _measure(cfg, variant: str, key: jax.Array, x: jax.Array, weights: jax.Array
             ) -> tuple[rademacher.Estimate, jax.Array, jax.Array]:
  """The estimates of every problem, the sanity gate's largest excess max |(1/n) sum eps_i
  f(x_i)| - estimate over the random networks of every width and problem, and the largest
  |correlation of the attaining atom - estimate| (one compiled function)."""
  k_dirs, k_sanity = jax.random.split(key)
  est = rademacher.estimate(k_dirs, x, weights, ns=cfg.ns, num_directions=cfg.num_directions,
                            num_refine=cfg.num_refine, refine_steps=cfg.refine_steps,
                            variant=variant)
  weights = weights.reshape(-1, x.shape[0])
  nets = rademacher.random_networks(k_sanity, cfg.sanity_networks, cfg.sanity_widths,
                                    x.shape[1], 1.0, variant, x.dtype)
  corr = rademacher.network_correlations(nets, x, weights)                  # (M, B)
  excess = jnp.max(jnp.abs(corr) - est.value[None, :])
  atoms = rademacher.atom(est)
  atom_corr = jax.vmap(lambda w, a, v: v @ jax.nn.relu(x @ w.T) @ a)(atoms.w, atoms.a, weights)
  return est, excess, jnp.max(jnp.abs(atom_corr - est.value))


def _one_dimension(config: Config, d: int, key: jax.Array) -> dict[str, Any]:
  """Everything of E3.1 at dimension d; values `(len(ns), num_draws)`."""
  cfg = config.rademacher
  ns, n_max = cfg.ns, cfg.ns[-1]
  k_points, k_signs, k_measure, k_ascent = jax.random.split(key, 4)
  x = data.inputs(k_points, n_max, d)
  weights = rademacher.sign_weights(k_signs, cfg.num_draws, ns, n_max)     # (N, S, n_max)
  t0 = time.perf_counter()
  est, sanity, atom_error = jax.block_until_ready(jax.jit(
      lambda k, x, w: _measure(cfg, config.variant, k, x, w))(k_measure, x, weights))
  wall = time.perf_counter() - t0
  guard.check_values(est.value[:, None], steps=[cfg.refine_steps], quantity="estimate",
                     where=f"E3.1 d={d} (projected-gradient refinement)")
  ascent = None
  if cfg.ascent_width:
    m = ns[0]                                              # the smallest n, its points only
    nets = rademacher.random_networks(k_ascent, cfg.num_draws, (cfg.ascent_width,),
                                      x.shape[1], 1.0, config.variant)
    corr = jax.jit(lambda p, w: rademacher.ascend(
        p, x[:m], w, steps=cfg.ascent_steps, learning_rate=0.05, variant=config.variant))(
            nets, weights[0, :, :m])
    guard.check_values(corr[:, None], steps=[cfg.ascent_steps], quantity="loss",
                       where=f"E3.1 d={d} (gradient-ascent diagnostic)")
    ascent = float(jnp.max(corr - est.value[:cfg.num_draws]))
  return {"values": np.asarray(est.value).reshape(len(ns), cfg.num_draws),
          "sanity_excess": float(sanity), "atom_error": float(atom_error),
          "ascent_excess": ascent, "wall_s": wall}


def run(config: Config, keys: data.StudyKeys, records: Records, wd: Workdir
        ) -> dict[str, Any]:
  """E3.1 for every d of `config.rademacher.dims` (finished d's are read back)."""
  cfg = config.rademacher
  out = {}
  boot_keys = jax.random.split(keys.bootstrap_rademacher, len(cfg.dims))
  for d, boot in progress.bar(list(zip(cfg.dims, boot_keys)), desc="E3.1 rademacher"):
    if not all(records.has(PART, d=d, n=n) for n in cfg.ns):
      res = _one_dimension(config, d, jax.random.fold_in(keys.rademacher, d))
      for i, n in enumerate(cfg.ns):
        records.add(PART, {"values": res["values"][i], "sanity_excess": res["sanity_excess"],
                           "atom_error": res["atom_error"], "ascent_excess":
                           res["ascent_excess"], "wall_s": res["wall_s"]}, d=d, n=n)
    recs = [records.get(PART, d=d, n=n) for n in cfg.ns]
    values = np.array([r["values"] for r in recs])                            # (N, S)
    fit = gates.fit_slope(cfg.ns, values, key=boot)
    r_n = values.mean(1)
    out[str(d)] = {
        "n": list(cfg.ns), "R_n": r_n, "R_n_std": values.std(1, ddof=1),
        "sqrt_n_R_n": np.sqrt(cfg.ns) * r_n,
        "bound": [path_norm_lib.rademacher_bound(n, 1.0, config.variant, d + 1)
                  for n in cfg.ns],
        "slope": fit.slope, "ci": [fit.low, fit.high], "per_draw": values,
        "sanity_max_excess": recs[0]["sanity_excess"], "atom_max_error": recs[0]["atom_error"],
        "ascent_max_excess": recs[0]["ascent_excess"], "wall_s": recs[0]["wall_s"]}
    logging.info("E3.1 d=%d: slope %.3f [%.3f, %.3f], sqrt(n) R_n %s, sanity %.2e", d,
                 fit.slope, fit.low, fit.high, np.round(np.sqrt(cfg.ns) * r_n, 3),
                 recs[0]["sanity_excess"])
  return out


__all__ = ["PART", "run"]
