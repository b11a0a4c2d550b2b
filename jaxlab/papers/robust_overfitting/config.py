"""Configs of the robust-overfitting study (arXiv 2401.13624): one sub-config per part.

  config = default()                     # the study of robust_overfitting.flags
  config = smoke()                       # under a minute on 2 CPU cores
  config = dataclasses.replace(smoke(), parts=("regression",))

Parts: `classification_1d` (P4-A), `classification_2d` (P4-B), `regression` (P4-C) and
`pgd_at_contrast` (P4-D). Every field is a flag by its dotted path
(`--regression.noise_std=0.3`); `--parts=regression,classification_1d` runs a subset.
"""

from __future__ import annotations

import dataclasses

from jaxlab.experiment.config import require, require_choices
from jaxlab.models.config import ModelConfig
from jaxlab.papers.robust_overfitting.data import Bands
from jaxlab.training.optim import OptimConfig

PARTS = ("classification_1d", "classification_2d", "regression", "pgd_at_contrast")


def _positive(config, *names: str) -> None:
  for name in names:
    values = getattr(config, name)
    for v in values if isinstance(values, tuple) else (values,):
      require(v > 0, name, f"must be > 0, got {v}")


def _sizes(config, *names: str) -> None:
  for name in names:
    values = getattr(config, name)
    require(len(values) >= 1, name, "needs at least one value")
    for v in values:
      require(v >= 2, name, f"sample sizes must be >= 2, got {v}")


