"""Bias^2 and variance against the ridge lambda (E1.6, arXiv 2406.09194): b = 1, iid designs,
rho in {0, 0.25, 1}, with the deterministic equivalent; the ridgeless variance plateau grows
with rho (reported, drawn in plots/bias_variance)."""

from __future__ import annotations

import jax.numpy as jnp

from jaxlab.papers.krr_inverse import inverse
from jaxlab.papers.krr_inverse.context import Context, oracle_lams, simulate_grid, target

RHOS = (0.0, 0.25, 1.0)


def bias_variance(ctx: Context) -> None:
  """E1.6 at n = bias_variance_n on the oracle ridge grid; one curves entry per (rho, lam)."""
  c = ctx.config
  lams = oracle_lams(c)
  u_star = target(ctx, c.r_s)
  targets = jnp.stack([inverse.operator_coefficients(u_star, rho) for rho in RHOS])
  weights = jnp.stack([inverse.error_weights(c.modes, rho, 0.0) for rho in RHOS])
  res = simulate_grid(ctx, ctx.keys.bias_variance, "bias_variance", (c.bias_variance_n,),
                      c.bias_variance_designs, b=1, design="iid", lams=lams, targets=targets,
                      weights=weights, num_noise=c.num_noise, noise_std=c.noise_std,
                      tag={"r_s": c.r_s})
  plateau = {}
  for i, rho in enumerate(RHOS):
    bias2 = res["bias2"][0, :, i, i].mean(0)                  # target i scored in weighting i
    var = res["variance"][0, :, i].mean(0)
    de = inverse.deterministic_equivalent(c.bias_variance_n, b=1, rho=rho, gamma=0.0,
                                          v_star=targets[i], noise_std=c.noise_std,
                                          lams=jnp.asarray(lams))
    for j, lam in enumerate(lams):
      ctx.record.curve(study="E1.6", b=1, rho=rho, gamma=0.0, r_s=c.r_s, design="iid",
                       n=c.bias_variance_n, lam=lam, bias2=bias2[j], variance=var[j],
                       de_bias2=float(de.bias2[j]), de_variance=float(de.variance[j]),
                       num_designs=c.bias_variance_designs)
    plateau[f"{rho:g}"] = float(var[0])
  ctx.record.observations["E1.6 ridgeless variance plateau by rho"] = plateau
