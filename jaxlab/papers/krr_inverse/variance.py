"""The ridgeless variance: its phase diagram over (rho, gamma) (E1.0 / E1.1) and its
independence of the inductive bias b (E1.2), arXiv 2406.09194.

With u* = 0 only the noise is fitted; the ridgeless H^gamma variance of the H^rho-operator
problem decays like n^max(2 (gamma - rho), -1): benign (< 0), tempered (= 0, the plain
regression value 2 sigma^2 / 3 for b = 1) or catastrophic (> 0), with n^-1 log n on the
boundary 2 (gamma - rho) = -1.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import gates
from jaxlab.papers.krr_inverse import inverse
from jaxlab.papers.krr_inverse.context import Context, Fitter, simulate_grid

# E1.1: (rho, gamma) of the phase diagram; the identity gate pairs (2, 1.75) with (0.25, 0).
PHASE_PAIRS = ((0.0, 0.0), (0.25, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 0.25), (2.0, 0.0),
               (2.0, 1.0), (2.0, 1.75))
IDENTITY = ((2.0, 1.75), (0.25, 0.0))
# E1.2: operator orders and the (b, design) variants (b = 2 iid is measured, not gated).
INDEPENDENCE_RHOS = (0.25, 1.0)
INDEPENDENCE_VARIANTS = ((1, "iid"), (1, "jittered"), (2, "jittered"), (2, "iid"))


def phase_slope_name(rho: float, gamma: float) -> str:
  return f"E1.1 ridgeless variance slope, (rho, gamma) = ({rho:g}, {gamma:g})"


def slope_of_log_boundary(ns) -> float:
  """Effective least-squares log-log slope of n^-1 log n over `ns` (-0.84 over 128..2048)."""
  ns = np.asarray(ns, float)
  return float(np.polyfit(np.log(ns), np.log(np.log(ns) / ns), 1)[0])


def _phase_de(config, rho: float, gamma: float) -> np.ndarray:
  """Deterministic-equivalent ridgeless variance `(N,)` over `config.ns`, b = 1."""
  return np.array([float(inverse.deterministic_equivalent(
      n, b=1, rho=rho, gamma=gamma, v_star=jnp.zeros((config.modes + 1, 2)),
      noise_std=config.noise_std, lams=jnp.zeros(1)).variance[0]) for n in config.ns])


def phase(ctx: Context) -> None:
  """E1.0 / E1.1: ridgeless variance slopes over `PHASE_PAIRS` (b = 1, iid), the plain
  regression level and the (2, 1.75) = (0.25, 0) identity."""
  c = ctx.config
  fit = Fitter(ctx, "phase")
  weights = jnp.stack([inverse.error_weights(c.modes, r, g) for r, g in PHASE_PAIRS])
  res = simulate_grid(ctx, ctx.keys.phase, "phase", c.ns, c.num_designs, b=1, design="iid",
                      lams=[0.0], targets=jnp.zeros((0, c.modes + 1, 2)), weights=weights,
                      num_noise=c.num_noise, noise_std=c.noise_std, tag={"u_star": 0})
  var = res["variance"][..., 0]                                        # (N, D, W)
  ill = int(res["ill_conditioned"][..., 0].sum())
  ctx.record.gates.check("E1.1 no ridgeless system singular at working precision (b = 1, iid)",
                         ill, 0, ill == 0)
  for w, (rho, gamma) in enumerate(PHASE_PAIRS):
    de = _phase_de(c, rho, gamma)
    for i, n in enumerate(c.ns):
      ctx.record.curve(study="E1.1", b=1, rho=rho, gamma=gamma, design="iid", n=n, lam=0.0,
                       variance=var[i, :, w].mean(), variance_std=var[i, :, w].std(),
                       de_variance=de[i], num_designs=c.num_designs)
    measured = fit(c.ns, var[:, :, w])
    expo = 2.0 * (gamma - rho)
    boundary = expo == -1.0
    ctx.slope(phase_slope_name(rho, gamma), max(expo, -1.0), measured,
              0.2 if boundary else 0.1,
              regime=("tempered" if expo == 0 else "catastrophic" if expo > 0 else "benign"),
              de_slope=fit(c.ns, de).slope,
              de_ratio_at_max_n=float(var[-1, :, w].mean() / de[-1]))
    if boundary:
      ctx.slope(f"E1.1 log boundary (rho, gamma) = ({rho:g}, {gamma:g}) vs n^-1 log n "
                "(its effective slope over ns)", slope_of_log_boundary(c.ns), measured, 0.1)
  rel = np.abs(var[..., 0].mean(1) / (2.0 / 3.0 * c.noise_std**2) - 1.0)
  ctx.record.gates.check(
      "E1.0 ridgeless variance = 2 sigma^2 / 3 (b = 1, rho = gamma = 0), max rel. dev.",
      gates.interval(float(rel.max()), hi=0.03 * c.level_tol_scale,
                     per_n=dict(zip(map(str, c.ns), var[..., 0].mean(1).tolist()))))
  i_a, i_b = (PHASE_PAIRS.index(pair) for pair in IDENTITY)
  ident = gates.max_relative_difference(var[..., i_a], var[..., i_b])
  ctx.record.gates.check("E1.1 identity: (rho, gamma) = (2, 1.75) equals (0.25, 0), max rel. "
                         "diff.", ident, "<= 1e-10", ident <= 1e-10)


def _independence_variant(ctx: Context, fit: Fitter, b: int, design: str) -> tuple:
  """One (b, design) of E1.2: curves, and the slope gates (b = 2 iid: observations only).
  Returns the variance `(N, D, 2)` and the two fits."""
  c = ctx.config
  weights = jnp.stack([inverse.error_weights(c.modes, r, 0.0) for r in INDEPENDENCE_RHOS])
  res = simulate_grid(ctx, ctx.keys.bias_independence, "bias_independence", c.ns_independence,
                      c.num_designs_independence, b=b, design=design, lams=[0.0],
                      targets=jnp.zeros((0, c.modes + 1, 2)), weights=weights,
                      num_noise=c.num_noise, noise_std=c.noise_std, tag={"u_star": 0})
  var = res["variance"][..., 0]                                       # (N, D, 2)
  fits = []
  for w, rho in enumerate(INDEPENDENCE_RHOS):
    fits.append(fit(c.ns_independence, var[:, :, w]))
    for i, n in enumerate(c.ns_independence):
      ctx.record.curve(study="E1.2", b=b, rho=rho, gamma=0.0, design=design, n=n, lam=0.0,
                       variance=var[i, :, w].mean(), variance_std=var[i, :, w].std(),
                       ill_conditioned_fraction=float(res["ill_conditioned"][i].mean()),
                       num_designs=c.num_designs_independence)
    predicted = max(-2.0 * rho, -1.0)
    if (b, design) == (2, "iid"):
      ctx.record.observations[f"E1.2 b = 2 iid ridgeless (rho = {rho:g}), expected to fail "
                              "(spec pitfall 3)"] = {
          "slope": fits[-1].slope, "predicted": predicted,
          "variance_at_max_n": float(var[-1, :, w].mean()),
          "ill_conditioned_fraction": float(res["ill_conditioned"].mean())}
      continue
    ctx.slope(f"E1.2 ridgeless variance slope, b = {b} {design}, rho = {rho:g}", predicted,
              fits[-1], 0.1)
  return var, fits


def bias_independence(ctx: Context) -> None:
  """E1.2: the ridgeless variance slopes (and levels) of b = 1 and b = 2 agree."""
  c = ctx.config
  fit = Fitter(ctx, "bias_independence")
  var, fits = {}, {}
  for b, design in INDEPENDENCE_VARIANTS:
    var[(b, design)], fits[(b, design)] = _independence_variant(ctx, fit, b, design)
  for w, rho in enumerate(INDEPENDENCE_RHOS):
    gap = abs(fits[(1, "jittered")][w].slope - fits[(2, "jittered")][w].slope)
    ctx.record.gates.check(f"E1.2 |slope(b=1) - slope(b=2)| (jittered), rho = {rho:g}",
                           gates.interval(gap, hi=0.1 * c.slope_tol_scale))
    ratio = var[(1, "jittered")][:, :, w].mean(1) / var[(2, "jittered")][:, :, w].mean(1)
    ctx.record.gates.check(
        f"E1.2 variance level b=1 vs b=2 (jittered), rho = {rho:g}: max |ratio - 1|",
        gates.interval(float(np.max(np.abs(ratio - 1.0))), hi=0.25 * c.level_tol_scale,
                       ratios=ratio.tolist()))
