"""The shared figure style (`jaxlab.plotting`) and study figures drawn from tiny fake results:
every axes that draws something has both axis labels, legends use the papers' names (no code
names such as `error_trained`), bar charts start at 0, notebook previews are down-scaled."""

import numpy as np
import pytest

from jaxlab import plotting
from jaxlab.papers.charmer import plots as charmer_plots
from jaxlab.papers.meanfield_resnet import plots as meanfield_plots
from jaxlab.papers.robust_overfitting import plots as robust_plots
from jaxlab.papers.shallow_transformer import plots as transformer_plots


def test_unlabelled_finds_a_missing_label_and_skips_empty_axes():
  fig, (ax1, ax2, ax3) = plotting.figure(1, 3)
  ax1.plot([1, 2], [3, 4])
  ax1.set(xlabel="n (points)", ylabel="error")
  ax2.plot([1, 2], [3, 4])
  ax2.set(title="no y", xlabel="n (points)")
  ax3.set_axis_off()
  assert plotting.unlabelled(fig) == ["no y: y"]


def test_helpers_legend_log_axis_and_bars_from_zero(legend_texts):
  fig, (ax1, ax2) = plotting.figure(1, 2)
  ax1.plot([64, 128, 256], [1.0, 0.5, 0.25], label="KRR")
  ax2.bar([0, 1], [0.91, 0.93])
  plotting.log_axis(ax1, [64, 128, 256])
  plotting.bar_axis(ax2)
  plotting.finish(ax1, ax2)
  assert ax1.get_xscale() == "log"
  assert [t.get_text() for t in ax1.get_xticklabels()] == ["64", "128", "256"]
  assert legend_texts(fig) == ["KRR"] and ax2.get_legend() is None  # no labels, no legend
  assert ax2.get_ylim()[0] == 0.0 and ax2.get_ylim()[1] >= 0.93


def test_study_figures_from_fake_results(figure_sink, paper_style, legend_texts):
  wd = figure_sink
  runs = [{"victim": "cnn", "k": k, "clean_acc": 0.8,
           "attacks": {a: {"asr": 0.1 * k, "mean_queries": 100.0 * k}
                       for a in ("charmer", "random_search", "deepwordbug")}} for k in (1, 2)]
  charmer_plots.plot_asr_vs_k(runs, wd)
  limit = [{"varied": v, "depth": d, "width": w, "error_trained": 1.0 / d / w ** 0.5,
            "error_init_features": 2.0 / d / w ** 0.5}
           for v, d, w in (("depth", 2, 64), ("depth", 4, 64), ("width", 4, 16),
                           ("width", 4, 64))]
  gen = [{"n": n, "gap": 1.0 / n, "proxy": n ** -0.5, "train_mse": 1e-3} for n in (16, 64)]
  meanfield_plots.plot_limit_and_generalisation(limit, gen, wd)
  transformer_plots.plot_init_and_width(
      {"gamma_lambda_max": {"lecun": 0.5, "ntk": 1.5}, "width": 32},
      {"lecun": np.geomspace(1, 1e-3, 5), "ntk": np.geomspace(1, 1e-1, 5)},
      [{"n": 5, "width_needed": 16}, {"n": 10, "width_needed": 64}], 2.0, wd)
  ns = [64, 256]
  wd.figures["regression"] = robust_plots.regression_rate(
      {"ns": ns, "curves": {"excess_h": [1e-2, 3e-3], "excess_g": [8e-3, 2e-3],
                            "excess_fixed_w": [1e-2, 9e-3]}}, 0.01)
  assert set(wd.figures) == {"asr_vs_k", "limit_and_generalisation", "init_and_width",
                             "regression"}
  for name, fig in wd.figures.items():
    paper_style(fig, name)
  assert "random search" in legend_texts(wd.figures["asr_vs_k"])


def test_a_code_name_in_a_legend_is_caught(paper_style):
  fig, ax = plotting.figure()
  ax.plot([1, 2], [1, 2], label="mehl_plus")
  ax.set(xlabel="k (ingredients)", ylabel="test accuracy")
  plotting.finish(ax)
  with pytest.raises(AssertionError, match="mehl_plus"):
    paper_style(fig, "bad")


def test_preview_is_down_scaled(tmp_path):
  fig, ax = plotting.figure(panel_size=(4.0, 2.0))
  ax.plot([0, 1], [0, 1])
  path = str(tmp_path / "f.png")
  fig.savefig(path, dpi=100)                                   # 400 x 200 pixels
  data = plotting.preview_png(path, max_width=200)
  width, height = np.frombuffer(data[16:24], ">u4")            # the PNG IHDR fields
  assert (width, height) == (200, 100)
