"""Figures of the path-norm study, drawn from results.json:

  plots/rademacher       R_n of the unit ball against n (log-log) per d with the bound
                         2R / sqrt(n); sqrt(n) R_n against n
  plots/width_sweep      the train-test gap against the width, constrained (R fixed) and
                         unconstrained; path norm and product of layer norms against the width
  plots/learning_curve   excess risk against n per d: network (oracle weight decay), KRR on the
                         same teacher, KRR on a single neuron, with the rate lines
                         n^-(d+2)/(2d+2) (paper) and n^-3/(d+2) (KRR's limit)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxlab import plotting
from jaxlab.experiment import Workdir, gates
from jaxlab.papers.path_norm.config import Config


def plot_rademacher(rad: dict[str, Any], wd: Workdir) -> str:
  fig, (ax1, ax2) = plotting.figure(1, 2)
  for d, r in rad.items():
    n = np.array(r["n"])
    line, = ax1.plot(n, r["R_n"], marker="o",
                     label=f"d={d}: slope {r['slope']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]")
    ax2.plot(n, r["sqrt_n_R_n"], marker="o", color=line.get_color(), label=f"d={d}")
  first = next(iter(rad.values()))
  ax1.plot(first["n"], first["bound"], "k--", label="bound 2R/sqrt(n)")
  ax1.set(xscale="log", yscale="log", xlabel="n", ylabel="R_n (estimate from below)",
          title="Rademacher complexity of the unit path-norm ball")
  ax2.axhspan(0.5, 2.0, color="0.9", label="gate [0.5, 2]")
  ax2.set(xscale="log", xlabel="n", ylabel="sqrt(n) R_n", title="sqrt(n) R_n")
  for ax in (ax1, ax2):
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  return wd.save_figure(fig, "rademacher")


def plot_width_sweep(ws: dict[str, Any], wd: Workdir) -> str:
  fig, (ax1, ax2) = plotting.figure(1, 2)
  widths = np.array(ws["widths"])
  for name, marker in (("constrained", "o"), ("unconstrained", "s")):
    label = f"||theta||_P <= {ws['radius']:g}" if name == "constrained" else "unconstrained"
    line, = ax1.plot(widths, ws[name]["gap"], marker=marker, label=label)
    ax2.plot(widths, ws[name]["path_norm"], marker=marker, color=line.get_color(),
             label=f"path norm, {name}")
    ax2.plot(widths, ws[name]["product_norm"], marker=marker, ls=":", color=line.get_color(),
             label=f"||a||_2 sum ||w_k||, {name}")
  ax1.set(xscale="log", yscale="log", xlabel="width m", ylabel="test MSE - train MSE",
          title=f"gap at d={ws['d']}, n={ws['n']} (bound {ws['bound']:.3f})")
  ax2.set(xscale="log", yscale="log", xlabel="width m", ylabel="norm",
          title="path norm vs product of layer norms")
  for ax in (ax1, ax2):
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
  return wd.save_figure(fig, "width_sweep")


def plot_learning_curves(curve: dict[str, Any], krr: dict[str, Any], wd: Workdir) -> str:
  dims = sorted({*curve, *krr.get("single_neuron", {})}, key=int)
  fig, axes = plotting.figure(1, len(dims))
  for ax, d in zip(np.atleast_1d(axes), dims):
    series = [("network", curve.get(d), "o"),
              ("network, 1000-neuron teacher", curve.get(d, {}).get("worst_case"), "v"),
              ("KRR, same teacher", krr.get("same_teacher", {}).get(d), "s"),
              ("KRR, single neuron", krr.get("single_neuron", {}).get(d), "^")]
    for label, r, marker in series:
      if not r:
        continue
      ax.plot(r["n"], r["geometric_mean"], marker=marker,
              label=f"{label}: slope {r['slope']:.2f} [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]")
    if d in curve:
      r = curve[d]
      ax.plot(r["n"], gates.predicted_line(r["n"], r["geometric_mean"], r["bound_exponent"]),
              "k--", label=f"paper rate n^{r['bound_exponent']:.3f}")
    if d in krr.get("single_neuron", {}):
      r = krr["single_neuron"][d]
      ax.plot(r["n"], gates.predicted_line(r["n"], r["geometric_mean"], r["limit_exponent"]),
              "k:", label=f"KRR limit n^{r['limit_exponent']:.3f}")
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="E (f - f*)^2", title=f"d = {d}")
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
  return wd.save_figure(fig, "learning_curve")


def plots(config: Config, results: dict[str, Any], wd: Workdir) -> None:
  del config
  if results.get("rademacher"):
    plot_rademacher(results["rademacher"], wd)
  if results.get("width_sweep"):
    plot_width_sweep(results["width_sweep"], wd)
  if results.get("learning_curve") or results.get("krr_baseline"):
    plot_learning_curves(results.get("learning_curve", {}), results.get("krr_baseline", {}),
                         wd)


__all__ = ["plots"]
