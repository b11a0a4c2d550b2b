"""KRR vs importance-weighted KRR under covariate shift in high dimension (Chen et al., ICML
2024, arXiv 2406.03171): the sweeps and gates of `krr_covariate_shift.md` section 5.

  from jaxlab.kernels import krr_covariate_shift as cs
  results = cs.run(cs.Config(ds=(100, 200, 400), num_designs=2), "/tmp/cs")
  results["checks"]["E2.3a variance ordering (d = 400)"]     # {"value", "target", "pass"}

Studies (`Config.studies`):
  linearization  E2.1: ||K - K_lin||_op (population and empirical diagonal) and the test-vector
                 error against d, with slopes.
  identities     E2.2: IW-KRR = KRR at lambda = 0; IW-KRR = KRR when mu = 0; linearised
                 IW-KRR = weighted ridge on the features with weights omega (relative 1e-8).
  bias_variance  E2.3: exact bias^2 and variance under q against n lambda, KRR vs IW-KRR;
                 orderings, the linearised surrogate, levels, the variance flip.
  exploration    E2.4: shift size and aspect ratio (the mu = 0 identity gated); the flip
                 against gamma_imp for three inner-product functions h.
  spectra        E2.5: eigenvalues of K and of W^{1/2} K W^{1/2} (figure).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab import plotting
from jaxlab.config import require, require_choice
from jaxlab.kernels import covariate_shift as cs
from jaxlab.kernels import gates, learning_curve, ridge
from jaxlab.workdir import Workdir

STUDIES = ("linearization", "identities", "bias_variance", "exploration", "spectra")

# [cal] of the spec (E2.1 table, E2.3 table at d = 400, n = 800, one design).
CAL_LINEARIZATION = {
    "op_population": {100: 0.994, 200: 0.770, 400: 0.567, 800: 0.378, 1600: 0.247},
    "op_empirical": {100: 0.238, 200: 0.167, 400: 0.115, 800: 0.078, 1600: 0.054},
    "test_rms": {100: 7.2e-3, 200: 3.6e-3, 400: 1.8e-3, 800: 8.8e-4, 1600: 4.4e-4},
}
CAL_BIAS_VARIANCE = {  # n lambda: (KRR bias2, KRR var, IW bias2, IW var)
    0.0: (3.262, 0.0703, 3.262, 0.0703), 0.08: (3.362, 0.0645, 3.204, 0.0596),
    0.8: (4.070, 0.0360, 3.604, 0.0317), 8.0: (6.180, 0.0041, 4.545, 0.0053),
    24.0: (6.957, 0.0010, 4.919, 0.0017), 800.0: (7.493, 0.0001, 5.930, 0.0002)}
LINEARIZATION_SLOPES = {"op_population": -0.5, "op_empirical": -0.5, "test_rms": -1.0}


@dataclasses.dataclass(frozen=True)
class Config:
  """KRR vs IW-KRR under covariate shift (spec krr_covariate_shift.md, section 5).

  Attributes:
    studies: studies to run, among linearization, identities, bias_variance, exploration,
      spectra.
    h: inner-product function of the kernel h(<x, x'> / d): exp, cubic ((1 + t)^3) or exp_half
      (exp(t / 2)).
    ds_linearization: dimensions of the linearisation study (E2.1).
    seeds_linearization: designs per d in E2.1.
    ds: dimensions of the bias-variance study (E2.3) and of the identities (E2.2).
    num_designs: designs per d in E2.3.
    n_over_d: n / d.
    mu: test shift mu (q = N(mu e_1, I)).
    noise_std: label noise sigma.
    num_test: test points from q (shared by every estimator and ridge of a design).
    nlams: the grid of n lambda (n lambda is added to the Gram's diagonal).
    surrogate_d: d of the surrogate gate (E2.3c); must be in ds.
    explore_d: d of the exploration study (E2.4).
    explore_mus: shifts of E2.4.
    explore_ratios: n / d of E2.4.
    slope_tol_scale: factor on the slope tolerances (1 = the spec's).
    level_tol_scale: factor on the level tolerances (E2.1 25%, E2.3 10% / 25%, E2.3c 5%).
    num_bootstrap: bootstrap resamples of the slope CIs.
    seed: seed of the designs and test sets.
  """

  studies: tuple[str, ...] = STUDIES
  h: str = "exp"
  ds_linearization: tuple[int, ...] = (100, 200, 400, 800, 1600)
  seeds_linearization: int = 3
  ds: tuple[int, ...] = (100, 200, 400)
  num_designs: int = 5
  n_over_d: float = 2.0
  mu: float = 1.0
  noise_std: float = 0.5
  num_test: int = 2000
  nlams: tuple[float, ...] = (0.0, 0.02, 0.08, 0.2, 0.8, 2.0, 8.0, 24.0, 80.0, 240.0, 800.0)
  surrogate_d: int = 400
  explore_d: int = 100
  explore_mus: tuple[float, ...] = (0.0, 0.5, 1.0)
  explore_ratios: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
  slope_tol_scale: float = 1.0
  level_tol_scale: float = 1.0
  num_bootstrap: int = 2000
  seed: int = 0

  def __post_init__(self):
    gates.validate_common(self, STUDIES)
    require_choice(self.h, "h", tuple(cs.INNER_PRODUCT_FNS))
    require(len(self.ds_linearization) >= 2 and all(d >= 2 for d in self.ds_linearization),
            "ds_linearization", f"needs >= 2 dimensions >= 2, got {self.ds_linearization}")
    require(len(self.ds) >= 1 and all(d >= 2 for d in self.ds), "ds",
            f"needs dimensions >= 2, got {self.ds}")
    for name in ("seeds_linearization", "num_designs", "num_test", "num_bootstrap", "explore_d"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.n_over_d > 0, "n_over_d", f"must be > 0, got {self.n_over_d}")
    require(self.noise_std > 0, "noise_std", f"must be > 0, got {self.noise_std}")
    require(0 <= self.mu <= 2, "mu",
            f"must be in [0, 2] (E_p[w^2] = e^(mu^2) must stay moderate), got {self.mu}")
    require(all(0 <= m <= 2 for m in self.explore_mus), "explore_mus",
            f"must be in [0, 2], got {self.explore_mus}")
    require(all(r > 0 for r in self.explore_ratios), "explore_ratios",
            f"must be > 0, got {self.explore_ratios}")
    nl = np.asarray(self.nlams, float)
    require(nl.size >= 2 and np.all(nl >= 0) and np.all(np.diff(nl) > 0) and nl[0] == 0,
            "nlams", f"must start at 0 and increase strictly, got {self.nlams}")
    require(self.surrogate_d in self.ds or "bias_variance" not in self.studies, "surrogate_d",
            f"must be one of ds {self.ds}, got {self.surrogate_d}")


class _Study(gates.Collector):
  """The collector, with this experiment's inner-product function and designs."""

  def __init__(self, config: Config, wd: Workdir):
    super().__init__(config, wd)
    self.h = cs.inner_product_fn(cs.INNER_PRODUCT_FNS[config.h])

  def data(self, study: int, d: int, design: int, *, mu=None, n_over_d=None) -> cs.Data:
    c = self.config
    n = int(round((n_over_d or c.n_over_d) * d))
    key = jax.random.fold_in(learning_curve.design_key(jax.random.fold_in(self.key, study), d,
                                                       design), 0)
    return cs.sample(key, n, d, c.mu if mu is None else mu, c.num_test, jnp.float64)


def _flip(nlams, var_iw, var_krr):
  """The smallest grid n lambda > 0 with Var_IW > Var_KRR (beyond rounding), or None."""
  return next((float(nl) for nl, a, b in zip(nlams, var_iw, var_krr)
               if nl > 0 and a > b * (1 + 1e-9)), None)


def _linearization(st: _Study):
  c = st.config
  values = {k: np.zeros((len(c.ds_linearization), c.seeds_linearization))
            for k in LINEARIZATION_SLOPES}
  errors_fn = jax.jit(cs.linearization_errors, static_argnums=1)
  for i, d in enumerate(c.ds_linearization):
    t0 = time.perf_counter()
    for s in range(c.seeds_linearization):
      data = st.data(1, d, s)
      errs = jax.device_get(errors_fn(data, st.h))
      for k in values:
        values[k][i, s] = float(errs[k])
      st.log({"study": "E2.1", "d": d, "n": data.x.shape[0], "seed": s,
              **{k: float(v) for k, v in errs.items()}})
    logging.info("E2.1 d = %d done in %.1fs", d, time.perf_counter() - t0)
    for k in values:
      st.curves.append({"study": "E2.1", "measure": k, "d": d, "value": values[k][i].mean(),
                        "std": values[k][i].std(), "seeds": c.seeds_linearization})
  fits = {}
  for i, (k, predicted) in enumerate(LINEARIZATION_SLOPES.items()):
    fits[k] = learning_curve.fit_slope(c.ds_linearization, values[k],
                                       key=jax.random.fold_in(st.key, 100 + i),
                                       num_bootstrap=c.num_bootstrap)
    st.slope(f"E2.1 {k} against d", predicted, fits[k], 0.1 * c.slope_tol_scale,
             values=values[k].mean(1).tolist())
    cal = CAL_LINEARIZATION[k]
    common = [(i, d) for i, d in enumerate(c.ds_linearization) if d in cal]
    if common:
      rel = [abs(values[k][i].mean() / cal[d] - 1.0) for i, d in common]
      tol = 0.25 * c.level_tol_scale
      st.check(f"E2.1 {k} level vs [cal] (soft): max rel. dev. over d in "
               f"{[d for _, d in common]}", float(max(rel)), f"<= {tol:g}", max(rel) <= tol)
  empirical_gain = values["op_population"].mean(1) / values["op_empirical"].mean(1)
  st.observations["E2.1 population / empirical diagonal error ratio by d"] = dict(
      zip(map(str, c.ds_linearization), empirical_gain.tolist()))
  st.figures["linearization"] = (values, fits)


@functools.partial(jax.jit, static_argnames=("h",))
def _identity_deviations(data: cs.Data, data_mu0: cs.Data, y: jax.Array, h: cs.InnerProductFn,
                         nlams: jax.Array, noise_std) -> dict[str, jax.Array]:
  """Max relative deviations of the three E2.2 identities on one design."""
  def rel(a, b):
    return jnp.max(jnp.abs(a - b) / jnp.maximum(jnp.abs(b), jnp.finfo(b.dtype).tiny))

  n, d = data.x.shape
  lams = nlams / n
  k = cs.kernel(h)
  gram, k_test = k(data.x), k(data.x_test, data.x)
  p_krr, p_iw = ridge.path(gram), ridge.path(gram, data.w)
  # (i) lambda = 0: predictions, bias and variance identical.
  pk = ridge.predictions(p_krr, k_test, y, lams[:1])
  pw = ridge.predictions(p_iw, k_test, y, lams[:1])
  bk = ridge.bias_variance(p_krr, k_test, data.f_train, data.f_test, noise_std**2, lams[:1])
  bw = ridge.bias_variance(p_iw, k_test, data.f_train, data.f_test, noise_std**2, lams[:1])
  zero = jnp.max(jnp.stack([rel(pw, pk), rel(bw.bias2, bk.bias2),
                            rel(bw.variance, bk.variance)]))
  # (ii) mu = 0: w = 1, IW-KRR = KRR at every lambda.
  ev = cs.evaluate(data_mu0, h, nlams, noise_std)
  mu0 = jnp.maximum(rel(ev["iw"].bias2, ev["krr"].bias2),
                    rel(ev["iw"].variance, ev["krr"].variance))
  # (iii) linearised IW-KRR with the training constant = weighted ridge on phi with omega.
  const = cs.train_constant(h, d)
  k_lin = cs.linearized_gram(data.x, h, "empirical")
  k_lin_test = cs.linearized_test_kernel(data.x_test, data.x, h, const)
  pred_lin = ridge.predictions(ridge.path(k_lin, data.w), k_lin_test, y, lams)
  gamma = jnp.diag(k_lin) - const - h.h1 * jnp.sum(data.x**2, 1) / d
  phi, phi_test = cs.features(data.x, h, const), cs.features(data.x_test, h, const)
  pred_wr = jax.vmap(lambda nl: cs.weighted_ridge_features(
      phi, y, cs.weighted_ridge_weights(data.w, gamma, nl), phi_test))(nlams)
  # The lambda = 0 systems must be well-posed at working precision (else pinv truncates).
  (c_krr, ill_krr), (c_iw, ill_iw) = ridge.conditioning(p_krr, 0.0), ridge.conditioning(p_iw, 0.0)
  return {"zero": zero, "mu0": mu0, "lin": rel(pred_lin, pred_wr),
          "cond": jnp.maximum(c_krr[0], c_iw[0]), "ill": ill_krr[0] | ill_iw[0]}


def _identities(st: _Study):
  c = st.config
  devs = {"zero": [], "mu0": [], "lin": []}
  conds, ill = [], 0
  for d in c.ds:
    data = st.data(2, d, 0)
    noise = c.noise_std * jax.random.normal(jax.random.fold_in(st.key, d), data.f_train.shape,
                                            jnp.float64)
    out = jax.device_get(_identity_deviations(data, st.data(2, d, 0, mu=0.0),
                                              data.f_train + noise, st.h,
                                              jnp.asarray(c.nlams), c.noise_std))
    for k in devs:
      devs[k].append(float(out[k]))
    conds.append(float(out["cond"]))
    ill += int(out["ill"])
    st.log({"study": "E2.2", "d": d, "iw_equals_krr_at_0": devs["zero"][-1],
            "mu0_iw_equals_krr": devs["mu0"][-1],
            "linearized_iw_equals_weighted_ridge": devs["lin"][-1]})
  for key, name in (("zero", "E2.2 IW-KRR = KRR at lambda = 0 (predictions, bias, variance)"),
                    ("mu0", "E2.2 mu = 0: IW-KRR = KRR at every lambda (bias, variance)"),
                    ("lin", "E2.2 linearised IW-KRR = weighted ridge on phi with omega_i "
                     "(predictions, every lambda)")):
    st.check(f"{name}: max rel. diff. over d in {list(c.ds)}", float(max(devs[key])),
             "<= 1e-8", max(devs[key]) <= 1e-8, per_d=dict(zip(map(str, c.ds), devs[key])))
  st.check(f"E2.2 no ridgeless (n lambda = 0) KRR or IW-KRR system singular at working "
           f"precision (condition > 1 / (n eps)), d in {list(c.ds)}", ill, 0, ill == 0,
           condition_numbers=dict(zip(map(str, c.ds), conds)))


def _bias_variance(st: _Study):
  c = st.config
  nlams = np.asarray(c.nlams)
  evaluate = jax.jit(cs.evaluate, static_argnames=("h", "surrogate"))
  out = {}
  for d in c.ds:
    t0 = time.perf_counter()
    surrogate = d == c.surrogate_d
    rows = []
    for s in range(c.num_designs):
      data = st.data(3, d, s)
      ev = jax.device_get(evaluate(data, st.h, jnp.asarray(nlams), c.noise_std,
                                   surrogate=surrogate))
      rows.append({k: np.stack([v.bias2, v.variance]) for k, v in ev.items()})
      st.log({"study": "E2.3", "d": d, "design": s, "nlams": nlams,
              **{f"{k}_{f}": getattr(v, f) for k, v in ev.items() for f in ("bias2", "variance")}})
    res = {k: np.stack([r[k] for r in rows]) for k in rows[0]}      # (D, 2, L)
    out[d] = res
    logging.info("E2.3 d = %d: %d designs in %.1fs", d, c.num_designs, time.perf_counter() - t0)
    mean = {k: v.mean(0) for k, v in res.items()}
    for k, m in mean.items():
      for j, nl in enumerate(nlams):
        st.curves.append({"study": "E2.3", "d": d, "n": int(round(c.n_over_d * d)),
                          "estimator": k, "nlam": float(nl), "bias2": float(m[0, j]),
                          "variance": float(m[1, j]), "risk": float(m[0, j] + m[1, j]),
                          "designs": c.num_designs})
    vk, vw = mean["krr"][1], mean["iw"][1]
    bk, bw = mean["krr"][0], mean["iw"][0]
    small = (nlams > 0) & (nlams <= 0.2)
    large = nlams >= 8
    ok_a = bool(np.all(vw[small] < vk[small]) and np.all(vw[large] > vk[large]))
    st.check(f"E2.3a variance ordering (d = {d}): Var_IW < Var_KRR for 0 < n lam <= 0.2 and "
             "Var_IW > Var_KRR for n lam >= 8", {"var_iw / var_krr": (vw / vk).tolist()},
             "ratio < 1 on (0, 0.2], > 1 on [8, inf)", ok_a)
    gap = bk - bw
    pos = nlams > 0
    ok_b = bool(np.all(gap[pos] > 0) and gap[-1] > gap[np.argmax(pos)])
    st.check(f"E2.3b bias ordering (d = {d}): Bias_IW < Bias_KRR for n lam > 0 and the gap at "
             "the largest n lam exceeds the gap at the smallest positive one",
             {"gap": gap.tolist()}, "gap > 0, gap[-1] > gap[first positive]", ok_b)
    flip = _flip(nlams, vw, vk)
    st.observations[f"E2.3 variance flip (smallest n lam with Var_IW > Var_KRR), d = {d}"] = flip
    if surrogate:
      devs = {}
      for name in ("krr", "iw"):
        for f, idx in (("bias2", 0), ("variance", 1)):
          devs[f"{name}_{f}"] = float(np.max(np.abs(mean[name + "_lin"][idx] /
                                                    mean[name][idx] - 1.0)))
      worst = max(devs.values())
      st.check(f"E2.3c linearised surrogate vs exact (d = {d}): max rel. dev. of bias and "
               "variance, both estimators, every n lam", worst,
               f"<= {0.05 * c.level_tol_scale:g}", worst <= 0.05 * c.level_tol_scale,
               per_quantity=devs)
    if d == 400 and c.n_over_d == 2.0 and c.mu == 1.0 and c.h == "exp":
      rel_b, rel_v = [], []
      for nl, (kb, kv, ib, iv) in CAL_BIAS_VARIANCE.items():
        j = int(np.argmin(np.abs(nlams - nl)))
        if abs(nlams[j] - nl) > 1e-12:
          continue
        rel_b += [abs(bk[j] / kb - 1), abs(bw[j] / ib - 1)]
        rel_v += [abs(vk[j] / kv - 1), abs(vw[j] / iv - 1)]
      if rel_b:
        tb, tv = 0.10 * c.level_tol_scale, 0.25 * c.level_tol_scale
        st.check("E2.3 levels vs the [cal] table at d = 400 (soft): max rel. dev. bias / "
                 "variance", [max(rel_b), max(rel_v)], f"<= [{tb:g}, {tv:g}]",
                 max(rel_b) <= tb and max(rel_v) <= tv)
  st.figures["bias_variance"] = out


def _exploration(st: _Study):
  c = st.config
  nlams = jnp.asarray(c.nlams)
  evaluate = jax.jit(cs.evaluate, static_argnames=("h", "surrogate"))
  dev_mu0, flips = [], {}
  for mu in c.explore_mus:
    for ratio in c.explore_ratios:
      data = st.data(4, c.explore_d, 0, mu=mu, n_over_d=ratio)
      ev = jax.device_get(evaluate(data, st.h, nlams, c.noise_std))
      vk, vw = ev["krr"].variance, ev["iw"].variance
      if mu == 0:
        dev_mu0.append(max(gates.max_relative_difference(ev["iw"].bias2, ev["krr"].bias2),
                           gates.max_relative_difference(vw, vk)))
      flip = _flip(c.nlams, vw, vk)
      flips[(mu, ratio)] = flip
      for j, nl in enumerate(c.nlams):
        for name in ("krr", "iw"):
          st.curves.append({"study": "E2.4", "d": c.explore_d, "n": data.x.shape[0],
                            "mu": mu, "n_over_d": ratio, "h": c.h, "estimator": name,
                            "nlam": nl, "bias2": float(ev[name].bias2[j]),
                            "variance": float(ev[name].variance[j])})
  if dev_mu0:
    st.check(f"E2.4 mu = 0: IW-KRR = KRR at every lambda and n/d in {list(c.explore_ratios)}",
             float(max(dev_mu0)), "<= 1e-8", max(dev_mu0) <= 1e-8)
  st.observations["E2.4 variance flip n lam by (mu, n/d)"] = {
      f"mu={m:g}, n/d={r:g}": f for (m, r), f in flips.items()}
  by_h = {}
  for name, fn in cs.INNER_PRODUCT_FNS.items():
    h = cs.inner_product_fn(fn)
    data = st.data(4, c.explore_d, 1, mu=1.0, n_over_d=2.0)
    ev = jax.device_get(evaluate(data, h, nlams, c.noise_std))
    vk, vw = ev["krr"].variance, ev["iw"].variance
    flip = _flip(c.nlams, vw, vk)
    by_h[name] = {"gamma_imp": h.gamma_imp, "flip_nlam": flip,
                  "var_ratio_iw_krr": (vw / vk).tolist()}
  st.observations["E2.4 variance flip against gamma_imp (mu = 1, n/d = 2)"] = by_h
  st.figures["exploration"] = (flips, by_h)


def _spectra(st: _Study):
  c = st.config
  d = max(c.ds)
  data = st.data(5, d, 0)
  gram = cs.kernel(st.h)(data.x)
  ev_k = np.asarray(ridge.path(gram).eig.values)
  ev_w = np.asarray(ridge.path(gram, data.w).eig.values)
  st.observations[f"E2.5 spectra (d = {d})"] = {
      "lambda_min K": float(ev_k[0]), "lambda_min W^1/2 K W^1/2": float(ev_w[0]),
      "gamma_imp": st.h.gamma_imp, "w range": [float(data.w.min()), float(data.w.max())]}
  st.figures["spectra"] = (d, ev_k, ev_w)


_RUNNERS = {"linearization": _linearization, "identities": _identities,
            "bias_variance": _bias_variance, "exploration": _exploration, "spectra": _spectra}


def _plots(st: _Study):
  c = st.config
  f = st.figures
  if "bias_variance" in f:
    ds = sorted(f["bias_variance"])
    fig, axes = plotting.figure(2, len(ds), panel_size=(4.0, 3.2))
    axes = np.reshape(axes, (2, len(ds)))
    x = np.asarray(c.nlams)
    xp = np.where(x > 0, x, x[1] / 4)         # n lam = 0 drawn at the left edge
    for col, d in enumerate(ds):
      res = f["bias_variance"][d]
      for name, style in (("krr", "o-"), ("iw", "s-"), ("krr_lin", "--"), ("iw_lin", ":")):
        if name not in res:
          continue
        m = res[name].mean(0)
        axes[0, col].semilogx(xp, m[0], style, ms=3, label=name)
        axes[1, col].loglog(xp, m[1], style, ms=3, label=name)
      axes[0, col].axhline(0.5, color="grey", lw=0.6, ls=":", label="intrinsic bias 0.5")
      axes[0, col].set(title=f"bias^2 under q, d = {d}", xlabel="n lambda")
      axes[1, col].set(title=f"variance under q, d = {d}", xlabel="n lambda")
      axes[0, col].legend(fontsize=6)
      axes[1, col].legend(fontsize=6)
    st.wd.save_figure(fig, "bias_variance")
  if "linearization" in f or "spectra" in f or "exploration" in f:
    fig, axes = plotting.figure(1, 3)
    if "linearization" in f:
      values, fits = f["linearization"]
      for k, v in values.items():
        m = v.mean(1)
        line, = axes[0].loglog(c.ds_linearization, m, "o-", label=f"{k} ({fits[k].slope:.2f})")
        axes[0].loglog(c.ds_linearization, gates.predicted_line(
            c.ds_linearization, m, LINEARIZATION_SLOPES[k]), "--", color=line.get_color(),
                       alpha=0.5)
      axes[0].set(xlabel="d", ylabel="error", title="E2.1 linearisation (dashed: predicted)")
      axes[0].legend(fontsize=6)
    if "spectra" in f:
      d, ev_k, ev_w = f["spectra"]
      r = np.arange(1, len(ev_k) + 1)
      axes[1].loglog(r, ev_k[::-1], label="K")
      axes[1].loglog(r, ev_w[::-1], label="W^1/2 K W^1/2")
      axes[1].axhline(st.h.gamma_imp, color="grey", ls=":", label="gamma_imp")
      axes[1].set(xlabel="rank", ylabel="eigenvalue", title=f"E2.5 spectra, d = {d}")
      axes[1].legend(fontsize=6)
    if "exploration" in f:
      _, by_h = f["exploration"]
      for name, v in by_h.items():
        axes[2].semilogx(np.where(np.asarray(c.nlams) > 0, c.nlams, c.nlams[1] / 4),
                         v["var_ratio_iw_krr"], "o-", ms=3,
                         label=f"h={name}, gamma_imp={v['gamma_imp']:.3g}")
      axes[2].axhline(1.0, color="grey", lw=0.6)
      axes[2].set(xlabel="n lambda", ylabel="Var_IW / Var_KRR",
                  title=f"E2.4 flip against gamma_imp, d = {c.explore_d}")
      axes[2].legend(fontsize=6)
    st.wd.save_figure(fig, "linearization_spectra")


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False) -> dict[str, Any]:
  """Runs `config.studies`; writes config.json, metrics.jsonl (one line per design),
  results.json {"curves", "slopes", "checks", "observations", "failed", "wall_s"} and
  plots/{bias_variance, linearization_spectra}.png.

  Args:
    config: the run's `Config`.
    workdir: a `Workdir` or a path (created, or replaced with `overwrite`).

  Returns:
    The results dict.
  """
  return gates.run_studies(config, workdir, overwrite, _Study, STUDIES, _RUNNERS, _plots)
