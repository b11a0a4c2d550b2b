"""Figures of the krr_inverse study, drawn from results.json (its curves and slopes):

  plots/phase_diagram     E1.1 ridgeless variance against n, measured exponents vs predicted
  plots/learning_curves   E1.3 oracle curves, E1.2 inductive-bias independence, E1.5
  plots/bias_variance     E1.6 bias^2 and variance against lambda, E1.4 saturation
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir, gates
from jaxlab.papers.krr_inverse import bias_variance as bias_variance_lib
from jaxlab.papers.krr_inverse import oracle as oracle_lib
from jaxlab.papers.krr_inverse import saturation as saturation_lib
from jaxlab.papers.krr_inverse import variance
from jaxlab.papers.krr_inverse.config import Config


def points(results: dict[str, Any], **match: Any) -> list[dict[str, Any]]:
  """The curves entries whose fields equal `match`, in order."""
  return [c for c in results["curves"] if all(c.get(k) == v for k, v in match.items())]


def column(rows: list[dict[str, Any]], field: str) -> np.ndarray:
  return np.array([r[field] for r in rows], dtype=float)


def slope_entry(results: dict[str, Any], name: str) -> dict[str, Any]:
  return next(s for s in results["slopes"] if s["name"] == name)


N_LABEL = "n (design points)"
LAM_LABEL = r"ridge $\lambda$ ($n\lambda$ on the Gram diagonal)"


def _pair(rho: float, gamma: float) -> str:
  return rf"$\rho$={rho:g}, $\gamma$={gamma:g}"


def _n_axis(ax, ns):
  """Log axis labelled at the sample sizes only."""
  plotting.log_axis(ax, ns)


def plot_phase(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  ns = config.ns
  fig, (ax1, ax2) = plotting.figure(1, 2)
  for rho, gamma in variance.PHASE_PAIRS[:5]:
    mean = column(points(results, study="E1.1", rho=rho, gamma=gamma), "variance")
    line, = ax1.loglog(ns, mean, "o-", label=_pair(rho, gamma))
    ax1.loglog(ns, gates.predicted_line(ns, mean, max(2 * (gamma - rho), -1.0)), "--",
               color=line.get_color(), alpha=0.6)
  _n_axis(ax1, ns)
  ax1.set(xlabel=N_LABEL, ylabel=r"ridgeless variance ($H^\gamma$ norm$^2$)",
          title="E1.1 variance; dashed: predicted slope")
  xs = np.linspace(-2.5, 1.0, 200)
  ax2.plot(xs, np.maximum(2 * xs, -1.0), "k-", label=r"predicted max(2($\gamma-\rho$), -1)")
  for rho, gamma in variance.PHASE_PAIRS:
    s = slope_entry(results, variance.phase_slope_name(rho, gamma))
    low, high = s["ci"]
    ax2.errorbar(gamma - rho, s["measured"], yerr=[[s["measured"] - low], [high - s["measured"]]],
                 fmt="o", capsize=3)
    ax2.annotate(f"({rho:g},{gamma:g})", (gamma - rho, s["measured"]), fontsize=6,
                 xytext=(3, 3), textcoords="offset points")
  ax2.set(xlabel=r"$\gamma - \rho$", ylabel="variance exponent in n (log-log slope)",
          title="phase diagram: benign / tempered / catastrophic")
  ax2.axhline(0, color="grey", lw=0.5)
  plotting.finish(ax1, ax2, grid=False)
  wd.save_figure(fig, "phase_diagram")


def _oracle_panel(ax, config: Config, results: dict[str, Any]) -> None:
  predicted = -2 * config.r_s / (2 * config.r_s + 0.5)
  for b in (1, 2):
    ns = oracle_lib.oracle_ns(config, b)
    s = slope_entry(results, oracle_lib.oracle_slope_name(b))
    line, = ax.loglog(ns, s["oracle_errors"], "o-", label=f"oracle ridge, b = {b}")
    ax.loglog(ns, s["de_oracle_errors"], ":", color=line.get_color())
    ax.loglog(ns, gates.predicted_line(ns, s["oracle_errors"], predicted), "--",
              color=line.get_color(), alpha=0.6)
  ridgeless = points(results, study="E1.3", b=1, lam=0.0)
  ax.loglog(column(ridgeless, "n"), column(ridgeless, "total"), "s-", label="ridgeless, b = 1")
  _n_axis(ax, config.ns)
  ax.set(xlabel=N_LABEL, ylabel=r"error $\|\hat u - u^*\|^2_{L^2}$",
         title="E1.3 (dotted: det. equivalent, dashed: predicted)")


def _independence_panel(ax, config: Config, results: dict[str, Any]) -> None:
  for b, design in variance.INDEPENDENCE_VARIANTS:
    for rho in variance.INDEPENDENCE_RHOS:
      rows = points(results, study="E1.2", b=b, design=design, rho=rho)
      ax.loglog(config.ns_independence, column(rows, "variance"),
                "o-" if design == "jittered" else "x:", label=rf"b = {b}, {design}, $\rho$={rho:g}")
  _n_axis(ax, config.ns_independence)
  ax.set(xlabel=N_LABEL, ylabel=r"ridgeless variance ($L^2$ norm$^2$)",
         title="E1.2 inductive-bias independence")


def _smoothing_panel(ax, config: Config, results: dict[str, Any]) -> None:
  for b, predicted in oracle_lib.SMOOTHING_PREDICTED.items():
    # The oracle error per n: the smallest design-mean total over the positive ridges.
    err = np.array([column([r for r in points(results, study="E1.5", b=b, n=n)
                            if r["lam"] > 0], "total").min() for n in config.ns])
    line, = ax.loglog(config.ns, err, "o-", label=f"b = {b}")
    ax.loglog(config.ns, gates.predicted_line(config.ns, err, predicted), "--",
              color=line.get_color(), alpha=0.6)
  _n_axis(ax, config.ns)
  ax.set(xlabel=N_LABEL, ylabel=r"oracle-ridge error ($L^2$ norm$^2$)",
         title=r"E1.5 smoothing operator ($\rho$ = -1)")


def plot_learning_curves(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  fig, axes = plotting.figure(1, 3)
  for ax, (part, panel) in zip(axes, (("oracle", _oracle_panel),
                                      ("bias_independence", _independence_panel),
                                      ("smoothing", _smoothing_panel))):
    if part in config.studies:
      panel(ax, config, results)
    else:
      ax.set_axis_off()
  plotting.finish(axes, grid=False)
  wd.save_figure(fig, "learning_curves")


def _bias_variance_panel(ax, config: Config, results: dict[str, Any]) -> None:
  for rho in bias_variance_lib.RHOS:
    rows = points(results, study="E1.6", rho=rho)
    lams, var, bias2 = column(rows, "lam"), column(rows, "variance"), column(rows, "bias2")
    line, = ax.loglog(lams[1:], var[1:], "o", ms=3, label=rf"variance, $\rho$={rho:g}")
    ax.loglog(lams[1:], column(rows, "de_variance")[1:], "-", color=line.get_color(), lw=0.8)
    ax.axhline(var[0], color=line.get_color(), ls=":", lw=0.8)
    line, = ax.loglog(lams[1:], bias2[1:], "^", ms=3, label=rf"bias$^2$, $\rho$={rho:g}")
    ax.loglog(lams[1:], column(rows, "de_bias2")[1:], "-", color=line.get_color(), lw=0.8)
  ax.set(xlabel=LAM_LABEL, ylabel=r"error ($L^2$ norm$^2$)",
         title=f"E1.6 n = {config.bias_variance_n} (lines: det. equivalent, dotted: "
               "ridgeless)")


def _saturation_panel(ax, config: Config, results: dict[str, Any]) -> None:
  for row in saturation_lib.ROWS:
    design = saturation_lib.gated_design(config, row)
    rows = points(results, study="E1.4", b=row.b, rho=row.rho, r_s=row.r_s, design=design)
    lams, bias2 = column(rows, "lam"), column(rows, "bias2")
    line, = ax.loglog(lams, bias2, "o-", ms=3,
                      label=rf"b={row.b}, $\rho$={row.rho:g}, $r_s$={row.r_s:g}, {design}")
    if row.predicted is not None:
      ax.loglog(lams, gates.predicted_line(lams, bias2, row.predicted), "--",
                color=line.get_color(), alpha=0.5)
    else:
      ax.loglog(lams, column(rows, "de_bias2"), ":", color=line.get_color())
  ax.set(xlabel=LAM_LABEL, ylabel=r"noise-free bias$^2$ ($L^2$ norm$^2$)",
         title=f"E1.4 saturation, n = {config.saturation_n} (dashed: predicted)")
  plotting.legend(ax, fontsize=5)


def plot_bias_variance(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  fig, (ax1, ax2) = plotting.figure(1, 2)
  if "bias_variance" in config.studies:
    _bias_variance_panel(ax1, config, results)
  if "saturation" in config.studies:
    _saturation_panel(ax2, config, results)
  for ax, part in ((ax1, "bias_variance"), (ax2, "saturation")):
    if part not in config.studies:
      ax.set_axis_off()
  plotting.finish(ax1, ax2, grid=False)
  wd.save_figure(fig, "bias_variance")


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  """The figures of the parts that ran."""
  ran = set(config.studies)
  if "phase" in ran:
    plot_phase(config, results, wd)
  if ran & {"oracle", "bias_independence", "smoothing"}:
    plot_learning_curves(config, results, wd)
  if ran & {"bias_variance", "saturation"}:
    plot_bias_variance(config, results, wd)
