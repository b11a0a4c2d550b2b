"""Oracle-ridge learning curves (E1.3) and the smoothing operator (E1.5), arXiv 2406.09194.

With the best ridge per n, the L2 error of u decays like n^(-2 r_s / (2 r_s - 2 rho + 1))
whatever b (E1.3), and the oracle ridge like n^(-2 b / (2 r_s - 2 rho + 1)); both are
compared with the deterministic equivalent. For a smoothing operator (rho = -1) the oracle
error decays faster with the smoother inductive bias b = 2 (E1.5).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import gates
from jaxlab.kernels import learning_curve
from jaxlab.papers.krr_inverse import inverse
from jaxlab.papers.krr_inverse.context import (Context, Fitter, oracle_lams, simulate_grid,
                                               target)

ORACLE_RHO = 0.25
# E1.5: r_s and the (b, predicted oracle error slope) pairs (reported, the ordering gated).
SMOOTHING_RHO, SMOOTHING_R_S = -1.0, 3.5
SMOOTHING_PREDICTED = {1: -4.0 / 7.0, 2: -0.7}


def oracle_slope_name(b: int) -> str:
  return f"E1.3 oracle-ridge error slope, b = {b}"


def oracle_ns(config, b: int) -> tuple[int, ...]:
  """The sample sizes of the b = 1 (all of ns) and b = 2 (up to b2_max_n) oracle curves."""
  return tuple(n for n in config.ns if b == 1 or n <= config.b2_max_n)


def _curve_points(ctx: Context, label: str, b: int, rho: float, r_s: float, ns, noise_std,
                  lams, res: dict[str, np.ndarray], de) -> None:
  """One curves entry per (n, lambda): design means and the deterministic equivalent."""
  bias2, var = res["bias2"][:, :, 0, 0], res["variance"][:, :, 0]
  total = bias2 + var
  for i, n in enumerate(ns):
    for j, lam in enumerate(lams):
      ctx.record.curve(study=label, b=b, rho=rho, gamma=0.0, r_s=r_s, noise_std=noise_std,
                       design="iid", n=n, lam=lam, bias2=bias2[i, :, j].mean(),
                       variance=var[i, :, j].mean(), total=total[i, :, j].mean(),
                       total_std=total[i, :, j].std(), de_bias2=float(de[i].bias2[j]),
                       de_variance=float(de[i].variance[j]), de_kappa=float(de[i].kappa[j]),
                       ill_conditioned=bool(res["ill_conditioned"][i, :, j].any()),
                       num_designs=res["bias2"].shape[1])


def oracle_curve(ctx: Context, key: jax.Array, label: str, *, b: int, rho: float, r_s: float,
                 ns, noise_std: float, num_designs: int) -> dict[str, Any]:
  """Oracle learning curve (b, iid designs): the measured totals `(N, D, L)`, oracle ridges
  and errors `(N,)` (parabola-refined, `learning_curve.oracle`), the per-design errors at the
  grid's best ridge `(N, D)`, and the same for the deterministic equivalent."""
  c = ctx.config
  lams = oracle_lams(c)
  v_star = inverse.operator_coefficients(target(ctx, r_s), rho)
  res = simulate_grid(ctx, key, label, ns, num_designs, b=b, design="iid", lams=lams,
                      targets=v_star[None], weights=inverse.error_weights(c.modes, rho, 0.0)[None],
                      num_noise=c.num_noise, noise_std=noise_std,
                      tag={"rho": rho, "gamma": 0.0, "r_s": r_s})
  total = res["bias2"][:, :, 0, 0] + res["variance"][:, :, 0]          # (N, D, L)
  de = [inverse.deterministic_equivalent(n, b=b, rho=rho, gamma=0.0, v_star=v_star,
                                         noise_std=noise_std, lams=jnp.asarray(lams))
        for n in ns]
  de_total = np.stack([np.asarray(d.risk) for d in de])                  # (N, L)
  lam_star, err_star = learning_curve.oracle(lams[1:], total[..., 1:])
  de_lam_star, de_err_star = learning_curve.oracle(lams[1:], de_total[:, 1:])
  best = np.argmin(total[..., 1:].mean(1), axis=1) + 1
  err_designs = np.take_along_axis(total, best[:, None, None], axis=2)[..., 0]   # (N, D)
  _curve_points(ctx, label, b, rho, r_s, ns, noise_std, lams, res, de)
  return dict(total=total, lam_star=lam_star, err_star=err_star, err_designs=err_designs,
              de_lam_star=de_lam_star, de_err_star=de_err_star, ill=res["ill_conditioned"])


