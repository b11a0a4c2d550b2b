"""P4-B: the l-inf construction on the 2D checkerboard, as a ReLU network with min-trees.

  result = run(config.classification_2d, key)
  result["instances"]      # per replicate: exact adversarial training error, Monte Carlo and
                           # box-geometry errors, PGD on the network, parameter counts
  result["checks"]

Checks: the single bump's support and plateau areas by Monte Carlo against (2(delta + w))^2 and
(2 delta)^2 (1%); the ReLU min-tree against `jnp.min`; the network against the analytic
construction; zero adversarial training error where separation holds (exact per ball, by
vertex enumeration); PGD of the shared core finds nothing there; the Monte Carlo errors
within 3 standard errors of the exact box geometry; parameters P_g + 25 |F|.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab import models
from jaxlab.experiment import gates, progress
from jaxlab.papers.robust_overfitting import attack, construction, data, exact_2d, network
from jaxlab.papers.robust_overfitting.config import Classification2D
from jaxlab.papers.robust_overfitting.construction import Bumps, Construction

MIN_TREE_TOL = 2 * np.finfo(np.float64).eps   # a - (a - b) rounds twice at most


def _apply(model, params, x: np.ndarray, chunk: int = 1 << 14) -> np.ndarray:
  """h = logit_1 - logit_0 of the network at `x (N, d)` `(N,)`: one compiled program, chunks
  of one shape (the last one padded)."""
  apply = jax.jit(model.apply)
  n = len(x)
  x = np.concatenate([x, np.repeat(x[:1], -n % chunk, axis=0)])
  logits = np.concatenate([np.asarray(apply(params, jnp.asarray(x[i:i + chunk])))
                           for i in range(0, len(x), chunk)])[:n]
  return logits[:, 1] - logits[:, 0]


def single_bump(cfg: Classification2D, key: jax.Array) -> dict[str, float]:
  """Areas of the network's bump support {B > 0} and plateau {B = 1} by Monte Carlo, in a
  box of side 3 (delta + w) around a centre inside a support cell, against the exact ones."""
  lo, hi, _ = data.support(cfg.bands)
  centre = np.full((1, 2), (lo[0] + hi[0]) / 2)
  c = Construction(cfg.bands, 2, Bumps(centre, np.ones(1), cfg.delta, cfg.w), np.zeros(1, int),
                   cfg.margin)
  model, params = network.classifier_network(c)
  half = 1.5 * (cfg.delta + cfg.w)
  x = centre + data.generator(key).uniform(-half, half, (cfg.mc_points, 2))
  b = _apply(model, params, x) - data.g_value(x, cfg.bands)
  area = (2 * half) ** 2
  out = {}
  for name, inside, exact in (("support", b > 1e-12, (2 * (cfg.delta + cfg.w)) ** 2),
                              ("plateau", b > 1 - 1e-12, (2 * cfg.delta) ** 2)):
    frac = inside.mean()
    out[name] = {"mc": float(frac * area), "exact": exact, "ratio": float(frac * area / exact),
                 "se_ratio": float(np.sqrt(frac * (1 - frac) / len(x)) * area / exact)}
  return out


def min_tree_error(key: jax.Array, dims=(2, 5), num: int = 10_000) -> float:
  """max |min_tree(t) - min(t)| over random t in [0, 1]^d (d = 2: one level; d = 5: three
  levels with odd carries)."""
  worst = 0.0
  tree = jax.jit(network.min_tree)
  for d, k in zip(dims, jax.random.split(key, len(dims))):
    t = jnp.asarray(data.generator(k).random((num, d)))
    worst = max(worst, float(jnp.max(jnp.abs(tree(t) - jnp.min(t, axis=-1)))))
  return worst


def instance(cfg: Classification2D, key: jax.Array, seed: int) -> dict[str, Any]:
  """One replicate: the construction, its exact and Monte Carlo errors, PGD, sizes."""
  data_key, mc_key, attack_key, probe_key = jax.random.split(jax.random.fold_in(key, seed), 4)
  x, _, y = data.sample(data_key, cfg.n, cfg.bands, dim=2)
  c = construction.classifier(x, y, cfg.bands, delta=cfg.delta, w=cfg.w, margin=cfg.margin)
  exact = exact_2d.ball_errors(c, x, y)
  model, params = network.classifier_network(c)
  found, x_adv = attack.pgd_errors(model, params, x, y, attack_key, delta=cfg.delta,
                                   steps=cfg.pgd_steps, restarts=cfg.pgd_restarts)
  rng = data.generator(probe_key)                 # probe points: uniform, and near bumps
  near = c.bumps.centres[np.arange(500) % len(c.fit)] if len(c.fit) else x[:500]
  probe = np.clip(np.concatenate([rng.random((2000, 2)), near + rng.uniform(
      -2, 2, near.shape) * (cfg.delta + cfg.w)]), 0, 1)
  violations = construction.separation_violations(x, y, c)
  g_hidden, g_params = network.g_params_2d(c)
  p_g = models.num_params(g_params)
  return {
      "seed": seed, "num_bumps": len(c.fit), "adv_train_error": float(exact.mean()),
      "separation_violations": violations, "separation": violations == 0,
      "isolated": bool(np.all(construction.isolated(c))),
      "pgd_found": int(found.sum()), "pgd_found_not_exact": int(np.sum(found & ~exact)),
      "pgd_found_not_confirmed": int(np.sum(found & ~attack.network_wrong(
          construction.value(c, x_adv), y))),
      "network_error": float(np.max(np.abs(_apply(model, params, probe)
                                           - construction.value(c, probe)))),
      "geometry": exact_2d.geometric_errors(c),
      "monte_carlo": exact_2d.monte_carlo(c, mc_key, cfg.mc_points),
      "num_params": models.num_params(params), "params_formula": p_g + 25 * len(c.fit),
      "hidden_units": network.hidden_units(c), "g_hidden": list(g_hidden)}


def _pooled_z(rows, name: str) -> float:
  """|sum (mc - exact)| / sqrt(sum se^2) over the instances."""
  diff = sum(r["monte_carlo"][name]["mean"] - r["geometry"][name] for r in rows)
  se = np.sqrt(sum(r["monte_carlo"][name]["se"] ** 2 for r in rows))
  return float(abs(diff) / se)


def run(cfg: Classification2D, key: jax.Array) -> dict[str, Any]:
  """The P4-B part: single-bump areas, min-tree, per-replicate instances, checks."""
  bump_key, tree_key, key = jax.random.split(key, 3)
  bump = single_bump(cfg, bump_key)
  tree = min_tree_error(tree_key)
  rows = [instance(cfg, key, seed) for seed in progress.bar(cfg.seeds, desc="P4-B seeds")]
  g = gates.Gates()
  for name in ("support", "plateau"):
    g.check(f"P4-B single bump: Monte Carlo {name} area / exact",
            gates.interval(bump[name]["ratio"], 0.99, 1.01, se=bump[name]["se_ratio"]))
  g.check("P4-B ReLU min-tree = jnp.min (max abs difference)",
          gates.interval(tree, hi=MIN_TREE_TOL))
  g.check("P4-B network = analytic construction (max abs difference)",
          gates.interval(max(r["network_error"] for r in rows), hi=1e-9))
  separated = [r for r in rows if r["separation"]]
  worst = max((r["adv_train_error"] for r in separated), default=float("nan"))
  g.check("P4-B adversarial training error = 0 where separation holds (exact)", worst,
          "== 0", bool(separated) and worst == 0.0, instances=len(separated), of=len(rows))
  zero = [r for r in rows if r["adv_train_error"] == 0.0]
  g.check("P4-B PGD finds no adversarial training example where the exact count is 0",
          sum(r["pgd_found"] for r in zero), "== 0",
          bool(zero) and sum(r["pgd_found"] for r in zero) == 0, instances=len(zero))
  g.check("P4-B every PGD example is a real error (exact and analytic)",
          sum(r["pgd_found_not_exact"] + r["pgd_found_not_confirmed"] for r in rows), "== 0",
          all(r["pgd_found_not_exact"] + r["pgd_found_not_confirmed"] == 0 for r in rows))
  isolated = [r for r in rows if r["isolated"]]
  for name in ("disagreement", "clean_error", "robust_error"):
    g.check(f"P4-B Monte Carlo {name} within 3 SE of the box geometry (pooled z)",
            gates.interval(_pooled_z(isolated, name) if isolated else float("nan"), hi=3.0,
                           instances=len(isolated)))
  g.check("P4-B parameters = P_g + 25 |F| (linear in n)",
          max(abs(r["num_params"] - r["params_formula"]) for r in rows), "== 0",
          all(r["num_params"] == r["params_formula"] for r in rows))
  return {"single_bump": bump, "min_tree_error": tree, "instances": rows, "checks": g.checks}
