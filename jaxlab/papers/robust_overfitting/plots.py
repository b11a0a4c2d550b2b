"""Figures of the robust-overfitting study (plots/*.png and .pdf).

  plot_all(config, results, wd)       # every figure of the parts in results
  fig = construction_1d(c, x, y, window=(0.1, 0.2))   # a picture of the 1D construction

robust_gap: the robust gap against delta (one line per n) and against n (one line per delta);
errors_vs_w: the interpolating family; perturbation_level: the extra disagreement at
delta = w = c/n and c/n^1.5 with 4 p c rho; regression: excess MSE against n with the -0.8
line and the fixed-w plateau; pgd_at_contrast: the PGD-AT curves against the construction;
construction_1d / construction_2d: pictures of one construction.
"""

from __future__ import annotations

from typing import Any

import jax
import matplotlib.patches
import numpy as np

from jaxlab import plotting
from jaxlab.experiment import gates
from jaxlab.experiment.workdir import Workdir
from jaxlab.papers.robust_overfitting import construction, data


N_LABEL = "n (training points)"


def _errorbar(ax, x, rows, key, **kw):
  ax.errorbar(x, [r[key] for r in rows], yerr=[r[key + "_se"] for r in rows], capsize=2, **kw)


def _log_x(ax) -> None:
  plotting.log_axis(ax)


def robust_gap(summary: dict[str, list[dict[str, Any]]], noise: float):
  """Robust gap against delta per n and against n per delta, and the delta-dependent part:
  the extra robust error over the optimum p, with the adversarial training error (P4-A)."""
  rows = summary["gap"]
  fig, (ax1, ax2, ax3) = plotting.figure(1, 3)
  for n in sorted({r["n"] for r in rows}):
    at = sorted((r for r in rows if r["n"] == n), key=lambda r: r["delta"])
    _errorbar(ax1, [r["delta"] for r in at], at, "robust_gap", marker="o", label=f"n = {n}")
  for i, delta in enumerate(sorted({r["delta"] for r in rows})):
    at = sorted((r for r in rows if r["delta"] == delta), key=lambda r: r["n"])
    ns = [r["n"] for r in at]
    _errorbar(ax2, ns, at, "robust_gap", marker="o", label=rf"$\delta$ = w = {delta:g}")
    ax3.plot(ns, [r["robust_error"] - noise for r in at], "o-", color=f"C{i}",
             label=rf"$\delta$ = {delta:g}")
    ax3.plot(ns, [max(r["adv_train_error"], 1e-7) for r in at], "x:", color=f"C{i}")
  for ax, xlabel in ((ax1, r"perturbation radius $\delta$ (w = $\delta$)"), (ax2, N_LABEL)):
    ax.axhline(noise, color="gray", ls="--", lw=1, label="p (optimal robust error)")
    ax.set(xlabel=xlabel, ylabel="robust gap (test - adv. train error)")
  ax1.set_title(r"robust gap vs $\delta$")
  ax2.set_title(r"robust gap vs n at fixed $\delta$")
  ax3.set(yscale="log", xlabel=N_LABEL, ylabel="robust error - p (o); adv. train error (x)",
          title=r"extra robust error at fixed $\delta$")
  for ax in (ax1, ax2, ax3):
    _log_x(ax)
  plotting.finish(ax1, ax2, ax3)
  return fig


def errors_vs_w(summary):
  """Errors of the interpolating family against w, one line style per margin (P4-A)."""
  rows = summary["family"]
  fig, axes = plotting.figure(1, 3)
  for margin in sorted({r["margin"] for r in rows}):
    at = sorted((r for r in rows if r["margin"] == margin), key=lambda r: r["w"])
    ws = [r["w"] for r in at]
    for ax, key in zip(axes, ("disagreement", "robust_error", "adv_train_error")):
      _errorbar(ax, ws, at, key, marker="o", label=f"margin {margin:g}")
  for ax, key in zip(axes, ("Bayes disagreement", "robust test error",
                            "adversarial training error")):
    ax.set(xlabel="bump width w", ylabel=f"{key} (probability)", title=key)
    _log_x(ax)
  plotting.finish(axes)
  return fig


