"""P2-C and P2-E of the shallow-Transformer study (arXiv 2311.01575): full-batch GD dynamics
against the linearised (NTK) bound, and the initialisations at one step size.

  rows, trajectories = gd_sweep(config, key, sweep_dir)   # rows per width; curves per (init, width)
  comparison = init_comparison(config, key)               # final losses per init, one gamma

Under GD with step gamma the residual of the linearised model contracts per step by at most
(1 - gamma lambda_min(K0))^2; the study compares the measured contraction with it and measures
how far the weights and the NTK move, against the width.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.experiment import sweep
from jaxlab.kernels import spectral
from jaxlab.papers.shallow_transformer import transformer
from jaxlab.papers.shallow_transformer.config import Config
from jaxlab.papers.shallow_transformer.data import sequences
from jaxlab.papers.shallow_transformer.ntk_init import init_stats
from jaxlab.training import guard

GD_SWEEP_DIR = os.path.join("sweeps", "gd")   # the workdir entry of `gd_sweep`'s records


@functools.partial(jax.jit, static_argnames=("num_steps", "log_every"))
def gd_trajectory(params0: transformer.Params, x, y, scale: transformer.Scaling, learning_rate,
                  *, num_steps: int, log_every: int) -> dict[str, jax.Array]:
  """Full-batch GD with metrics.

  Returns:
    `loss (num_steps + 1,)` at every step, and at steps 0, log_every, ..., num_steps
    (`(num_steps // log_every + 1,)` each): weight_change ||theta_t - theta_0|| / ||theta_0||,
    ntk_change ||K_t - K_0||_F / ||K_0||_F, lambda_min, lambda_max (of K_t) and
    attention_deviation.
  """
  k0 = transformer.ntk(params0, x, scale)

  def metrics(params):
    k = transformer.ntk(params, x, scale)
    values = spectral.eigvalsh(k)
    return {"weight_change": transformer.relative_change(params, params0),
            "ntk_change": transformer.relative_change(k, k0),
            "lambda_min": values[0], "lambda_max": values[-1],
            "attention_deviation": transformer.attention_uniformity(params, x, scale)}

  def chunk(params, _):
    params, losses = jax.lax.scan(
        lambda p, _: transformer.gd_step(p, x, y, scale, learning_rate), params, None,
        length=log_every)
    return params, (losses, metrics(params))

  params, (losses, logged) = jax.lax.scan(chunk, params0, None, length=num_steps // log_every)
  first = metrics(params0)
  return {"loss": jnp.concatenate([losses.reshape(-1),
                                   transformer.loss(params, x, y, scale)[None]]),
          **jax.tree.map(lambda a, b: jnp.concatenate([a[None], b]), first, logged)}


def contraction(loss: np.ndarray) -> float:
  """Mean per-step contraction r_{t+1}.r_{t+1} / r_t.r_t over the second half of the run,
  (loss_T / loss_{T/2})^(1 / (T/2)) (the loss is 1/2 ||r||^2)."""
  half = (len(loss) - 1) // 2
  return float((loss[-1] / loss[-1 - half]) ** (1.0 / half))


def gd_run(config: Config, scheme: str, width: int, x, y, k_init
           ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
  """GD at one (init, width), tau0 = d_m^-1/2, gamma = 1/lambda_max(K0): the summary and the
  trajectory (`gd_trajectory`, as numpy)."""
  params = transformer.init(k_init, dim=config.dim, width=width, scheme=scheme,
                            dtype=jnp.float64)
  scale = transformer.scaling(scheme, "inv_sqrt", dim=config.dim, width=width)
  stats0 = init_stats(params, x, scale)
  gamma = 1.0 / float(stats0["lambda_max"])
  traj = jax.tree.map(np.asarray, gd_trajectory(
      params, x, y, scale, gamma, num_steps=config.gd.num_steps, log_every=config.gd.log_every))
  guard.check_values(traj["loss"], where=f"GD at width {width}, {scheme} init")
  summary = {
      "learning_rate": gamma, "lambda_min_init": float(stats0["lambda_min"]),
      "lambda_max_init": float(stats0["lambda_max"]),
      "contraction": contraction(traj["loss"]),
      "bound": (1.0 - gamma * float(stats0["lambda_min"])) ** 2,
      "bound_final_kernel": (1.0 - gamma * float(traj["lambda_min"][-1])) ** 2,
      "weight_change": float(traj["weight_change"][-1]),
      "ntk_change": float(traj["ntk_change"][-1]),
      "initial_loss": float(traj["loss"][0]), "final_loss": float(traj["loss"][-1])}
  return summary, traj


def gd_sweep(config: Config, key, sweep_dir: str
             ) -> tuple[list[dict[str, Any]], dict[tuple[str, int], dict[str, np.ndarray]]]:
  """Rows `{"width", "contraction", "bound", "weight_change", "ntk_change", ...}` (LeCun, with
  the `gd.compare_init` init's NTK and weight change next to them) and the trajectories
  `{(init, width): {name: array}}`. One data set and one weight key (`split(key)`) serve every
  width and init (paired). Each width's record in `sweep_dir` holds its trajectories."""
  k_data, k_init = jax.random.split(key)
  x, y = sequences(k_data, config.num_sequences, config.seq_len, config.dim)
  schemes = tuple(dict.fromkeys(("lecun", config.gd.compare_init)))

  def point_fn(point):
    runs = {s: gd_run(config, s, point["width"], x, y, k_init) for s in schemes}
    return {"summary": {s: r[0] for s, r in runs.items()},
            "trajectories": {s: r[1] for s, r in runs.items()}}

  records = sweep.run_sweep(point_fn, [{"width": w} for w in config.gd.widths], sweep_dir)
  other = config.gd.compare_init
  rows = []
  for r in records:
    summary = r["result"]["summary"]
    main = summary["lecun"]
    rows.append({"width": r["point"]["width"], **main,
                 "gamma_lambda_max": main["learning_rate"] * main["lambda_max_init"],
                 f"ntk_change_{other}_init": summary[other]["ntk_change"],
                 f"weight_change_{other}_init": summary[other]["weight_change"],
                 f"final_loss_{other}_init": summary[other]["final_loss"]})
  return rows, trajectories(records)


def trajectories(records: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, np.ndarray]]:
  """`{(init, width): {name: array}}` from the records of `gd_sweep` (as `run_sweep` returns
  them, or `jaxlab.experiment.sweep.read_log` reads them back), in record order."""
  return {(scheme, r["point"]["width"]): {k: np.asarray(v) for k, v in traj.items()}
          for r in records for scheme, traj in r["result"]["trajectories"].items()}


