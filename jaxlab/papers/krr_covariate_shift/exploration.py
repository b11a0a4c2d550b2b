"""E2.4 and E2.5 (arXiv 2406.03171): how the variance flip moves with the shift mu, the
aspect ratio n / d and the implicit ridge gamma_imp of three inner-product functions h (the
mu = 0 identity gated, the rest observed); the spectra of K and W^1/2 K W^1/2 (E2.5, logged
in metrics.jsonl for the figure)."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import gates, progress
from jaxlab.kernels import ridge
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs
from jaxlab.papers.krr_covariate_shift.bias_variance import evaluate, variance_flip
from jaxlab.papers.krr_covariate_shift.context import Context, sample

BY_H_NAME = "E2.4 variance flip against gamma_imp (mu = 1, n/d = 2)"


def _shift_and_ratio(ctx: Context) -> None:
  """Design 0 at explore_d for every (mu, n / d): the flip, and IW-KRR = KRR at mu = 0."""
  c = ctx.config
  dev_mu0, flips = [], {}
  points = list(itertools.product(c.explore_mus, c.explore_ratios))
  for mu, ratio in progress.bar(points, desc="E2.4 (mu, n/d)"):
    data = sample(ctx, ctx.keys.exploration, c.explore_d, 0, mu=mu, n_over_d=ratio)
    ev = jax.device_get(evaluate(data, ctx.h, jnp.asarray(c.nlams), c.noise_std))
    vk, vw = ev["krr"].variance, ev["iw"].variance
    if mu == 0:
      dev_mu0.append(max(gates.max_relative_difference(ev["iw"].bias2, ev["krr"].bias2),
                         gates.max_relative_difference(vw, vk)))
    flips[f"mu={mu:g}, n/d={ratio:g}"] = variance_flip(c.nlams, vw, vk)
    for j, nl in enumerate(c.nlams):
      for name in ("krr", "iw"):
        ctx.record.curves.append({"study": "E2.4", "d": c.explore_d, "n": data.x.shape[0],
                                  "mu": mu, "n_over_d": ratio, "h": c.h, "estimator": name,
                                  "nlam": nl, "bias2": float(ev[name].bias2[j]),
                                  "variance": float(ev[name].variance[j])})
  if dev_mu0:
    ctx.record.gates.check(
        f"E2.4 mu = 0: IW-KRR = KRR at every lambda and n/d in {list(c.explore_ratios)}",
        float(max(dev_mu0)), "<= 1e-8", max(dev_mu0) <= 1e-8)
  ctx.record.observations["E2.4 variance flip n lam by (mu, n/d)"] = flips


def exploration(ctx: Context) -> None:
  """E2.4: the flip by (mu, n / d) for config.h, then by h (design 1, mu = 1, n / d = 2)."""
  c = ctx.config
  _shift_and_ratio(ctx)
  by_h = {}
  for name, fn in cs.INNER_PRODUCT_FNS.items():
    h = cs.inner_product_fn(fn)
    data = sample(ctx, ctx.keys.exploration, c.explore_d, 1, mu=1.0, n_over_d=2.0)
    ev = jax.device_get(evaluate(data, h, jnp.asarray(c.nlams), c.noise_std))
    vk, vw = ev["krr"].variance, ev["iw"].variance
    by_h[name] = {"gamma_imp": h.gamma_imp, "flip_nlam": variance_flip(c.nlams, vw, vk),
                  "var_ratio_iw_krr": (vw / vk).tolist()}
  ctx.record.observations[BY_H_NAME] = by_h


def spectra(ctx: Context) -> None:
  """E2.5 at the largest d of `ds`: the smallest eigenvalues of K and W^1/2 K W^1/2 against
  gamma_imp (observed); both spectra go to metrics.jsonl."""
  d = max(ctx.config.ds)
  data = sample(ctx, ctx.keys.spectra, d, 0)
  gram = cs.kernel(ctx.h)(data.x)
  ev_k = np.asarray(ridge.path(gram).eig.values)
  ev_w = np.asarray(ridge.path(gram, data.w).eig.values)
  ctx.record.observations[f"E2.5 spectra (d = {d})"] = {
      "lambda_min K": float(ev_k[0]), "lambda_min W^1/2 K W^1/2": float(ev_w[0]),
      "gamma_imp": ctx.h.gamma_imp, "w range": [float(data.w.min()), float(data.w.max())]}
  ctx.record.log({"study": "E2.5", "d": d, "eigenvalues_k": ev_k, "eigenvalues_wkw": ev_w})
