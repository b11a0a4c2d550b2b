"""Figures in one style, without pyplot's global state (no backend needed; safe in scripts,
tests and notebooks). Every study's plots.py draws through these helpers; nothing here touches
`matplotlib.rcParams`.

  fig, (ax1, ax2) = figure(1, 2)
  ax1.plot(n, err, "o-", label="KRR")
  ax1.set(xlabel="n (training points)", ylabel="test error (MSE)")
  log_axis(ax1, ticks=n)                    # log x labelled at the sizes
  finish(ax1, ax2)                          # legends (where there are labels), light grids
  unlabelled(fig)                           # [] when every drawn axes has both labels
  workdir.save_figure(fig, "curves")        # plots/curves.png (200 dpi) and curves.pdf

The style, in one place:
- axis labels name the quantity and its unit (or "(log scale)" context in the label where
  that matters); legends use the paper's names (`names(...)` maps code names to them);
- bar charts start at 0 (`bar_axis`), or mark a broken axis;
- PNG at 200 dpi plus a vector PDF (`jaxlab.experiment.workdir.Workdir.save_figure`);
- `preview(png)` gives notebooks a down-scaled copy to embed, so saved notebooks stay small.
"""

from __future__ import annotations

import io
from typing import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

LEGEND_FONTSIZE = 7
GRID_ALPHA = 0.3


def figure(nrows: int = 1, ncols: int = 1, *, panel_size: tuple[float, float] = (4.5, 3.5)):
  """A new `Figure` and its axes: one `Axes` if 1x1, else a flat array of them."""
  fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
  axes = fig.subplots(nrows, ncols, squeeze=False)
  return fig, (axes[0, 0] if nrows * ncols == 1 else np.ravel(axes))


def legend(ax: Axes, **kwargs) -> None:
  """The shared legend (small, framed) on `ax`, drawn only when some artist has a label."""
  handles, _ = ax.get_legend_handles_labels()
  if handles:
    ax.legend(**{"fontsize": LEGEND_FONTSIZE, **kwargs})


def finish(*axes: Axes | Iterable[Axes], grid: bool = True) -> None:
  """Legend (where labelled and not drawn yet) and a light grid on every axes given (axes or
  arrays of them)."""
  for ax in _flat(axes):
    if ax.get_legend() is None:
      legend(ax)
    if grid:
      ax.grid(alpha=GRID_ALPHA)


def log_axis(ax: Axes, ticks: Sequence[float] | None = None, *, axis: str = "x") -> None:
  """A log-scale `axis` ("x" or "y") without minor tick labels, labelled at `ticks` if given
  (e.g. the sample sizes of a sweep)."""
  getattr(ax, f"set_{axis}scale")("log")
  scale_axis = getattr(ax, f"{axis}axis")
  scale_axis.set_minor_formatter(NullFormatter())
  if ticks is not None:
    getattr(ax, f"set_{axis}ticks")(list(ticks), [f"{t:g}" for t in ticks])


def bar_axis(ax: Axes, top: float | None = None) -> None:
  """Bar charts start at 0: sets the y-axis to [0, top] (top: matplotlib's choice if None)."""
  ax.set_ylim(0.0, top)


def names(codes: Iterable[str], table: Mapping[str, str]) -> list[str]:
  """The paper's names of `codes` (code names missing from `table` are kept)."""
  return [table.get(c, c) for c in codes]


def unlabelled(fig: Figure) -> list[str]:
  """The axes of `fig` that draw something but lack an x or y label, as "title: x/y" strings
  (a test asserts this is empty; an image panel counts like any other)."""
  missing = []
  for i, ax in enumerate(fig.axes):
    if not ax.has_data() or not ax.axison:
      continue
    for which, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
      if not label.strip():
        missing.append(f"{ax.get_title() or f'axes {i}'}: {which}")
  return missing


def preview_png(png_path: str, max_width: int = 1400, colors: int = 128) -> bytes:
  """The PNG at `png_path` scaled down to at most `max_width` pixels wide and to a palette of
  `colors` colours (about 4x smaller for line plots), as PNG bytes."""
  from PIL import Image  # pylint: disable=import-outside-toplevel
  with Image.open(png_path) as img:
    if img.width > max_width:
      img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
    buf = io.BytesIO()
    img.convert("RGB").quantize(colors=colors).save(buf, format="PNG", optimize=True)
  return buf.getvalue()


def preview(png_path: str, max_width: int = 1400, colors: int = 128):
  """`preview_png` as an `IPython.display.Image`: what a notebook embeds (the workdir keeps
  the 200 dpi original)."""
  from IPython.display import Image  # pylint: disable=import-outside-toplevel
  return Image(data=preview_png(png_path, max_width, colors), format="png")


def _flat(items) -> list[Axes]:
  out = []
  for item in items:
    if isinstance(item, Axes):
      out.append(item)
    else:
      out.extend(_flat(np.ravel(item)))
  return out
