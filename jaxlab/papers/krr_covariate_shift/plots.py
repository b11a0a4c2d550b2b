"""Figures of the krr_covariate_shift study, drawn from results.json and metrics.jsonl:

  plots/bias_variance           E2.3 bias^2 and variance under q against n lambda, per d
  plots/linearization_spectra   E2.1 errors against d, E2.5 spectra, E2.4 flip against h
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir, gates
from jaxlab.papers.krr_covariate_shift import linearization as linearization_lib
from jaxlab.papers.krr_covariate_shift.config import Config
from jaxlab.papers.krr_covariate_shift.exploration import BY_H_NAME

ESTIMATORS = (("krr", "o-"), ("iw", "s-"), ("krr_lin", "--"), ("iw_lin", ":"))
# The paper's names of the estimators and linearisation errors (legends).
ESTIMATOR_NAMES = {"krr": "KRR", "iw": "IW-KRR", "krr_lin": "KRR, linearised kernel",
                   "iw_lin": "IW-KRR, linearised kernel"}
MEASURE_NAMES = {"op_population": r"$\|K - K^{lin}\|_{op}$ (population)",
                 "op_empirical": r"$\|K - K^{lin}\|_{op}$ (empirical)",
                 "test_rms": "test predictions (RMS)"}
H_NAMES = {"exp": r"$e^t$", "cubic": r"$(1 + t)^3$", "exp_half": r"$e^{t/2}$"}
NLAM_LABEL = r"$n\lambda$ (ridge; 0 drawn at the left edge)"


def points(results: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
  """The curves entries whose fields equal `match`, in order."""
  return [c for c in results["curves"] if all(c.get(k) == v for k, v in match.items())]


def column(rows: list[dict[str, Any]], field: str) -> np.ndarray:
  return np.array([r[field] for r in rows], dtype=float)


def nlam_axis(config: Config) -> np.ndarray:
  """The n lambda grid with n lambda = 0 drawn at the left edge (a quarter of the next)."""
  x = np.asarray(config.nlams)
  return np.where(x > 0, x, x[1] / 4)


def plot_bias_variance(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  ds = sorted(config.ds)
  fig, axes = plotting.figure(2, len(ds), panel_size=(4.0, 3.2))
  axes = np.reshape(axes, (2, len(ds)))
  xp = nlam_axis(config)
  for col, d in enumerate(ds):
    for name, style in ESTIMATORS:
      rows = points(results, study="E2.3", d=d, estimator=name)
      if rows:
        label = ESTIMATOR_NAMES[name]
        axes[0, col].semilogx(xp, column(rows, "bias2"), style, ms=3, label=label)
        axes[1, col].loglog(xp, column(rows, "variance"), style, ms=3, label=label)
    axes[0, col].axhline(0.5, color="grey", lw=0.6, ls=":", label="intrinsic bias 0.5")
    axes[0, col].set(title=f"bias$^2$ under q, d = {d}", xlabel=NLAM_LABEL,
                     ylabel="bias$^2$ under q (squared error)")
    axes[1, col].set(title=f"variance under q, d = {d}", xlabel=NLAM_LABEL,
                     ylabel="variance under q (squared error)")
  plotting.finish(axes, grid=False)
  wd.save_figure(fig, "bias_variance")


def _linearization_panel(ax, config: Config, results: dict[str, Any], wd: Workdir) -> None:
  ds = config.ds_linearization
  for m in linearization_lib.MEASURES:
    values = column(points(results, study="E2.1", measure=m.name), "value")
    slope = next(s for s in results["slopes"] if s["name"] == linearization_lib.slope_name(m))
    line, = ax.loglog(ds, values, "o-",
                      label=f"{MEASURE_NAMES.get(m.name, m.name)} (slope "
                            f"{slope['measured']:.2f})")
    ax.loglog(ds, gates.predicted_line(ds, values, m.slope), "--", color=line.get_color(),
              alpha=0.5)
  plotting.log_axis(ax, ds)
  ax.set(xlabel="d (input dimension; n = 2d)", ylabel="linearisation error",
         title="E2.1 linearisation (dashed: predicted)")


def _spectra_panel(ax, config: Config, results: dict[str, Any], wd: Workdir) -> None:
  line = next(m for m in wd.read_metrics() if m.get("study") == "E2.5")
  ev_k, ev_w = np.asarray(line["eigenvalues_k"]), np.asarray(line["eigenvalues_wkw"])
  gamma_imp = results["observations"][f"E2.5 spectra (d = {line['d']})"]["gamma_imp"]
  r = np.arange(1, len(ev_k) + 1)
  ax.loglog(r, ev_k[::-1], label="K")
  ax.loglog(r, ev_w[::-1], label=r"$W^{1/2} K W^{1/2}$")
  ax.axhline(gamma_imp, color="grey", ls=":", label=r"$\gamma_{imp}$")
  ax.set(xlabel="eigenvalue rank", ylabel="eigenvalue", title=f"E2.5 spectra, d = {line['d']}")


def _exploration_panel(ax, config: Config, results: dict[str, Any], wd: Workdir) -> None:
  for name, v in results["observations"][BY_H_NAME].items():
    ax.semilogx(nlam_axis(config), v["var_ratio_iw_krr"], "o-", ms=3,
                label=rf"h(t) = {H_NAMES.get(name, name)}, $\gamma_{{imp}}$ = {v['gamma_imp']:.3g}")
  ax.axhline(1.0, color="grey", lw=0.6)
  ax.set(xlabel=NLAM_LABEL, ylabel="variance ratio IW-KRR / KRR",
         title=rf"E2.4 flip against $\gamma_{{imp}}$, d = {config.explore_d}")


def plot_linearization_spectra(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  fig, axes = plotting.figure(1, 3)
  for ax, (part, panel) in zip(axes, (("linearization", _linearization_panel),
                                      ("spectra", _spectra_panel),
                                      ("exploration", _exploration_panel))):
    if part in config.studies:
      panel(ax, config, results, wd)
    else:
      ax.set_axis_off()
  plotting.finish(axes, grid=False)
  wd.save_figure(fig, "linearization_spectra")


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  """The figures of the parts that ran."""
  ran = set(config.studies)
  if "bias_variance" in ran:
    plot_bias_variance(config, results, wd)
  if ran & {"linearization", "spectra", "exploration"}:
    plot_linearization_spectra(config, results, wd)
