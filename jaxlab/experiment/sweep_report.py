"""Aggregate a sweep over seeds: mean +- std per grid point, as JSON, markdown and a plot.

  rows = aggregate(records, grid_keys=["learning_rate", "seed"])
  rows[0]   # {"group": {"learning_rate": "1e-3"}, "n": 3,
            #  "metrics": {"test_acc": {"mean": 0.95, "std": 0.004, "n": 3}, ...}}
  print(markdown(rows))
  write_report(Workdir(sweep_dir, resume=True))   # report.json, report.md, plots/sweep.*

Points are grouped by every grid flag except the seed flags (`seed`, `*_seed`, `seeds`, ...);
the metrics are the numeric scalars at the top level of each point's results (bookkeeping such
as wall-clock times is left out). The standard deviation is the sample one (ddof = 1; 0 for a
single seed).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from jaxlab import plotting
from jaxlab.experiment import sweep
from jaxlab.experiment.config import is_seed_field
from jaxlab.experiment.workdir import Workdir, _atomic_write_json

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
_BOOKKEEPING = ("wall_s", "epochs", "num_params")


def _metrics(result: Mapping[str, Any]) -> dict[str, float]:
  out = {}
  for name, value in result.items():
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      continue
    if name in _BOOKKEEPING or name.endswith("_s"):
      continue
    out[name] = float(value)
  return out


def aggregate(records: Sequence[Mapping[str, Any]], grid_keys: Sequence[str]
              ) -> list[dict[str, Any]]:
  """Mean, std and count of every metric per group of points that differ only in seeds, in
  the order the groups first appear in `records`."""
  group_keys = [k for k in grid_keys if not is_seed_field(k.rpartition(".")[2])]
  groups: dict[tuple, list[dict[str, float]]] = {}
  for record in records:
    if "result" not in record:
      continue
    key = tuple((k, record["point"].get(k)) for k in group_keys)
    groups.setdefault(key, []).append(_metrics(record["result"]))
  rows = []
  for key, runs in groups.items():
    names = sorted(set().union(*runs))
    metrics = {}
    for name in names:
      values = np.array([r[name] for r in runs if name in r and math.isfinite(r[name])])
      if values.size:
        metrics[name] = {"mean": float(values.mean()),
                         "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                         "n": int(values.size)}
    rows.append({"group": dict(key), "n": len(runs), "metrics": metrics})
  return rows


def markdown(rows: Sequence[Mapping[str, Any]]) -> str:
  """A markdown table: one row per group, `mean +- std` per metric and the number of seeds."""
  if not rows:
    return "(no finished points)\n"
  keys = list(rows[0]["group"])
  names = sorted(set().union(*(r["metrics"] for r in rows)))
  lines = ["| " + " | ".join(keys + ["seeds"] + names) + " |",
           "|" + "---|" * (len(keys) + 1 + len(names))]
  for r in rows:
    cells = [str(r["group"][k]) for k in keys] + [str(r["n"])]
    for name in names:
      m = r["metrics"].get(name)
      cells.append("" if m is None else f"{m['mean']:.4g} ± {m['std']:.2g}")
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def plot(rows: Sequence[Mapping[str, Any]], axis: str, metric: str, wd: Workdir) -> str | None:
  """plots/sweep: `metric` (mean +- std over seeds) against the grid flag `axis`, one line per
  setting of the other flags; None when there is nothing to plot."""
  usable = [r for r in rows if metric in r["metrics"]]
  if not usable or axis not in usable[0]["group"]:
    return None
  fig, ax = plotting.figure()
  lines: dict[tuple, list] = {}
  for r in usable:
    rest = tuple((k, v) for k, v in r["group"].items() if k != axis)
    lines.setdefault(rest, []).append((r["group"][axis], r["metrics"][metric]))
  for rest, points in lines.items():
    labels = [str(p[0]) for p in points]
    means = [p[1]["mean"] for p in points]
    stds = [p[1]["std"] for p in points]
    label = ", ".join(f"{k}={v}" for k, v in rest) or metric
    ax.errorbar(range(len(points)), means, yerr=stds, marker="o", capsize=3, label=label)
    ax.set_xticks(range(len(points)), labels)
  ax.set(xlabel=axis, ylabel=f"{metric} (mean ± std over seeds)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize="small")
  return wd.save_figure(fig, "sweep")


def write_report(wd: Workdir, grid_keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
  """Reads the sweep in `wd` (sweep.jsonl; the grid from config.json unless given) and writes
  report.json, report.md and plots/sweep (the first non-seed grid flag against the first
  metric); returns the rows."""
  if grid_keys is None:
    grid = wd.read_config()["config"]["grid"]
    grid_keys = [part.partition("=")[0].strip().lstrip("-")
                 for part in grid.split(";") if part.strip()]
  records = list(sweep.read_log(wd.path).values())
  rows = aggregate(records, grid_keys)
  _atomic_write_json(wd.file(REPORT_JSON), {"grid_keys": list(grid_keys), "rows": rows})
  with open(wd.file(REPORT_MD), "w") as f:
    f.write(markdown(rows))
  axes = [k for k in grid_keys if not is_seed_field(k.rpartition(".")[2])]
  names = sorted(set().union(*(r["metrics"] for r in rows))) if rows else []
  preferred = [n for n in ("test_acc", "val_acc", "accuracy", "loss") if n in names]
  if axes and names:
    plot(rows, axes[0], (preferred or names)[0], wd)
  return rows