@dataclasses.dataclass(frozen=True)
class Classification1D:
  """P4-A: the 1D construction, exact errors by interval arithmetic.

  Attributes:
    bands: the banded distribution (k, band, ramp, noise).
    margin: m in kappa_i = y_i (sup |g| + m) (all sweeps but `family`).
    seeds: replicate training sets.
    separation_ns, separation_scales: delta = w = a / n^2 for each n and a: how often the
      separation condition holds and whether the adversarial training error is then 0.
    gap_ns, gap_deltas: robust gap against delta (w = delta) at each n.
    family_n, family_delta, family_ws, family_margins: the "infinitely many" family: errors
      against w for each margin at fixed n, delta.
    level_ns, level_c, level_margin: the perturbation level: delta = w = c / n (the extra
      disagreement tends to 4 p c rho) and delta = w = c / n^1.5 (it vanishes as n^-0.5), at
      a large margin (kappa -> infinity).
    mc_n, mc_delta, mc_points: the Monte Carlo cross-check of one instance (w = delta).
    pgd_n, pgd_steps, pgd_restarts: PGD of the shared core on the network's training points
      (instances of the separation sweep at n = pgd_n).
  """

  bands: Bands = Bands(frequency=2, band=0.025, ramp=0.0125, noise=0.2)
  margin: float = 1.0
  seeds: tuple[int, ...] = tuple(range(10))
  separation_ns: tuple[int, ...] = (64, 256, 1024, 4096)
  separation_scales: tuple[float, ...] = (0.1, 1.0, 10.0)
  gap_ns: tuple[int, ...] = (256, 1024, 4096)
  gap_deltas: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3)
  family_n: int = 256
  family_delta: float = 2e-6
  family_ws: tuple[float, ...] = (1e-6, 3e-6, 1e-5, 3e-5)
  family_margins: tuple[float, ...] = (0.1, 1.0, 10.0)
  level_ns: tuple[int, ...] = (256, 512, 1024, 2048, 4096, 8192, 16384)
  level_c: float = 0.05
  level_margin: float = 100.0
  mc_n: int = 1024
  mc_delta: float = 1e-3
  mc_points: int = 1_000_000
  pgd_n: int = 256
  pgd_steps: int = 20
  pgd_restarts: int = 20

  def __post_init__(self):
    _positive(self, "margin", "separation_scales", "gap_deltas", "family_delta", "family_ws",
              "family_margins", "level_c", "level_margin", "mc_delta")
    _sizes(self, "separation_ns", "gap_ns", "level_ns")
    require(len(self.seeds) >= 2, "seeds", "needs >= 2 replicates (standard errors)")
    require(len(self.level_ns) >= 2, "level_ns", "needs >= 2 sizes for a slope")
    for name in ("gap_deltas", "family_delta", "mc_delta"):
      values = getattr(self, name)
      require(max(values if isinstance(values, tuple) else (values,)) < self.bands.band, name,
              f"delta must be < band = {self.bands.band} (g is delta-robust only then)")
    require(self.pgd_n in self.separation_ns, "pgd_n",
            f"must be one of separation_ns {self.separation_ns}, got {self.pgd_n}")
    for name in ("family_n", "mc_n", "mc_points", "pgd_steps", "pgd_restarts"):
      require(getattr(self, name) >= 2, name, f"must be >= 2, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class Classification2D:
  """P4-B: the l-inf construction on the checkerboard, exact per ball, Monte Carlo overall.

  Attributes:
    bands: the banded distribution per coordinate (checkerboard Bayes label).
    n: training points per replicate.
    delta, w, margin: the construction (delta + ramp < band: g constant on every ball).
    seeds: replicate training sets.
    mc_points: test points of the Monte Carlo estimates (and of the single-bump check).
    pgd_steps, pgd_restarts: PGD of the shared core on the network's training points.
  """

  bands: Bands = Bands(frequency=2, band=0.025, ramp=0.01, noise=0.1)
  n: int = 200
  delta: float = 0.002
  w: float = 0.002
  margin: float = 1.0
  seeds: tuple[int, ...] = tuple(range(5))
  mc_points: int = 1_000_000
  pgd_steps: int = 20
  pgd_restarts: int = 10

  def __post_init__(self):
    _positive(self, "delta", "w", "margin")
    require(self.delta + self.bands.ramp < self.bands.band, "delta",
            f"needs delta + ramp < band ({self.bands.ramp} + delta < {self.bands.band}), "
            f"got {self.delta}")
    require(len(self.seeds) >= 1, "seeds", "needs at least one replicate")
    for name in ("n", "mc_points", "pgd_steps", "pgd_restarts"):
      require(getattr(self, name) >= 2, name, f"must be >= 2, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class Regression:
  """P4-C: f* = sin(2 pi x), the interpolating construction on g_n, exact risks.

  Attributes:
    ns: sample sizes.
    noise_std: sigma of the Gaussian label noise.
    knots_scale: g_n has round(knots_scale n^(1/5)) equispaced knots (s = 2).
    width_exponent: delta = w = n^-width_exponent (2.5 = o(n^-2)).
    fixed_w: the counter-check's ramp width, kept fixed over n.
    merge: merge colliding corrections (False refuses collisions).
    seeds: replicate training sets.
    slope_tol: tolerance of the rate gate around -2s / (2s + 1) = -0.8.
  """

  ns: tuple[int, ...] = tuple(2**k for k in range(8, 15))
  noise_std: float = 0.3
  knots_scale: float = 3.0
  width_exponent: float = 2.5
  fixed_w: float = 1e-3
  merge: bool = True
  seeds: tuple[int, ...] = tuple(range(10))
  slope_tol: float = 0.15

  def __post_init__(self):
    _positive(self, "noise_std", "knots_scale", "width_exponent", "fixed_w", "slope_tol")
    _sizes(self, "ns")
    require(len(self.ns) >= 3, "ns", "needs >= 3 sizes for the rate and the plateau")
    require(len(self.seeds) >= 2, "seeds", "needs >= 2 replicates (bootstrap CI)")


@dataclasses.dataclass(frozen=True)
class Contrast:
  """P4-D: PGD adversarial training of a wide MLP on the P4-A data (shared adversarial core).

  Attributes:
    bands: the 1D banded distribution.
    n: training points.
    delta: the l-inf radius of training and evaluation (and of the construction, w = delta).
    model: the MLP (name must be mlp).
    optim: the optimiser and its schedule.
    num_epochs: epochs of PGD training.
    batch_size: training batch (n = full batch).
    attack_steps: PGD steps of the training attack (step delta / 4, random start).
    eval_every: epochs between evaluations (exact robust errors of the MLP in 1D).
    eval_steps, eval_restarts: PGD of the evaluation of robust training accuracy.
    spread_kinks: initialise the first layer's kinks uniformly over [0, 1] (biases -w u,
      u ~ U[0, 1]) instead of all at 0 (Flax's zero biases), so a 1D MLP can fit in time.
    seed: data, initialisation, shuffling and attacks.
  """

  bands: Bands = Bands(frequency=2, band=0.025, ramp=0.0125, noise=0.2)
  n: int = 64
  delta: float = 2e-4
  model: ModelConfig = ModelConfig(name="mlp", width=512, depth=2)
  optim: OptimConfig = OptimConfig(optimizer="adam", learning_rate=3e-3, schedule="constant")
  num_epochs: int = 6000
  batch_size: int = 64
  attack_steps: int = 10
  eval_every: int = 200
  eval_steps: int = 20
  eval_restarts: int = 4
  spread_kinks: bool = True
  seed: int = 0

  def __post_init__(self):
    require(self.model.name == "mlp", "model.name",
            f"the contrast trains an MLP on 1D inputs, got {self.model.name!r}")
    _positive(self, "delta")
    require(self.delta < self.bands.band, "delta", f"must be < band = {self.bands.band}")
    for name in ("n", "num_epochs", "batch_size", "attack_steps", "eval_every", "eval_steps",
                 "eval_restarts"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.batch_size <= self.n, "batch_size",
            f"must be <= n = {self.n}, got {self.batch_size}")
    require(self.eval_every <= self.num_epochs, "eval_every",
            f"must be <= num_epochs = {self.num_epochs}, got {self.eval_every}")


@dataclasses.dataclass(frozen=True)
class Config:
  """The robust-overfitting study.

  Attributes:
    parts: which parts run: classification_1d, classification_2d, regression,
      pgd_at_contrast.
    classification_1d, classification_2d, regression, pgd_at_contrast: the parts' configs.
    seed: the root key (one key per part is split from it).
  """

  parts: tuple[str, ...] = PARTS
  classification_1d: Classification1D = Classification1D()
  classification_2d: Classification2D = Classification2D()
  regression: Regression = Regression()
  pgd_at_contrast: Contrast = Contrast()
  seed: int = 0

  def __post_init__(self):
    require_choices(self.parts, "parts", PARTS)


def default() -> Config:
  """The reported study (about 15 minutes on 2 CPU cores): the fields' defaults."""
  return Config()


def smoke() -> Config:
  """P4-A, P4-B and P4-C at small size, under a minute on 2 CPU cores. P4-D is left out: a
  1D MLP needs thousands of PGD-10 steps to memorise its noisy points (default study)."""
  return Config(
      parts=("classification_1d", "classification_2d", "regression"),
      classification_1d=Classification1D(
          seeds=(0, 1, 2), separation_ns=(64, 256, 1024), gap_ns=(256, 1024),
          gap_deltas=(1e-6, 1e-4), family_ws=(1e-6, 1e-5), family_margins=(0.1, 10.0),
          level_ns=(256, 1024, 4096), mc_points=200_000, pgd_restarts=10),
      classification_2d=Classification2D(n=100, seeds=(0, 1), mc_points=200_000),
      regression=Regression(ns=(256, 1024, 4096), seeds=(0, 1, 2, 3)))
