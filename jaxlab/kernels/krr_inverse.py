"""Learning curves of kernel ridge(less) regression for an elliptic inverse problem on the 1D
torus (Wong et al. 2024, arXiv 2406.09194): the sweeps and gates of `krr_inverse.md` section 5.

  from jaxlab.kernels import krr_inverse
  results = krr_inverse.run(krr_inverse.Config(ns=(64, 128, 256), modes=4096), "/tmp/inv")
  results["slopes"]     # [{"name", "predicted", "measured", "tol", "pass", "ci"}, ...]
  results["checks"]     # {name: {"value", "target", "pass"}}

Studies (`Config.studies`):
  phase             E1.0 / E1.1: ridgeless variance phase diagram over (rho, gamma), b = 1.
  bias_independence E1.2: ridgeless variance slopes do not depend on the inductive bias b.
  oracle            E1.3: oracle-ridge error rate, oracle ridge rate, DE levels.
  saturation        E1.4: slope of the noise-free bias in lambda, saturation and threshold.
  smoothing         E1.5: smoothing operator (rho = -1), rate ordering b = 2 vs b = 1.
  bias_variance     E1.6: bias and variance against lambda for rho in {0, 0.25, 1} (figure).
  cross_checks      doubling the modes moves the errors < 1%; the kernel-matrix path equals
                    the spectral simulator.

Every error is exact in Fourier-coefficient space (`inverse.simulate`); variances are means
over noise columns. The ridge lambda enters as K + n lambda I throughout.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib.ticker
import numpy as np
from absl import logging

from jaxlab import plotting
from jaxlab.config import require, require_choice
from jaxlab.kernels import gates, inverse, learning_curve, torus
from jaxlab.workdir import Workdir

STUDIES = ("phase", "bias_independence", "oracle", "saturation", "smoothing", "bias_variance",
           "cross_checks")

# E1.1: (rho, gamma) of the phase diagram; the identity gate pairs (2, 1.75) with (0.25, 0).
PHASE_PAIRS = ((0.0, 0.0), (0.25, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 0.25), (2.0, 0.0),
               (2.0, 1.0), (2.0, 1.75))
# E1.4: (b, rho, r_s, predicted slope or None, tol).
SATURATION_ROWS = ((1, 0.25, 1.5, 1.5, 0.1), (2, 0.25, 1.5, 0.75, 0.1), (3, 0.25, 1.5, 0.5, 0.1),
                   (1, 0.25, 3.5, 2.0, 0.15), (2, 0.25, 3.5, 1.75, 0.1),
                   (3, 0.25, 3.5, 7.0 / 6.0, 0.1), (1, 2.0, 3.5, 2.0, 0.15),
                   (1, 1.0, 3.5, 2.0, 0.15), (2, 2.0, 3.5, None, None))


@dataclasses.dataclass(frozen=True)
class Config:
  """Inverse-problem learning curves on the 1D torus (spec krr_inverse.md, section 5).

  Attributes:
    studies: studies to run, among phase, bias_independence, oracle, saturation, smoothing,
      bias_variance, cross_checks.
    ns: sample sizes of the phase diagram (E1.1) and the oracle curves (E1.3, E1.5).
    ns_independence: sample sizes of the inductive-bias study (E1.2).
    b2_max_n: largest n of the b = 2 oracle curve (E1.3).
    num_designs: designs (seeds) per n in E1.1, E1.3 and E1.5.
    num_designs_independence: designs per n in E1.2.
    num_noise: noise columns per design (variance = their mean).
    noise_std: noise standard deviation sigma (E1.5 uses sigma / 10).
    modes: Fourier modes M_T of the targets and of the error sums (>= 8 max n).
    lam_min_exp: log10 of the smallest positive ridge of the oracle grid.
    lam_max_exp: log10 of the largest ridge of the oracle grid.
    num_lams: positive ridges of the oracle grid (plus lambda = 0).
    saturation_n: n of the saturation study (E1.4).
    saturation_min_exp: log10 of the smallest ridge of E1.4.
    saturation_max_exp: log10 of the largest ridge of E1.4.
    saturation_num_lams: ridges of E1.4.
    saturation_designs: designs of E1.4.
    saturation_design: design of the gated E1.4 slopes, jittered or iid (iid designs add an
      aliasing floor at small lambda that flattens the b = 1 slopes; both are measured).
    aliasing_designs: iid designs averaged for the aliasing-dominated E1.4 row.
    bias_variance_n: n of the bias-variance figure (E1.6).
    bias_variance_designs: designs of E1.6.
    r_s: target smoothness of E1.3 and E1.6.
    slope_tol_scale: factor on every slope tolerance of the spec (1 = the spec's).
    level_tol_scale: factor on the level tolerances (E1.0 3%, E1.2 25%, E1.3 15%, E1.4 x1.35).
    num_bootstrap: bootstrap resamples of the slope CIs.
    seed: seed of the designs, noise and target phases.
  """

  studies: tuple[str, ...] = STUDIES
  ns: tuple[int, ...] = (128, 256, 512, 1024, 2048)
  ns_independence: tuple[int, ...] = (64, 128, 256, 512, 1024)
  b2_max_n: int = 1024
  num_designs: int = 4
  num_designs_independence: int = 6
  num_noise: int = 8
  noise_std: float = 1.0
  modes: int = 16384
  lam_min_exp: float = -10.0
  lam_max_exp: float = 1.0
  num_lams: int = 34
  saturation_n: int = 2048
  saturation_min_exp: float = -5.0
  saturation_max_exp: float = -2.0
  saturation_num_lams: int = 7
  saturation_designs: int = 2
  saturation_design: str = "jittered"
  aliasing_designs: int = 16
  bias_variance_n: int = 1024
  bias_variance_designs: int = 2
  r_s: float = 1.5
  slope_tol_scale: float = 1.0
  level_tol_scale: float = 1.0
  num_bootstrap: int = 2000
  seed: int = 0

  def __post_init__(self):
    gates.validate_common(self, STUDIES)
    for name in ("ns", "ns_independence"):
      v = getattr(self, name)
      require(len(v) >= 3 and all(n >= 8 for n in v) and list(v) == sorted(set(v)), name,
              f"needs >= 3 increasing sample sizes >= 8 (a slope is fitted), got {v}")
    for name in ("num_designs", "num_designs_independence", "num_noise", "num_lams",
                 "saturation_designs", "bias_variance_designs", "num_bootstrap",
                 "aliasing_designs",
                 "saturation_num_lams"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.num_lams >= 3, "num_lams", f"must be >= 3, got {self.num_lams}")
    require(self.saturation_num_lams >= 3, "saturation_num_lams",
            f"must be >= 3 (a slope is fitted), got {self.saturation_num_lams}")
    require(self.lam_min_exp < self.lam_max_exp, "lam_max_exp",
            f"must exceed lam_min_exp ({self.lam_min_exp}), got {self.lam_max_exp}")
    require(self.saturation_min_exp < self.saturation_max_exp, "saturation_max_exp",
            f"must exceed saturation_min_exp ({self.saturation_min_exp})")
    require_choice(self.saturation_design, "saturation_design", torus.DESIGNS)
    require(self.noise_std > 0, "noise_std", f"must be > 0, got {self.noise_std}")
    require(self.r_s > 0.25 + 0.5, "r_s",
            f"must exceed rho + 1/2 = 0.75 (A u* needs point values), got {self.r_s}")
    largest = max(self.ns + self.ns_independence + (self.saturation_n, self.bias_variance_n))
    require(self.modes >= 8 * largest, "modes",
            f"must be >= 8 x the largest n ({8 * largest}) (spec pitfall 6), got {self.modes}")
    for name in ("saturation_n", "bias_variance_n", "b2_max_n"):
      require(getattr(self, name) >= 8, name, f"must be >= 8, got {getattr(self, name)}")
    require(sum(n <= self.b2_max_n for n in self.ns) >= 3, "b2_max_n",
            f"must keep >= 3 of ns {self.ns} for the b = 2 oracle slope, got {self.b2_max_n}")


class _Study(gates.Collector):
  """The collector, with this experiment's targets, grids and scaled tolerances."""

  def __init__(self, config: Config, wd: Workdir):
    super().__init__(config, wd)
    self.num_fits = 0

  def study_key(self, name: str) -> jax.Array:
    return jax.random.fold_in(self.key, sum(ord(c) * 31**i for i, c in enumerate(name)) % 2**31)

  def target(self, r_s: float, modes: int | None = None) -> jax.Array:
    """u* coefficients `(M + 1, 2)`; the phases are shared by all studies."""
    return torus.random_phase_coefficients(self.study_key("target"), modes or self.config.modes,
                                           r_s, jnp.float64)

  def lams(self) -> np.ndarray:
    c = self.config
    return np.concatenate([[0.0], np.logspace(c.lam_min_exp, c.lam_max_exp, c.num_lams)])

  def fit(self, x, values) -> learning_curve.Slope:
    self.num_fits += 1
    return learning_curve.fit_slope(x, values,
                                    key=jax.random.fold_in(self.key, 10**6 + self.num_fits),
                                    num_bootstrap=self.config.num_bootstrap)

  def slope(self, name, predicted, fit, tol, **extra):
    super().slope(name, predicted, fit, tol * self.config.slope_tol_scale, **extra)

  def grid(self, study: str, ns, num_designs: int, *, b: int, design: str, lams, targets,
           weights, num_noise: int, noise_std: float, tag: dict[str, Any]
           ) -> dict[str, np.ndarray]:
    """inverse.simulate over ns x designs; logs one metrics line per n. Every call of a study
    draws the same design keys (iid and jittered designs use them differently)."""
    lams = jnp.asarray(lams, jnp.float64)

    def errors(key, n, lams_):
      return inverse.simulate(key, n, b=b, design=design, lams=lams_, targets=targets,
                              weights=weights, num_noise=num_noise,
                              noise_std=noise_std)._asdict()

    t0 = time.perf_counter()
    # The same designs and noise for every b and design type of a study: paired comparisons.
    res = learning_curve.run(errors, ns, num_designs, lams, self.study_key(study),
                             log_every=False)
    for i, n in enumerate(ns):
      self.log({"study": study, "n": int(n), "b": b, "design": design, **tag,
                "lams": np.asarray(lams), "bias2": res["bias2"][i],
                "variance": res["variance"][i], "ill_conditioned": res["ill_conditioned"][i]})
    logging.info("%s b=%d %s %s: %d sizes x %d designs in %.1fs", study, b, design, tag,
                 len(ns), num_designs, time.perf_counter() - t0)
    return res

  def curve(self, **point):
    self.curves.append({k: (float(v) if isinstance(v, (np.floating, float)) else v)
                        for k, v in point.items()})


def _phase(st: _Study):
  c = st.config
  weights = jnp.stack([inverse.error_weights(c.modes, r, g) for r, g in PHASE_PAIRS])
  targets = jnp.zeros((0, c.modes + 1, 2))          # u* = 0: variance only
  res = st.grid("phase", c.ns, c.num_designs, b=1, design="iid", lams=[0.0], targets=targets,
                weights=weights, num_noise=c.num_noise, noise_std=c.noise_std,
                tag={"u_star": 0})
  var = res["variance"][..., 0]                                        # (N, D, W)
  ill = res["ill_conditioned"][..., 0]
  st.check("E1.1 no ridgeless system singular at working precision (b = 1, iid)",
           int(ill.sum()), 0, int(ill.sum()) == 0)
  fits = {}
  for w, (rho, gamma) in enumerate(PHASE_PAIRS):
    de = np.array([float(inverse.deterministic_equivalent(
        n, b=1, rho=rho, gamma=gamma, v_star=jnp.zeros((c.modes + 1, 2)), noise_std=c.noise_std,
        lams=jnp.zeros(1)).variance[0]) for n in c.ns])
    for i, n in enumerate(c.ns):
      st.curve(study="E1.1", b=1, rho=rho, gamma=gamma, design="iid", n=n, lam=0.0,
               variance=var[i, :, w].mean(), variance_std=var[i, :, w].std(),
               de_variance=de[i], num_designs=c.num_designs)
    fit = st.fit(c.ns, var[:, :, w])
    fits[(rho, gamma)] = fit
    expo = 2.0 * (gamma - rho)
    predicted = max(expo, -1.0)
    boundary = expo == -1.0
    st.slope(f"E1.1 ridgeless variance slope, (rho, gamma) = ({rho:g}, {gamma:g})", predicted,
             fit, 0.2 if boundary else 0.1,
             regime=("tempered" if expo == 0 else "catastrophic" if expo > 0 else "benign"),
             de_slope=st.fit(c.ns, de).slope, de_ratio_at_max_n=float(var[-1, :, w].mean() / de[-1]))
    if boundary:
      st.slope(f"E1.1 log boundary (rho, gamma) = ({rho:g}, {gamma:g}) vs n^-1 log n "
               "(its effective slope over ns)", slope_of_log_boundary(c.ns), fit, 0.1)
  rel = np.abs(var[..., 0].mean(1) / (2.0 / 3.0 * c.noise_std**2) - 1.0)
  st.check("E1.0 ridgeless variance = 2 sigma^2 / 3 (b = 1, rho = gamma = 0), max rel. dev.",
           float(rel.max()), f"<= {0.03 * c.level_tol_scale:g}",
           rel.max() <= 0.03 * c.level_tol_scale,
           per_n=dict(zip(map(str, c.ns), var[..., 0].mean(1).tolist())))
  i_a, i_b = PHASE_PAIRS.index((2.0, 1.75)), PHASE_PAIRS.index((0.25, 0.0))
  ident = gates.max_relative_difference(var[..., i_a], var[..., i_b])
  st.check("E1.1 identity: (rho, gamma) = (2, 1.75) equals (0.25, 0), max rel. diff.", ident,
           "<= 1e-10", ident <= 1e-10)
  st.figures["phase"] = (var, fits)


def _bias_independence(st: _Study):
  c = st.config
  rhos = (0.25, 1.0)
  weights = jnp.stack([inverse.error_weights(c.modes, r, 0.0) for r in rhos])
  targets = jnp.zeros((0, c.modes + 1, 2))          # u* = 0: variance only
  variants = ((1, "iid"), (1, "jittered"), (2, "jittered"), (2, "iid"))
  var, fits = {}, {}
  for b, design in variants:
    res = st.grid("bias_independence", c.ns_independence, c.num_designs_independence, b=b,
                  design=design, lams=[0.0], targets=targets, weights=weights,
                  num_noise=c.num_noise, noise_std=c.noise_std, tag={"u_star": 0})
    var[(b, design)] = res["variance"][..., 0]                     # (N, D, 2)
    ill_frac = float(res["ill_conditioned"].mean())
    for w, rho in enumerate(rhos):
      fit = st.fit(c.ns_independence, var[(b, design)][:, :, w])
      fits[(b, design, rho)] = fit
      for i, n in enumerate(c.ns_independence):
        st.curve(study="E1.2", b=b, rho=rho, gamma=0.0, design=design, n=n, lam=0.0,
                 variance=var[(b, design)][i, :, w].mean(),
                 variance_std=var[(b, design)][i, :, w].std(),
                 ill_conditioned_fraction=float(res["ill_conditioned"][i].mean()),
                 num_designs=c.num_designs_independence)
      predicted = max(-2.0 * rho, -1.0)
      if (b, design) == (2, "iid"):
        st.observations[f"E1.2 b = 2 iid ridgeless (rho = {rho:g}), expected to fail "
                        "(spec pitfall 3)"] = {
            "slope": fit.slope, "predicted": predicted,
            "variance_at_max_n": float(var[(b, design)][-1, :, w].mean()),
            "ill_conditioned_fraction": ill_frac}
        continue
      st.slope(f"E1.2 ridgeless variance slope, b = {b} {design}, rho = {rho:g}", predicted,
               fit, 0.1)
  for w, rho in enumerate(rhos):
    gap = abs(fits[(1, "jittered", rho)].slope - fits[(2, "jittered", rho)].slope)
    st.check(f"E1.2 |slope(b=1) - slope(b=2)| (jittered), rho = {rho:g}", gap,
             f"<= {0.1 * c.slope_tol_scale:g}", gap <= 0.1 * c.slope_tol_scale)
    ratio = var[(1, "jittered")][:, :, w].mean(1) / var[(2, "jittered")][:, :, w].mean(1)
    dev = float(np.max(np.abs(ratio - 1.0)))
    st.check(f"E1.2 variance level b=1 vs b=2 (jittered), rho = {rho:g}: max |ratio - 1|", dev,
             f"<= {0.25 * c.level_tol_scale:g}", dev <= 0.25 * c.level_tol_scale,
             ratios=ratio.tolist())
  st.figures["independence"] = var


def _oracle_curve(st: _Study, study: str, *, b: int, rho: float, r_s: float, ns, noise_std,
                  num_designs: int):
  """Oracle learning curve: measured (N, D, L) totals, DE totals, oracle ridges and errors."""
  c = st.config
  lams = st.lams()
  v_star = inverse.operator_coefficients(st.target(r_s), rho)
  weights = inverse.error_weights(c.modes, rho, 0.0)[None]
  res = st.grid(study, ns, num_designs, b=b, design="iid", lams=lams, targets=v_star[None],
                weights=weights, num_noise=c.num_noise, noise_std=noise_std,
                tag={"rho": rho, "gamma": 0.0, "r_s": r_s})
  bias2, var = res["bias2"][:, :, 0, 0], res["variance"][:, :, 0]     # (N, D, L)
  total = bias2 + var
  de = [inverse.deterministic_equivalent(n, b=b, rho=rho, gamma=0.0, v_star=v_star,
                                         noise_std=noise_std, lams=jnp.asarray(lams))
        for n in ns]
  de_total = np.stack([np.asarray(d.risk) for d in de])                  # (N, L)
  lam_star, err_star = learning_curve.oracle(lams[1:], total[..., 1:])
  de_lam_star, de_err_star = learning_curve.oracle(lams[1:], de_total[:, 1:])
  best = np.argmin(total[..., 1:].mean(1), axis=1) + 1
  err_designs = np.take_along_axis(total, best[:, None, None], axis=2)[..., 0]   # (N, D)
  for i, n in enumerate(ns):
    for j, lam in enumerate(lams):
      st.curve(study=study, b=b, rho=rho, gamma=0.0, r_s=r_s, noise_std=noise_std,
               design="iid", n=n, lam=lam, bias2=bias2[i, :, j].mean(),
               variance=var[i, :, j].mean(), total=total[i, :, j].mean(),
               total_std=total[i, :, j].std(), de_bias2=float(de[i].bias2[j]),
               de_variance=float(de[i].variance[j]), de_kappa=float(de[i].kappa[j]),
               ill_conditioned=bool(res["ill_conditioned"][i, :, j].any()),
               num_designs=num_designs)
  return dict(lams=lams, total=total, bias2=bias2, var=var, lam_star=lam_star,
              err_star=err_star, err_designs=err_designs, de_lam_star=de_lam_star,
              de_err_star=de_err_star, de_total=de_total,
              ill=res["ill_conditioned"])


def _oracle(st: _Study):
  c = st.config
  rho, r_s = 0.25, c.r_s
  curves = {}
  for b in (1, 2):
    ns = tuple(n for n in c.ns if b == 1 or n <= c.b2_max_n)
    cur = _oracle_curve(st, "E1.3", b=b, rho=rho, r_s=r_s, ns=ns, noise_std=c.noise_std,
                        num_designs=c.num_designs)
    curves[b] = (ns, cur)
    predicted = -2 * r_s / (2 * r_s - 2 * rho + 1)
    st.slope(f"E1.3 oracle-ridge error slope, b = {b}", predicted,
             st.fit(ns, cur["err_designs"]), 0.08, oracle_errors=cur["err_star"].tolist(),
             de_oracle_errors=cur["de_err_star"].tolist())
    lam_fit = st.fit(ns, cur["lam_star"])
    st.slope(f"E1.3 oracle ridge lambda* slope (parabola-refined), b = {b}",
             -2 * b / (2 * r_s - 2 * rho + 1), lam_fit, 0.15,
             lam_star=cur["lam_star"].tolist())
    ratio = cur["err_star"] / cur["de_err_star"]
    if b == 1:
      dev = float(np.max(np.abs(ratio - 1.0)))
      st.check("E1.3 oracle error vs deterministic equivalent (b = 1): max |ratio - 1|", dev,
               f"<= {0.15 * c.level_tol_scale:g}", dev <= 0.15 * c.level_tol_scale,
               ratios=ratio.tolist())
      ridgeless = cur["total"][..., 0]
      st.slope("E1.3 ridgeless error slope, b = 1 (same data)", max(2 * (0 - rho), -1.0),
               st.fit(ns, ridgeless), 0.1)
      ill = int(cur["ill"][..., 0].sum())
      st.check("E1.3 no ridgeless system singular at working precision (b = 1, iid)", ill, 0,
               ill == 0)
    else:
      st.observations["E1.3 oracle error / DE, b = 2"] = ratio.tolist()
  st.figures["oracle"] = curves


def _saturation(st: _Study):
  """E1.4. Slopes are gated on `saturation_design` (default jittered: quasi-uniform points,
  whose small aliasing exposes the asymptotic exponent); the aliasing-dominated row is compared
  with the deterministic equivalent, an iid-design theory, on iid designs. Both designs are
  measured for every row; the other one is reported under observations."""
  c = st.config
  lams = np.logspace(c.saturation_min_exp, c.saturation_max_exp, c.saturation_num_lams)
  pairs = sorted({(rho, r_s) for _, rho, r_s, _, _ in SATURATION_ROWS})
  rhos = sorted({rho for rho, _ in pairs})
  targets = jnp.stack([inverse.operator_coefficients(st.target(r_s), rho) for rho, r_s in pairs])
  weights = jnp.stack([inverse.error_weights(c.modes, rho, 0.0) for rho in rhos])
  measured = {}
  for design in torus.DESIGNS:
    for b in sorted({row[0] for row in SATURATION_ROWS}):
      res = st.grid("saturation", (c.saturation_n,), c.saturation_designs, b=b, design=design,
                    lams=lams, targets=targets, weights=weights, num_noise=0, noise_std=0.0,
                    tag={"noise_free": True})
      measured[(b, design)] = res["bias2"][0]                         # (D, T, W, L)
  # The aliasing of a rough target is heavy-tailed over designs (single-design ratios to the
  # DE range over 0.1..3): the DE predicts the design mean, so that row uses more designs.
  (b_a, rho_a, rs_a, _, _), = [row for row in SATURATION_ROWS if row[3] is None]
  t_a = pairs.index((rho_a, rs_a))
  res = st.grid("saturation_aliasing", (c.saturation_n,), c.aliasing_designs, b=b_a,
                design="iid", lams=lams, targets=targets[t_a:t_a + 1],
                weights=weights[rhos.index(rho_a):rhos.index(rho_a) + 1], num_noise=0,
                noise_std=0.0, tag={"noise_free": True, "rho": rho_a, "r_s": rs_a})
  aliasing = res["bias2"][0, :, 0, 0]                                 # (D, L)
  panel = []
  for b, rho, r_s, predicted, tol in SATURATION_ROWS:
    t, w = pairs.index((rho, r_s)), rhos.index(rho)
    de = inverse.deterministic_equivalent(c.saturation_n, b=b, rho=rho, gamma=0.0,
                                          v_star=targets[t], noise_std=0.0,
                                          lams=jnp.asarray(lams))
    label = f"(b, rho, gamma, r_s) = ({b}, {rho:g}, 0, {r_s:g})"
    gated_design = c.saturation_design if predicted is not None else "iid"
    for design in torus.DESIGNS:
      bias2 = measured[(b, design)][:, t, w, :]                         # (D, L)
      fit = st.fit(lams, bias2.T)
      for j, lam in enumerate(lams):
        st.curve(study="E1.4", b=b, rho=rho, gamma=0.0, r_s=r_s, design=design,
                 n=c.saturation_n, lam=lam, bias2=bias2[:, j].mean(),
                 de_bias2=float(de.bias2[j]), num_designs=c.saturation_designs)
      if design != gated_design:
        st.observations[f"E1.4 bias slope in lambda, {label}, {design} design (not gated)"] = {
            "measured": fit.slope, "predicted": predicted,
            "measured / DE": (bias2.mean(0) / np.asarray(de.bias2)).tolist()}
        continue
      panel.append((f"{label} {design}", lams, bias2.mean(0), np.asarray(de.bias2), predicted))
      if predicted is not None:
        st.slope(f"E1.4 bias slope in lambda, {label}, {design} design", predicted, fit, tol)
        if (b, rho) == (1, 2.0):
          closer = abs(fit.slope - 2.0) < abs(fit.slope - 3.5)
          st.check("E1.4 threshold (1, 2, 0, 3.5): slope closer to 2 ([D]) than 3.5 ([S])",
                   fit.slope, "closer to 2.0 than to 3.5", closer)
      else:
        ratio = aliasing.mean(0) / np.asarray(de.bias2)
        dev = float(np.max(np.maximum(ratio, 1.0 / ratio)))
        # Monte Carlo error of the design mean (bootstrap over designs, 95%).
        rng = np.random.default_rng(c.seed)
        boot = aliasing[rng.integers(0, len(aliasing), (2000, len(aliasing)))].mean(1)
        ci = np.quantile(boot / np.asarray(de.bias2), [0.025, 0.975], axis=0)
        st.check(f"E1.4 aliasing-dominated {label}, iid design, mean of {c.aliasing_designs} "
                 "designs: measured / DE bias within a factor", dev,
                 f"<= {1.35 * c.level_tol_scale:g}", dev <= 1.35 * c.level_tol_scale,
                 ratios=ratio.tolist(), ratio_ci95=ci.T.tolist(),
                 slope=st.fit(lams, aliasing.T).slope,
                 single_design_ratio_range=[float((aliasing / de.bias2).min()),
                                            float((aliasing / de.bias2).max())])
  st.figures["saturation"] = panel


def _smoothing(st: _Study):
  c = st.config
  fits = {}
  curves = {}
  for b, predicted in ((1, -4.0 / 7.0), (2, -0.7)):
    cur = _oracle_curve(st, "E1.5", b=b, rho=-1.0, r_s=3.5, ns=c.ns, noise_std=c.noise_std / 10,
                        num_designs=c.num_designs)
    fits[b] = st.fit(c.ns, cur["err_designs"])
    curves[b] = (c.ns, cur)
    st.observations[f"E1.5 oracle error slope, rho = -1, r_s = 3.5, b = {b} (not gated)"] = {
        "measured": fits[b].slope, "ci": [fits[b].low, fits[b].high], "predicted": predicted}
  st.check("E1.5 ordering: oracle error decays faster for b = 2 than b = 1 (slope b=2 - b=1)",
           fits[2].slope - fits[1].slope, "< 0", fits[2].slope < fits[1].slope)
  st.figures["smoothing"] = curves


def _bias_variance(st: _Study):
  c = st.config
  lams = st.lams()
  rhos = (0.0, 0.25, 1.0)
  u_star = st.target(c.r_s)
  targets = jnp.stack([inverse.operator_coefficients(u_star, rho) for rho in rhos])
  weights = jnp.stack([inverse.error_weights(c.modes, rho, 0.0) for rho in rhos])
  res = st.grid("bias_variance", (c.bias_variance_n,), c.bias_variance_designs, b=1,
                design="iid", lams=lams, targets=targets, weights=weights,
                num_noise=c.num_noise, noise_std=c.noise_std, tag={"r_s": c.r_s})
  panel = []
  for i, rho in enumerate(rhos):
    bias2 = res["bias2"][0, :, i, i].mean(0)
    var = res["variance"][0, :, i].mean(0)
    de = inverse.deterministic_equivalent(c.bias_variance_n, b=1, rho=rho, gamma=0.0,
                                          v_star=targets[i], noise_std=c.noise_std,
                                          lams=jnp.asarray(lams))
    for j, lam in enumerate(lams):
      st.curve(study="E1.6", b=1, rho=rho, gamma=0.0, r_s=c.r_s, design="iid",
               n=c.bias_variance_n, lam=lam, bias2=bias2[j], variance=var[j],
               de_bias2=float(de.bias2[j]), de_variance=float(de.variance[j]),
               num_designs=c.bias_variance_designs)
    panel.append((rho, lams, bias2, var, np.asarray(de.bias2), np.asarray(de.variance)))
  st.observations["E1.6 ridgeless variance plateau by rho"] = {
      f"{rho:g}": float(p[3][0]) for rho, p in zip(rhos, panel)}
  st.figures["bias_variance"] = panel


def _cross_checks(st: _Study):
  """Truncation (spec pitfall 6) and the kernel-matrix path against the simulator."""
  c = st.config
  key = jax.random.fold_in(st.study_key("cross_checks"), 0)
  lams = jnp.asarray([0.0, 1e-6, 1e-4, 1e-2])
  n = c.ns[-1]
  u = st.target(c.r_s)
  tail = torus.random_phase_coefficients(st.study_key("tail"), 2 * c.modes, c.r_s, jnp.float64)
  u2 = jnp.concatenate([u, tail[c.modes + 1:]])
  out = []
  for uu in (u, u2):
    m = uu.shape[0] - 1
    sim = inverse.simulate(key, n, b=1, design="iid", lams=lams,
                           targets=inverse.operator_coefficients(uu, 0.25)[None],
                           weights=inverse.error_weights(m, 0.25, 0.0)[None],
                           num_noise=c.num_noise, noise_std=c.noise_std)
    out.append((np.asarray(sim.bias2[0, 0]), np.asarray(sim.variance[0])))
  dev = max(gates.max_relative_difference(out[1][0], out[0][0]),
            gates.max_relative_difference(out[1][1], out[0][1]))
  st.check(f"truncation: doubling the modes moves bias and variance (n = {n}, b = 1, rho = 0.25)",
           dev, "<= 0.01", dev <= 0.01)

  # Kernel-matrix path: predictions on a grid through kernel_fns-style Grams and ridge.path.
  n_k, grid = c.ns[0], 4 * c.modes
  devs = []
  for rho in (0.0, 2.0):      # u-kernel orders 1 and 2 (closed forms)
    v = inverse.operator_coefficients(u, rho)
    sim = inverse.simulate(key, n_k, b=1, design="iid", lams=lams, targets=v[None],
                           weights=inverse.error_weights(c.modes, rho, 0.0)[None],
                           num_noise=c.num_noise, noise_std=c.noise_std)
    x, noise = inverse.design_and_noise(key, n_k, "iid", c.num_noise, c.noise_std, jnp.float64)
    z = jnp.arange(grid, dtype=jnp.float64) / grid
    bias_k = inverse.kernel_path_l2(x, torus.synthesize(x, v), lams, b=1, rho=rho,
                                    u_grid=torus.synthesize(z, u))
    var_k = inverse.kernel_path_l2(x, noise, lams, b=1, rho=rho,
                                   u_grid=jnp.zeros(grid)).mean(-1)
    devs.append(gates.max_relative_difference(bias_k, sim.bias2[0, 0]))
    devs.append(gates.max_relative_difference(var_k, sim.variance[0]))
  st.check(f"kernel-matrix path (grid predictions) equals the spectral simulator (n = {n_k}, "
           "rho in {0, 2}, lambda in {0, 1e-6, 1e-4, 1e-2})", max(devs), "<= 1e-3",
           max(devs) <= 1e-3)


_RUNNERS = {"phase": _phase, "bias_independence": _bias_independence, "oracle": _oracle,
            "saturation": _saturation, "smoothing": _smoothing, "bias_variance": _bias_variance,
            "cross_checks": _cross_checks}


def _n_axis(ax, ns):
  """Log axis labelled at the sample sizes only."""
  ax.set_xscale("log")
  ax.set_xticks(list(ns))
  ax.set_xticklabels([str(n) for n in ns])
  ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def _plots(st: _Study):
  c = st.config
  f = st.figures
  if "phase" in f:
    var, fits = f["phase"]
    fig, (ax1, ax2) = plotting.figure(1, 2)
    for w, (rho, gamma) in enumerate(PHASE_PAIRS[:5]):
      mean = var[:, :, w].mean(1)
      line, = ax1.loglog(c.ns, mean, "o-", label=f"rho={rho:g}, gamma={gamma:g}")
      ax1.loglog(c.ns, gates.predicted_line(c.ns, mean, max(2 * (gamma - rho), -1.0)), "--",
                 color=line.get_color(), alpha=0.6)
    _n_axis(ax1, c.ns)
    ax1.set(xlabel="n", ylabel="ridgeless variance (H^gamma)",
            title="E1.1 variance; dashed: predicted slope")
    ax1.legend(fontsize=7)
    xs = np.linspace(-2.5, 1.0, 200)
    ax2.plot(xs, np.maximum(2 * xs, -1.0), "k-", label="max(2(gamma-rho), -1)")
    for (rho, gamma), fit in fits.items():
      ax2.errorbar(gamma - rho, fit.slope, yerr=[[fit.slope - fit.low], [fit.high - fit.slope]],
                   fmt="o", capsize=3)
      ax2.annotate(f"({rho:g},{gamma:g})", (gamma - rho, fit.slope), fontsize=6,
                   xytext=(3, 3), textcoords="offset points")
    ax2.set(xlabel="gamma - rho", ylabel="variance exponent",
            title="phase diagram: benign / tempered / catastrophic")
    ax2.axhline(0, color="grey", lw=0.5)
    ax2.legend(fontsize=7)
    st.wd.save_figure(fig, "phase_diagram")
  if "oracle" in f or "independence" in f or "smoothing" in f:
    fig, axes = plotting.figure(1, 3)
    if "oracle" in f:
      ax = axes[0]
      for b, (ns, cur) in f["oracle"].items():
        line, = ax.loglog(ns, cur["err_star"], "o-", label=f"oracle ridge, b={b}")
        ax.loglog(ns, cur["de_err_star"], ":", color=line.get_color())
        ax.loglog(ns, gates.predicted_line(ns, cur["err_star"], -2 * c.r_s / (2 * c.r_s + 0.5)),
                  "--", color=line.get_color(), alpha=0.6)
      ns, cur = f["oracle"][1]
      ax.loglog(ns, cur["total"][..., 0].mean(1), "s-", label="ridgeless, b=1")
      _n_axis(ax, c.ns)
      ax.set(xlabel="n", ylabel="L2 error of u", title="E1.3 (dotted: DE, dashed: predicted)")
      ax.legend(fontsize=7)
    if "independence" in f:
      ax = axes[1]
      for (b, design), v in f["independence"].items():
        for w, rho in enumerate((0.25, 1.0)):
          ax.loglog(c.ns_independence, v[:, :, w].mean(1), "o-" if design == "jittered" else
                    "x:", label=f"b={b} {design}, rho={rho:g}")
      _n_axis(ax, c.ns_independence)
      ax.set(xlabel="n", ylabel="ridgeless variance", title="E1.2 inductive-bias independence")
      ax.legend(fontsize=6)
    if "smoothing" in f:
      ax = axes[2]
      for b, (ns, cur) in f["smoothing"].items():
        line, = ax.loglog(ns, cur["err_star"], "o-", label=f"b={b}")
        ax.loglog(ns, gates.predicted_line(ns, cur["err_star"], -4 / 7 if b == 1 else -0.7),
                  "--", color=line.get_color(), alpha=0.6)
      _n_axis(ax, c.ns)
      ax.set(xlabel="n", ylabel="oracle error", title="E1.5 smoothing operator (rho = -1)")
      ax.legend(fontsize=7)
    st.wd.save_figure(fig, "learning_curves")
  if "bias_variance" in f or "saturation" in f:
    fig, (ax1, ax2) = plotting.figure(1, 2)
    if "bias_variance" in f:
      for rho, lams, bias2, var, de_b, de_v in f["bias_variance"]:
        line, = ax1.loglog(lams[1:], var[1:], "o", ms=3, label=f"variance, rho={rho:g}")
        ax1.loglog(lams[1:], de_v[1:], "-", color=line.get_color(), lw=0.8)
        ax1.axhline(var[0], color=line.get_color(), ls=":", lw=0.8)
        line, = ax1.loglog(lams[1:], bias2[1:], "^", ms=3, label=f"bias^2, rho={rho:g}")
        ax1.loglog(lams[1:], de_b[1:], "-", color=line.get_color(), lw=0.8)
      ax1.set(xlabel="lambda (n lambda on the diagonal)", ylabel="error",
              title=f"E1.6 n={c.bias_variance_n} (lines: DE, dotted: ridgeless)")
      ax1.legend(fontsize=6)
    if "saturation" in f:
      for label, lams, bias2, de_b, predicted in f["saturation"]:
        line, = ax2.loglog(lams, bias2, "o-", ms=3, label=label)
        if predicted is not None:
          ax2.loglog(lams, gates.predicted_line(lams, bias2, predicted), "--",
                     color=line.get_color(), alpha=0.5)
        else:
          ax2.loglog(lams, de_b, ":", color=line.get_color())
      ax2.set(xlabel="lambda", ylabel="noise-free bias^2",
              title=f"E1.4 saturation, n={c.saturation_n} (dashed: predicted)")
      ax2.legend(fontsize=5)
    st.wd.save_figure(fig, "bias_variance")


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False) -> dict[str, Any]:
  """Runs `config.studies` and writes config.json, metrics.jsonl (one line per design grid
  point), results.json {"curves", "slopes", "checks", "observations", "failed", "wall_s"} and
  plots/{phase_diagram, learning_curves, bias_variance}.png.

  Args:
    config: the run's `Config`.
    workdir: a `Workdir` or a path (created, or replaced with `overwrite`).

  Returns:
    The results dict.
  """
  return gates.run_studies(config, workdir, overwrite, _Study, STUDIES, _RUNNERS, _plots)


def slope_of_log_boundary(ns) -> float:
  """Effective least-squares log-log slope of n^-1 log n over `ns` (-0.84 over 128..2048)."""
  ns = np.asarray(ns, float)
  return float(np.polyfit(np.log(ns), np.log(np.log(ns) / ns), 1)[0])

