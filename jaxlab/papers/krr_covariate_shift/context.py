"""What the parts of one krr_covariate_shift run share: the keys (one per purpose), the
inner-product function, the record of results and the designs.

  ctx = Context(config, study_keys(config.seed), h, Record(wd))
  data = sample(ctx, ctx.keys.bias_variance, d=400, design=0)     # cs.Data, float64
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Iterator, NamedTuple

import jax
import jax.numpy as jnp

from jaxlab.experiment import Workdir, gates
from jaxlab.kernels import learning_curve
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs
from jaxlab.papers.krr_covariate_shift.config import Config

# Every purpose draws from fold_in(key(seed), its stream id); the ids are distinct. The designs
# of a part come from its data stream (design `s` at dimension d: fold_in(design_key(stream, d,
# s), 0)); E2.2's label noise from its own stream (folded with d); the bootstrap of the E2.1
# slope of each measure from its own id (`linearization.MEASURES`).
DATA_STREAMS = {"linearization": 1, "identities": 2, "bias_variance": 3, "exploration": 4,
                "spectra": 5}
NOISE_STREAM = 6


class Keys(NamedTuple):
  """The run's keys: `root = key(seed)`, the designs of each part and E2.2's label noise."""

  root: jax.Array
  linearization: jax.Array
  identities: jax.Array
  bias_variance: jax.Array
  exploration: jax.Array
  spectra: jax.Array
  noise: jax.Array


def study_keys(seed: int) -> Keys:
  root = jax.random.key(seed)
  data = {name: jax.random.fold_in(root, i) for name, i in DATA_STREAMS.items()}
  return Keys(root, noise=jax.random.fold_in(root, NOISE_STREAM), **data)


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

  def results(self) -> dict[str, Any]:
    """results.json: curves, slopes, checks, observations, failed."""
    return {"curves": self.curves, "slopes": self.gates.slopes, "checks": self.gates.checks,
            "observations": self.observations, "failed": self.gates.failed()}


class Context(NamedTuple):
  config: Config
  keys: Keys
  h: cs.InnerProductFn         # config.h with its Taylor coefficients
  record: Record


def sample(ctx: Context, key: jax.Array, d: int, design: int, *, mu: float | None = None,
           n_over_d: float | None = None) -> cs.Data:
  """Design `design` at dimension d from the part's stream `key`: n = round(n_over_d d)
  training points from p, `num_test` test points from q = N(mu e_1, I) (defaults: the
  config's mu and n / d). The same (key, d, design) gives the same draws for every mu."""
  c = ctx.config
  n = int(round((n_over_d or c.n_over_d) * d))
  design_key = jax.random.fold_in(learning_curve.design_key(key, d, design), 0)
  return cs.sample(design_key, n, d, c.mu if mu is None else mu, c.num_test, jnp.float64)
