"""What the parts of one krr_inverse run share: the keys (one per purpose), the record of
results, the ridge grid and the simulator over a grid of sample sizes x designs.

  ctx = Context(config, study_keys(config.seed), Record(wd))
  res = simulate_grid(ctx, ctx.keys.phase, "phase", ns, num_designs, b=1, design="iid", ...)
  fit = Fitter(ctx, "phase")            # the part's slope fits (bootstrap CIs)
  ctx.record.gates.slope(name, predicted, fit(ns, res["variance"][..., 0, 0]), tol)
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any, Iterator, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab.experiment import Workdir, gates
from jaxlab.kernels import learning_curve
from jaxlab.papers.krr_inverse import inverse, torus
from jaxlab.papers.krr_inverse.config import Config

# Every purpose draws from fold_in(key(seed), its stream id). The ids are fixed and distinct
# (they are those of the first release, so recorded results reproduce bit for bit); designs
# of one stream are shared by the calls of a part (paired comparisons).
STREAMS = {"target": 1269954639, "tail": 3321456, "phase": 96798139,
           "bias_independence": 1704283810, "oracle": 1565135, "smoothing": 1624717,
           "saturation": 15497326, "saturation_aliasing": 468410847,
           "bias_variance": 165509303, "cross_checks": 2029295350}

# Slope fits: fit j of a part draws its bootstrap from fold_in(key(seed), FIT_BASE + first +
# j) with the part's fixed block (first, size) of ids, disjoint from every other part's, so a
# part's CIs do not depend on which other parts run.
FIT_BASE = 10**6
FIT_BLOCKS = {"phase": (1, 16), "bias_independence": (17, 8), "oracle": (25, 5),
              "saturation": (30, 19), "smoothing": (49, 2)}


class Keys(NamedTuple):
  """The run's keys: `root = key(seed)` and one key per purpose (`STREAMS`)."""

  root: jax.Array
  target: jax.Array           # phases of the targets u*
  tail: jax.Array             # the extra modes of the truncation cross-check
  phase: jax.Array            # designs and noise of each part ...
  bias_independence: jax.Array
  oracle: jax.Array
  smoothing: jax.Array
  saturation: jax.Array
  saturation_aliasing: jax.Array
  bias_variance: jax.Array
  cross_checks: jax.Array


def study_keys(seed: int) -> Keys:
  root = jax.random.key(seed)
  return Keys(root, **{name: jax.random.fold_in(root, i) for name, i in STREAMS.items()})


@dataclasses.dataclass
class Record:
  """What the parts of a run add to: slope gates and checks, curves (every measured point,
  design means), observations (reported, not gated) and numbered metrics.jsonl lines."""

  wd: Workdir
  gates: gates.Gates = dataclasses.field(default_factory=gates.Gates)
  curves: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  observations: dict[str, Any] = dataclasses.field(default_factory=dict)
  steps: Iterator[int] = dataclasses.field(default_factory=itertools.count)

  def log(self, metrics: dict[str, Any]) -> None:
    self.wd.log(next(self.steps), metrics)

  def curve(self, **point: Any) -> None:
    self.curves.append({k: (float(v) if isinstance(v, (np.floating, float)) else v)
                        for k, v in point.items()})

  def results(self) -> dict[str, Any]:
    """results.json: curves, slopes, checks, observations, failed."""
    return {"curves": self.curves, "slopes": self.gates.slopes, "checks": self.gates.checks,
            "observations": self.observations, "failed": self.gates.failed()}


class Context(NamedTuple):
  config: Config
  keys: Keys
  record: Record

  def slope(self, name: str, predicted: float, fit, tol: float, **extra: Any) -> None:
    """A slope gate with the spec's tolerance `tol` scaled by `slope_tol_scale`."""
    self.record.gates.slope(name, predicted, fit, tol * self.config.slope_tol_scale, **extra)


class Fitter:
  """The slope fits of one part (`gates.fit_slope` with the part's bootstrap keys, in order);
  refuses more fits than the part's block."""

  def __init__(self, ctx: Context, part: str):
    self.root = ctx.keys.root
    self.num_bootstrap = ctx.config.num_bootstrap
    self.first, self.size = FIT_BLOCKS[part]
    self.used = 0

  def __call__(self, x, values) -> gates.Slope:
    if self.used == self.size:
      raise RuntimeError(f"a part fits at most {self.size} slopes (FIT_BLOCKS)")
    key = jax.random.fold_in(self.root, FIT_BASE + self.first + self.used)
    self.used += 1
    return gates.fit_slope(x, values, key=key, num_bootstrap=self.num_bootstrap)


def target(ctx: Context, r_s: float, modes: int | None = None) -> jax.Array:
  """u* coefficients `(M + 1, 2)` of smoothness `r_s`; the phases are shared by all parts."""
  return torus.random_phase_coefficients(ctx.keys.target, modes or ctx.config.modes, r_s,
                                         jnp.float64)


def oracle_lams(config: Config) -> np.ndarray:
  """The oracle ridge grid `(num_lams + 1,)`: 0, then logspace(lam_min_exp, lam_max_exp)."""
  return np.concatenate([[0.0], np.logspace(config.lam_min_exp, config.lam_max_exp,
                                            config.num_lams)])


def simulate_grid(ctx: Context, key: jax.Array, label: str, ns, num_designs: int, *, b: int,
                  design: str, lams, targets, weights, num_noise: int, noise_std: float,
                  tag: dict[str, Any]) -> dict[str, np.ndarray]:
  """`inverse.simulate` over ns x designs (`learning_curve.run`: design d at n uses
  `design_key(key, n, d)`, the same for every b and design type: paired comparisons); logs one
  metrics line per n, labelled `label`. Returns `{"bias2": (N, D, T, W, L), "variance": (N,
  D, W, L), "condition", "ill_conditioned": (N, D, L)}`."""
  lams = jnp.asarray(lams, jnp.float64)

  def errors(k, n, lams_):
    return inverse.simulate(k, n, b=b, design=design, lams=lams_, targets=targets,
                            weights=weights, num_noise=num_noise, noise_std=noise_std)._asdict()

  t0 = time.perf_counter()
  res = learning_curve.run(errors, ns, num_designs, lams, key, log_every=False,
                           desc=f"{label} (n, design)")
  for i, n in enumerate(ns):
    ctx.record.log({"study": label, "n": int(n), "b": b, "design": design, **tag,
                    "lams": np.asarray(lams), "bias2": res["bias2"][i],
                    "variance": res["variance"][i],
                    "ill_conditioned": res["ill_conditioned"][i]})
  logging.info("%s b=%d %s %s: %d sizes x %d designs in %.1fs", label, b, design, tag,
               len(ns), num_designs, time.perf_counter() - t0)
  return res