def _oracle_b1_gates(ctx: Context, fit: Fitter, ns, cur: dict[str, Any]) -> None:
  """b = 1 only: the oracle error against the DE, the ridgeless slope, no singular system."""
  c = ctx.config
  ratio = cur["err_star"] / cur["de_err_star"]
  ctx.record.gates.check(
      "E1.3 oracle error vs deterministic equivalent (b = 1): max |ratio - 1|",
      gates.interval(float(np.max(np.abs(ratio - 1.0))), hi=0.15 * c.level_tol_scale,
                     ratios=ratio.tolist()))
  ctx.slope("E1.3 ridgeless error slope, b = 1 (same data)", max(2 * (0 - ORACLE_RHO), -1.0),
            fit(ns, cur["total"][..., 0]), 0.1)
  ill = int(cur["ill"][..., 0].sum())
  ctx.record.gates.check("E1.3 no ridgeless system singular at working precision (b = 1, iid)",
                         ill, 0, ill == 0)


def oracle(ctx: Context) -> None:
  """E1.3: oracle-ridge error and oracle-ridge slopes for b = 1 and b = 2 (rho = 0.25)."""
  c = ctx.config
  fit = Fitter(ctx, "oracle")
  rho, r_s = ORACLE_RHO, c.r_s
  for b in (1, 2):
    ns = oracle_ns(c, b)
    cur = oracle_curve(ctx, ctx.keys.oracle, "E1.3", b=b, rho=rho, r_s=r_s, ns=ns,
                       noise_std=c.noise_std, num_designs=c.num_designs)
    ctx.slope(oracle_slope_name(b), -2 * r_s / (2 * r_s - 2 * rho + 1),
              fit(ns, cur["err_designs"]), 0.08, oracle_errors=cur["err_star"].tolist(),
              de_oracle_errors=cur["de_err_star"].tolist())
    ctx.slope(f"E1.3 oracle ridge lambda* slope (parabola-refined), b = {b}",
              -2 * b / (2 * r_s - 2 * rho + 1), fit(ns, cur["lam_star"]), 0.15,
              lam_star=cur["lam_star"].tolist())
    if b == 1:
      _oracle_b1_gates(ctx, fit, ns, cur)
    else:
      ctx.record.observations["E1.3 oracle error / DE, b = 2"] = (
          cur["err_star"] / cur["de_err_star"]).tolist()


def smoothing(ctx: Context) -> None:
  """E1.5: rho = -1, r_s = 3.5, sigma / 10: oracle error slopes of b = 1 and b = 2 (reported)
  and their ordering (gated)."""
  c = ctx.config
  fit = Fitter(ctx, "smoothing")
  fits = {}
  for b, predicted in SMOOTHING_PREDICTED.items():
    cur = oracle_curve(ctx, ctx.keys.smoothing, "E1.5", b=b, rho=SMOOTHING_RHO,
                       r_s=SMOOTHING_R_S, ns=c.ns, noise_std=c.noise_std / 10,
                       num_designs=c.num_designs)
    fits[b] = fit(c.ns, cur["err_designs"])
    ctx.record.observations[f"E1.5 oracle error slope, rho = -1, r_s = 3.5, b = {b} (not "
                            "gated)"] = {"measured": fits[b].slope,
                                         "ci": [fits[b].low, fits[b].high],
                                         "predicted": predicted}
  ctx.record.gates.check(
      "E1.5 ordering: oracle error decays faster for b = 2 than b = 1 (slope b=2 - b=1)",
      fits[2].slope - fits[1].slope, "< 0", fits[2].slope < fits[1].slope)