def init_comparison(config: Config, key) -> dict[str, Any]:
  """P2-E: every init at width `init_comparison.width`, tau0 = d_m^-1/2, with one gamma =
  1/lambda_max(K0) of He (stable for all); the same data and normal draw (`split(key)`)
  scaled per scheme. Returns the width, gamma, gamma lambda_max(K0) and lambda_min(K0) per
  init, the final losses and the loss curves `{init: (num_steps + 1,)}`."""
  k_data, k_init = jax.random.split(key)
  x, y = sequences(k_data, config.num_sequences, config.seq_len, config.dim)
  width, num_steps = config.init_comparison.width, config.init_comparison.num_steps
  setups = {}
  for scheme in transformer.INITS:
    params = transformer.init(k_init, dim=config.dim, width=width, scheme=scheme,
                              dtype=jnp.float64)
    scale = transformer.scaling(scheme, "inv_sqrt", dim=config.dim, width=width)
    setups[scheme] = (params, scale, init_stats(params, x, scale))
  gamma = 1.0 / float(setups["he"][2]["lambda_max"])
  losses, gamma_lambda_max, lambda_min = {}, {}, {}
  for scheme, (params, scale, stats0) in setups.items():
    traj = gd_trajectory(params, x, y, scale, gamma, num_steps=num_steps, log_every=num_steps)
    losses[scheme] = np.asarray(traj["loss"])
    gamma_lambda_max[scheme] = gamma * float(stats0["lambda_max"])
    lambda_min[scheme] = float(stats0["lambda_min"])
  return {"width": width, "learning_rate": gamma, "gamma_lambda_max": gamma_lambda_max,
          "lambda_min_init": lambda_min,
          "final_loss": {s: float(v[-1]) for s, v in losses.items()}, "loss_curves": losses}