def perturbation_level(summary, cfg):
  """Extra disagreement at delta = w = c/n and c/n^1.5 against n (P4-A)."""
  fig, ax = plotting.figure()
  for name, label in (("level_1/n", r"$\delta$ = w = c/n"),
                      ("level_1/n^1.5", r"$\delta$ = w = c/n$^{1.5}$")):
    rows = sorted(summary[name], key=lambda r: r["n"])
    _errorbar(ax, [r["n"] for r in rows], rows, "disagreement", marker="o", label=label)
  limit = 4 * cfg.bands.noise * cfg.level_c * data.density(cfg.bands)
  ax.axhline(limit, color="gray", ls="--", label=r"4 p c $\rho$")
  rows = sorted(summary["level_1/n^1.5"], key=lambda r: r["n"])
  ns = [r["n"] for r in rows]
  ax.plot(ns, gates.predicted_line(ns, [r["disagreement"] for r in rows], -0.5), "k:",
          label="slope -1/2")
  ax.set(yscale="log", xlabel=N_LABEL, ylabel="Bayes disagreement (probability)",
         title="perturbation level")
  _log_x(ax)
  plotting.finish(ax)
  return fig


def regression_rate(result, fixed_w: float):
  """Excess MSE against n: g_n, the interpolant, the fixed-w interpolant (P4-C)."""
  ns, curves = result["ns"], result["curves"]
  fig, ax = plotting.figure()
  ax.plot(ns, curves["excess_h"], "o-", label=r"interpolating h ($\delta$ = w = $n^{-2.5}$)")
  ax.plot(ns, curves["excess_g"], "s--", label=r"$g_n$ (least squares)", alpha=0.7)
  ax.plot(ns, curves["excess_fixed_w"], "^-", label=f"interpolating h, fixed w = {fixed_w:g}")
  ax.plot(ns, gates.predicted_line(ns, curves["excess_h"], -0.8), "k:", label="slope -0.8")
  ax.set(yscale="log", xlabel=N_LABEL, ylabel=r"excess MSE $E(h - f^*)^2$",
         title="regression rate")
  _log_x(ax)
  plotting.finish(ax)
  return fig


def pgd_at_contrast(result, noise: float):
  """Exact robust train / test accuracy of the PGD-trained MLP against epochs, PGD's robust
  training accuracy, and the construction's numbers (P4-D)."""
  curve = result["curve"]
  epochs = [p["epoch"] for p in curve]
  fig, ax = plotting.figure(panel_size=(6.0, 4.0))
  ax.plot(epochs, [p["robust_train_acc"] for p in curve], "o-", label="MLP robust train (exact)")
  ax.plot(epochs, [p["robust_train_acc_pgd"] for p in curve], "x:", label="MLP robust train (PGD)")
  ax.plot(epochs, [p["robust_test_acc"] for p in curve], "s-", label="MLP robust test (exact)")
  built = result["construction"]
  ax.axhline(built["robust_train_acc"], color="C3", ls="--", label="construction robust train")
  ax.axhline(built["robust_test_acc"], color="C4", ls="--", label="construction robust test")
  ax.axhline(1 - noise, color="gray", ls=":", label="optimal robust test (1 - p)")
  ax.set(xlabel="epoch", ylabel="robust accuracy (fraction)", title="PGD-AT vs the construction")
  plotting.finish(ax)
  return fig


def construction_1d(c: construction.Construction, x: np.ndarray, y: np.ndarray,
                    window: tuple[float, float]):
  """g, h = g + sum kappa_i T_i and the training points with their delta-balls on `window`."""
  h = construction.as_piecewise_linear(c)
  s = data.square_wave(c.bands)
  t = np.union1d(np.linspace(*window, 2001), h.knots[(h.knots >= window[0]) &
                                                    (h.knots <= window[1])])
  fig, ax = plotting.figure(panel_size=(8.0, 3.5))
  ax.plot(t, s(t), color="gray", lw=1.5, label="g (robust approximator)")
  ax.plot(t, h(t), color="C0", lw=1, label="h = g + sum kappa_i T_i")
  inside = (x[:, 0] >= window[0]) & (x[:, 0] <= window[1])
  delta = c.bumps.delta
  for xi, yi in zip(x[inside, 0], y[inside]):
    color = "C2" if yi > 0 else "C3"
    ax.plot([xi - delta, xi + delta], [yi * 1.15] * 2, color=color, lw=3, alpha=0.6)
    ax.plot(xi, yi * 1.15, "o", color=color, ms=3)
  ax.axhline(0, color="k", lw=0.5)
  ax.set(xlim=window, xlabel="input x", ylabel="h(x) (classifier output)",
         title=rf"1D construction ($\delta$ = {delta:g}, w = {c.bumps.w:g}; bars: "
               r"$\delta$-balls, green y = +1, red y = -1)")
  plotting.legend(ax, loc="lower left")
  return fig


