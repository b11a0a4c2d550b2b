"""E2.3 (arXiv 2406.03171): exact bias^2 and variance under q of KRR and IW-KRR against
n lambda. Importance weighting lowers the variance at small ridges and raises it at large ones
(the flip), lowers the bias at every positive ridge with a gap that grows with the ridge; the
linearised surrogate tracks the exact values; levels against the spec's [cal] table.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab.experiment import gates, progress
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs
from jaxlab.papers.krr_covariate_shift.context import Context, sample

# [cal] of the spec (E2.3 table at d = 400, n = 800, mu = 1, h = exp, one design):
# n lambda: (KRR bias2, KRR var, IW bias2, IW var).
CAL_D = 400
CAL = {0.0: (3.262, 0.0703, 3.262, 0.0703), 0.08: (3.362, 0.0645, 3.204, 0.0596),
       0.8: (4.070, 0.0360, 3.604, 0.0317), 8.0: (6.180, 0.0041, 4.545, 0.0053),
       24.0: (6.957, 0.0010, 4.919, 0.0017), 800.0: (7.493, 0.0001, 5.930, 0.0002)}


def variance_flip(nlams, var_iw, var_krr) -> float | None:
  """The smallest grid n lambda > 0 with Var_IW > Var_KRR (beyond rounding), or None."""
  return next((float(nl) for nl, a, b in zip(nlams, var_iw, var_krr)
               if nl > 0 and a > b * (1 + 1e-9)), None)


# Exact bias^2 and variance of KRR and IW-KRR (and their surrogates): one compilation per
# (shape, h, surrogate), shared by E2.3 and E2.4.
evaluate = jax.jit(cs.evaluate, static_argnames=("h", "surrogate"))


def _evaluate(ctx: Context, d: int, surrogate: bool) -> dict[str, np.ndarray]:
  """`cs.evaluate` on every design at dimension d: `{estimator: (D, 2, L)}` (bias^2,
  variance); one metrics line per design."""
  c = ctx.config
  nlams = np.asarray(c.nlams)
  rows = []
  for s in progress.bar(range(c.num_designs), desc=f"E2.3 designs (d = {d})"):
    ev = jax.device_get(evaluate(sample(ctx, ctx.keys.bias_variance, d, s), ctx.h,
                                 jnp.asarray(nlams), c.noise_std, surrogate=surrogate))
    rows.append({k: np.stack([v.bias2, v.variance]) for k, v in ev.items()})
    ctx.record.log({"study": "E2.3", "d": d, "design": s, "nlams": nlams,
                    **{f"{k}_{f}": getattr(v, f) for k, v in ev.items()
                       for f in ("bias2", "variance")}})
  return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def _orderings(ctx: Context, d: int, mean: dict[str, np.ndarray]) -> None:
  """E2.3a (variance ordering on both sides of the flip) and E2.3b (bias ordering)."""
  nlams = np.asarray(ctx.config.nlams)
  (bk, vk), (bw, vw) = mean["krr"], mean["iw"]
  small, large = (nlams > 0) & (nlams <= 0.2), nlams >= 8
  ok_a = bool(np.all(vw[small] < vk[small]) and np.all(vw[large] > vk[large]))
  ctx.record.gates.check(
      f"E2.3a variance ordering (d = {d}): Var_IW < Var_KRR for 0 < n lam <= 0.2 and "
      "Var_IW > Var_KRR for n lam >= 8", {"var_iw / var_krr": (vw / vk).tolist()},
      "ratio < 1 on (0, 0.2], > 1 on [8, inf)", ok_a)
  gap, pos = bk - bw, nlams > 0
  ok_b = bool(np.all(gap[pos] > 0) and gap[-1] > gap[np.argmax(pos)])
  ctx.record.gates.check(
      f"E2.3b bias ordering (d = {d}): Bias_IW < Bias_KRR for n lam > 0 and the gap at the "
      "largest n lam exceeds the gap at the smallest positive one", {"gap": gap.tolist()},
      "gap > 0, gap[-1] > gap[first positive]", ok_b)
  ctx.record.observations[f"E2.3 variance flip (smallest n lam with Var_IW > Var_KRR), "
                          f"d = {d}"] = variance_flip(nlams, vw, vk)


def _surrogate(ctx: Context, d: int, mean: dict[str, np.ndarray]) -> None:
  """E2.3c: the linearised surrogate against the exact bias^2 and variance."""
  devs = {f"{name}_{f}": float(np.max(np.abs(mean[name + "_lin"][i] / mean[name][i] - 1.0)))
          for name in ("krr", "iw") for i, f in enumerate(("bias2", "variance"))}
  ctx.record.gates.check(
      f"E2.3c linearised surrogate vs exact (d = {d}): max rel. dev. of bias and variance, "
      "both estimators, every n lam",
      gates.interval(max(devs.values()), hi=0.05 * ctx.config.level_tol_scale,
                     per_quantity=devs))


def _cal_levels(ctx: Context, mean: dict[str, np.ndarray]) -> None:
  """The levels at d = 400 against [cal] (soft), on the n lambda of the grid in the table."""
  c = ctx.config
  nlams = np.asarray(c.nlams)
  (bk, vk), (bw, vw) = mean["krr"], mean["iw"]
  rel_b, rel_v = [], []
  for nl, (kb, kv, ib, iv) in CAL.items():
    j = int(np.argmin(np.abs(nlams - nl)))
    if abs(nlams[j] - nl) > 1e-12:
      continue
    rel_b += [abs(bk[j] / kb - 1), abs(bw[j] / ib - 1)]
    rel_v += [abs(vk[j] / kv - 1), abs(vw[j] / iv - 1)]
  if rel_b:
    tb, tv = 0.10 * c.level_tol_scale, 0.25 * c.level_tol_scale
    ctx.record.gates.check(
        "E2.3 levels vs the [cal] table at d = 400 (soft): max rel. dev. bias / variance",
        [max(rel_b), max(rel_v)], f"<= [{tb:g}, {tv:g}]", max(rel_b) <= tb and max(rel_v) <= tv)


def _curves(ctx: Context, d: int, mean: dict[str, np.ndarray]) -> None:
  c = ctx.config
  for k, m in mean.items():
    for j, nl in enumerate(c.nlams):
      ctx.record.curves.append({"study": "E2.3", "d": d, "n": int(round(c.n_over_d * d)),
                                "estimator": k, "nlam": float(nl), "bias2": float(m[0, j]),
                                "variance": float(m[1, j]), "risk": float(m[0, j] + m[1, j]),
                                "designs": c.num_designs})


def bias_variance(ctx: Context) -> None:
  """E2.3 at every d of `ds` (the surrogate at `surrogate_d`; [cal] levels at d = 400 with
  the spec's n / d, mu and h)."""
  c = ctx.config
  for d in c.ds:
    t0 = time.perf_counter()
    res = _evaluate(ctx, d, surrogate=d == c.surrogate_d)
    logging.info("E2.3 d = %d: %d designs in %.1fs", d, c.num_designs, time.perf_counter() - t0)
    mean: dict[str, Any] = {k: v.mean(0) for k, v in res.items()}       # {estimator: (2, L)}
    _curves(ctx, d, mean)
    _orderings(ctx, d, mean)
    if d == c.surrogate_d:
      _surrogate(ctx, d, mean)
    if d == CAL_D and c.n_over_d == 2.0 and c.mu == 1.0 and c.h == "exp":
      _cal_levels(ctx, mean)
