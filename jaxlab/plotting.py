"""Figures without pyplot's global state (no backend needed; safe in scripts and notebooks).

  fig, (ax1, ax2) = figure(1, 2)
  ax1.plot(...)
  workdir.save_figure(fig, "curves")        # plots/curves.png
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def figure(nrows: int = 1, ncols: int = 1, *, panel_size: tuple[float, float] = (4.5, 3.5)):
  """A new `Figure` and its axes: one `Axes` if 1x1, else a flat array of them."""
  fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
  axes = fig.subplots(nrows, ncols, squeeze=False)
  return fig, (axes[0, 0] if nrows * ncols == 1 else np.ravel(axes))