def construction_2d(c: construction.Construction, x: np.ndarray, y: np.ndarray,
                    window: float = 0.03, num: int = 401):
  """sign h on a square of half-side `window` around the first bump, with the training points
  and their l-inf delta-balls (P4-B)."""
  centre = c.bumps.centres[0] if len(c.fit) else np.full(2, 0.5)
  grid = np.linspace(-window, window, num)
  pts = np.stack(np.meshgrid(centre[0] + grid, centre[1] + grid), -1).reshape(-1, 2)
  h = construction.value(c, np.clip(pts, 0, 1)).reshape(num, num)
  fig, ax = plotting.figure(panel_size=(4.5, 4.0))
  extent = (centre[0] - window, centre[0] + window, centre[1] - window, centre[1] + window)
  ax.imshow(np.sign(h), origin="lower", cmap="coolwarm", vmin=-2, vmax=2, extent=extent)
  near = np.all(np.abs(x - centre) < window, axis=1)
  delta = c.bumps.delta
  for xi, yi in zip(x[near], y[near]):
    color = "darkred" if yi > 0 else "navy"
    ax.add_patch(matplotlib.patches.Rectangle(xi - delta, 2 * delta, 2 * delta, fill=False,
                                              ec=color, lw=1))
    ax.plot(*xi, ".", color=color, ms=4)
  ax.set(title=r"sign h near a bump (red +1); training points and $\delta$-balls",
         xlabel="input coordinate $x_1$", ylabel="input coordinate $x_2$", xlim=extent[:2],
         ylim=extent[2:])
  return fig


def plot_all(config, results: dict[str, Any], wd: Workdir) -> None:
  """Every figure whose part is in `results`."""
  key_1d, key_2d = jax.random.split(jax.random.key(config.seed))
  if results.get("classification_1d") is not None:
    cfg = config.classification_1d
    summary = results["classification_1d"]["summary"]
    wd.save_figure(robust_gap(summary, cfg.bands.noise), "robust_gap")
    wd.save_figure(errors_vs_w(summary), "errors_vs_w")
    wd.save_figure(perturbation_level(summary, cfg), "perturbation_level")
    wd.save_figure(picture_1d(cfg, key_1d), "construction_1d")
  if results.get("classification_2d") is not None:
    cfg = config.classification_2d
    x, _, y = data.sample(key_2d, cfg.n, cfg.bands, dim=2)
    c = construction.classifier(x, y, cfg.bands, delta=cfg.delta, w=cfg.w, margin=cfg.margin)
    wd.save_figure(construction_2d(c, x, y, window=10 * (cfg.delta + cfg.w)), "construction_2d")
  if results.get("regression") is not None:
    wd.save_figure(regression_rate(results["regression"], config.regression.fixed_w),
                   "regression")
  if results.get("pgd_at_contrast") is not None:
    wd.save_figure(pgd_at_contrast(results["pgd_at_contrast"],
                                   config.pgd_at_contrast.bands.noise), "pgd_at_contrast")


def picture_1d(cfg, key: jax.Array, n: int = 48, width: float = 2e-3):
  """A small 1D construction (n points drawn with `key`, delta = w = `width`) drawn on a
  window around one bump."""
  x, _, y = data.sample(key, n, cfg.bands, dim=1)
  c = construction.classifier(x, y, cfg.bands, delta=width, w=width, margin=cfg.margin)
  centre = c.bumps.centres[0, 0] if len(c.fit) else 0.5
  return construction_1d(c, x, y, (centre - 0.04, centre + 0.04))
