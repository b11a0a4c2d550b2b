"""P2-A / P2-B of the shallow-Transformer study (arXiv 2311.01575): the empirical NTK and the
attention at initialisation, per (init, tau0, width).

  rows = ntk_init_sweep(config, key, sweep_dir)   # one row per (init, tau0, width)
  attention_slopes(config, rows)                  # {"d_m^-1": about -0.45, "d_m^-1/2": about 0}

Each replicate draws its own data set and weight key and uses them at every width and for
every init (paired comparisons: one normal draw, scaled per scheme, so LeCun and NTK init
compute the same function). The widths run through `jaxlab.experiment.sweep.run_sweep`; the
(init, tau0) grid shares one compiled function per width (`transformer.Scaling` is data).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import gates, sweep
from jaxlab.kernels import spectral
from jaxlab.papers.shallow_transformer import transformer
from jaxlab.papers.shallow_transformer.config import Config
from jaxlab.papers.shallow_transformer.data import sequences

TAU0_LABELS = tuple(transformer.TAU0_LABELS.values())   # ("d_m^-1/2", "d_m^-1")


@jax.jit
def init_stats(params: transformer.Params, x, scale: transformer.Scaling) -> dict[str, Any]:
  """lambda_min, lambda_max of the empirical NTK and the attention deviation at init."""
  values = spectral.eigvalsh(transformer.ntk(params, x, scale))
  return {"lambda_min": values[0], "lambda_max": values[-1],
          "attention_deviation": transformer.attention_uniformity(params, x, scale)}


def select(rows: list[dict[str, Any]], **where) -> list[dict[str, Any]]:
  """The rows whose fields equal `where` (e.g. `init="lecun", tau0="d_m^-1", width=64`)."""
  return [r for r in rows if all(r[k] == v for k, v in where.items())]


def _width_rows(config: Config, width: int, data, replicates) -> list[dict[str, Any]]:
  """The rows of one width: every (init, tau0), averaged over the replicates."""
  inits = config.ntk_init.inits
  per = {(s, t): [] for s in inits for t in transformer.TAU0}
  for x, (_, k_init) in zip(data, replicates):
    for scheme in inits:
      params = transformer.init(k_init, dim=config.dim, width=width, scheme=scheme,
                                dtype=jnp.float64)
      for tau0 in transformer.TAU0:
        scale = transformer.scaling(scheme, tau0, dim=config.dim, width=width)
        per[scheme, tau0].append(jax.tree.map(float, init_stats(params, x, scale)))
  rows = []
  for (scheme, tau0), stats in per.items():
    lam = np.array([s["lambda_min"] for s in stats])
    rows.append({"init": scheme, "tau0": transformer.TAU0_LABELS[tau0], "width": width,
                 "lambda_min": float(lam.mean()), "lambda_min_over_width":
                 float(lam.mean()) / width, "lambda_min_per_seed": lam,
                 "lambda_max": float(np.mean([s["lambda_max"] for s in stats])),
                 "attention_deviation": float(np.mean([s["attention_deviation"]
                                                       for s in stats]))})
  return rows


def ntk_init_sweep(config: Config, key, sweep_dir: str) -> list[dict[str, Any]]:
  """Rows `{"init", "tau0", "width", "lambda_min", "lambda_min_over_width",
  "lambda_min_per_seed", "lambda_max", "attention_deviation"}` averaged over
  `ntk_init.num_seeds` replicates (the keys of replicate i: `split(split(key)[i])` = (data,
  weights))."""
  replicates = [jax.random.split(k) for k in jax.random.split(key, config.ntk_init.num_seeds)]
  data = [sequences(k_data, config.num_sequences, config.seq_len, config.dim)[0]
          for k_data, _ in replicates]
  records = sweep.run_sweep(
      lambda point: {"rows": _width_rows(config, point["width"], data, replicates)},
      [{"width": w} for w in config.ntk_init.widths], sweep_dir)
  return [row for r in records for row in r["result"]["rows"]]


def attention_slopes(config: Config, rows: list[dict[str, Any]]) -> dict[str, float]:
  """Log-log slope of the attention deviation against the width, LeCun init, per tau0."""
  out = {}
  for tau0 in ("d_m^-1", "d_m^-1/2"):
    sel = [select(rows, init="lecun", tau0=tau0, width=w)[0] for w in config.ntk_init.widths]
    out[tau0] = gates.loglog_slope(config.ntk_init.widths,
                                   [r["attention_deviation"] for r in sel])
  return out
