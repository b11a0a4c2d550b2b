"""Configs of the path-norm study: one config per part, the presets as code.

  config = default()            # the study the README reports (spec section 5 sizes)
  config = smoke()              # the same gates at small sizes, under a minute on 2 cores
  config = dataclasses.replace(smoke(), parts=("rademacher",))

On the command line every field is a flag by its dotted path (`--rademacher.dims=2,5`,
`--learning_curve.seeds=0,1,2`); names used once in the config also work short
(`--num_draws=40`), and `--optim.learning_rate` sets the optimiser.
"""

from __future__ import annotations

import dataclasses

from jaxlab.experiment.config import require, require_choice, require_choices
from jaxlab.models.path_norm import VARIANTS
from jaxlab.training.optim import OptimConfig

PARTS = ("rademacher", "width_sweep", "learning_curve", "krr_baseline")


def _require_increasing(values, name: str, lowest: int, count: int = 2) -> None:
  require(len(values) >= count and list(values) == sorted(set(values)) and values[0] >= lowest,
          name, f"need at least {count} increasing values >= {lowest}, got {values}")


@dataclasses.dataclass(frozen=True)
class RademacherConfig:
  """E3.1: empirical Rademacher complexity of the unit path-norm ball.

  Attributes:
    dims: input dimensions d (x uniform on S^{d-1}, x~ = (x, 1) / sqrt(2)).
    ns: sample sizes n (increasing; the points are nested, the first n of max(ns)).
    num_draws: Rademacher sign draws per (d, n).
    num_directions: random directions of the inner maximum (shared by all draws).
    num_refine: best directions refined per draw and sign of the objective.
    refine_steps: projected-gradient steps per refined direction.
    sanity_widths: widths of the random networks of the sanity gate.
    sanity_networks: random networks per width, rescaled to path norm 1.
    ascent_width: width of the networks trained by gradient ascent on the correlation at the
      smallest n, a diagnostic of the inner maximum (0: skip).
    ascent_steps: Adam steps of that ascent.
  """

  dims: tuple[int, ...] = (2, 5, 10)
  ns: tuple[int, ...] = (128, 256, 512, 1024, 2048, 4096, 8192)
  num_draws: int = 100
  num_directions: int = 4000
  num_refine: int = 10
  refine_steps: int = 150
  sanity_widths: tuple[int, ...] = (1, 16, 256)
  sanity_networks: int = 8
  ascent_width: int = 64
  ascent_steps: int = 400

  def __post_init__(self):
    _require_increasing(self.dims, "dims", 1, count=1)
    _require_increasing(self.ns, "ns", 2, count=3)
    for name in ("num_draws", "num_directions", "num_refine", "sanity_networks"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.num_draws >= 2, "num_draws", f"must be >= 2 (bootstrap CI), got "
            f"{self.num_draws}")
    require(self.num_refine <= self.num_directions, "num_refine",
            f"must be <= num_directions={self.num_directions}, got {self.num_refine}")
    require(self.refine_steps >= 0, "refine_steps", f"must be >= 0, got {self.refine_steps}")
    _require_increasing(self.sanity_widths, "sanity_widths", 1, count=1)
    require(self.ascent_width >= 0 and self.ascent_steps >= 1, "ascent_width",
            f"needs ascent_width >= 0 and ascent_steps >= 1, got {self.ascent_width}, "
            f"{self.ascent_steps}")


@dataclasses.dataclass(frozen=True)
class WidthSweepConfig:
  """E3.2: train-test gap against the width at a fixed path-norm budget.

  Attributes:
    d: input dimension.
    n: training points.
    widths: network widths m (increasing).
    radius: the path-norm budget R of the constrained runs (the other runs are unconstrained).
    num_steps: full-batch optimiser steps.
    seeds: design seeds (data, noise, initialisation); vmapped.
  """

  d: int = 5
  n: int = 512
  widths: tuple[int, ...] = (16, 64, 256, 1024, 4096)
  radius: float = 2.0
  num_steps: int = 3000
  seeds: tuple[int, ...] = (0, 1)

  def __post_init__(self):
    require(self.d >= 1, "d", f"must be >= 1, got {self.d}")
    require(self.n >= 2, "n", f"must be >= 2, got {self.n}")
    _require_increasing(self.widths, "widths", 1)
    require(self.radius > 0, "radius", f"the path-norm budget R must be > 0, got {self.radius}")
    require(self.num_steps >= 20 and self.num_steps % 20 == 0, "num_steps",
            f"must be a positive multiple of 20 (the logged points), got {self.num_steps}")
    require(len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds), "seeds",
            f"need at least one seed, no repeats, got {self.seeds}")


@dataclasses.dataclass(frozen=True)
class LearningCurveConfig:
  """E3.3: the network's excess risk against n, weight decay picked per n by oracle.

  Attributes:
    dims: input dimensions d.
    ns: training-set sizes n (increasing; nested designs).
    width: network width m.
    weight_decays: the weight-decay grid lambda (the oracle picks one per (d, n)).
    num_steps: full-batch optimiser steps.
    seeds: design seeds; the slope is fitted on the mean of log errors over them.
    worst_case_dims: dimensions at which the curve is also run on a teacher of
      `worst_case_units` random neurons of path norm 1 (report only).
    worst_case_units: neurons of that teacher.
  """

  dims: tuple[int, ...] = (2, 5)
  ns: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
  width: int = 128
  weight_decays: tuple[float, ...] = (1e-5, 1e-4, 1e-3)
  num_steps: int = 2500
  seeds: tuple[int, ...] = (0, 1)
  worst_case_dims: tuple[int, ...] = (5,)
  worst_case_units: int = 1000

  def __post_init__(self):
    _require_increasing(self.dims, "dims", 1, count=1)
    _require_increasing(self.ns, "ns", 2, count=3)
    require(self.width >= 1, "width", f"must be >= 1, got {self.width}")
    require(len(self.weight_decays) >= 1 and all(w >= 0 for w in self.weight_decays) and
            len(set(self.weight_decays)) == len(self.weight_decays), "weight_decays",
            f"need distinct values >= 0, got {self.weight_decays}")
    require(self.num_steps >= 20 and self.num_steps % 20 == 0, "num_steps",
            f"must be a positive multiple of 20 (the logged points), got {self.num_steps}")
    require(len(self.seeds) >= 2 and len(set(self.seeds)) == len(self.seeds), "seeds",
            f"need at least 2 distinct seeds (bootstrap CI), got {self.seeds}")
    require(set(self.worst_case_dims) <= set(self.dims), "worst_case_dims",
            f"must be among dims={self.dims}, got {self.worst_case_dims}")
    require(self.worst_case_units >= 1, "worst_case_units",
            f"must be >= 1, got {self.worst_case_units}")


@dataclasses.dataclass(frozen=True)
class KRRConfig:
  """E3.4: KRR with the degree-1 arc-cosine kernel, oracle ridge, on a single-neuron teacher
  (the soft check) and on the learning curve's own designs (the sample-complexity ratio).

  Attributes:
    dims: input dimensions of the single-neuron teacher.
    ns: training-set sizes n of the single-neuron teacher (increasing).
    seeds: design seeds of the single-neuron teacher.
    log10_ridge_min, log10_ridge_max: the ridge grid lambda = logspace(min, max, num_ridges),
      the estimator being (K + n lambda I)^{-1} y.
    num_ridges: points of the ridge grid.
  """

  dims: tuple[int, ...] = (5, 10)
  ns: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
  seeds: tuple[int, ...] = (0, 1)
  log10_ridge_min: float = -7.0
  log10_ridge_max: float = 0.0
  num_ridges: int = 15

  def __post_init__(self):
    _require_increasing(self.dims, "dims", 1, count=1)
    _require_increasing(self.ns, "ns", 2, count=3)
    require(len(self.seeds) >= 2 and len(set(self.seeds)) == len(self.seeds), "seeds",
            f"need at least 2 distinct seeds (bootstrap CI), got {self.seeds}")
    require(self.log10_ridge_min < self.log10_ridge_max, "log10_ridge_min",
            f"must be < log10_ridge_max={self.log10_ridge_max}, got {self.log10_ridge_min}")
    require(self.num_ridges >= 2, "num_ridges", f"must be >= 2, got {self.num_ridges}")


@dataclasses.dataclass(frozen=True)
class Config:
  """The path-norm study (float64). Inputs x uniform on S^{d-1}, x~ = (x, 1) / sqrt(2);
  teacher f* = sum_j a_j relu(w_j . x~) with unit-norm w_j and sum |a_j| = 1 (path norm 1);
  y = f*(x) + noise_std * N(0, 1). Excess risk E (f - f*)^2 on `test_size` fresh points.

  Attributes:
    parts: the parts to run: rademacher (E3.1), width_sweep (E3.2), learning_curve (E3.3),
      krr_baseline (E3.4).
    variant: the path norm of the constraint, the bound and the reports: l2 or l1.
    seed: seed of the teachers, the test sets and the Rademacher draws.
    teacher_units: neurons of the teacher of E3.2 / E3.3.
    noise_std: label noise sigma.
    test_size: fresh test points per d (>= 20000 for excess risks of 1e-5).
    init_scale: initialisation scale of the networks (`two_layer.init`).
    optim: the optimiser of every trained network (its weight_decay must be 0: E3.3 sets
      lambda per run, E3.2 trains without it).
    rademacher: E3.1.
    width_sweep: E3.2.
    learning_curve: E3.3.
    krr: E3.4.
  """

  parts: tuple[str, ...] = PARTS
  variant: str = "l2"
  seed: int = 0
  teacher_units: int = 3
  noise_std: float = 0.1
  test_size: int = 20000
  init_scale: float = 1.0
  optim: OptimConfig = OptimConfig(optimizer="adam", learning_rate=1e-2, schedule="cosine")
  rademacher: RademacherConfig = RademacherConfig()
  width_sweep: WidthSweepConfig = WidthSweepConfig()
  learning_curve: LearningCurveConfig = LearningCurveConfig()
  krr: KRRConfig = KRRConfig()

  def __post_init__(self):
    require_choices(self.parts, "parts", PARTS)
    require_choice(self.variant, "variant", VARIANTS)
    require(self.teacher_units >= 1, "teacher_units", f"must be >= 1, got {self.teacher_units}")
    require(self.noise_std >= 0, "noise_std", f"must be >= 0, got {self.noise_std}")
    require(self.test_size >= 100, "test_size", f"must be >= 100, got {self.test_size}")
    require(self.init_scale > 0, "init_scale", f"must be > 0, got {self.init_scale}")
    require(self.optim.optimizer in ("adam", "sgd"), "optim.optimizer",
            f"must be adam or sgd (adamw's decoupled decay is not the penalty whose "
            f"minimisers are the path-norm ones), got {self.optim.optimizer!r}")
    require(self.optim.weight_decay == 0, "optim.weight_decay",
            "must be 0: the weight decays are learning_curve.weight_decays")


def default() -> Config:
  """The spec's sizes (section 5), except for the number of sign draws:
  E3.1 at d = 2, 5, 10, n = 128..8192, 4000 directions, 10 x 150 refinement steps and 100
  sign draws (with the spec's 20 the slope's standard error is about 0.03 against the gate's
  0.05: one draw's supremum has a relative spread of 0.4-0.5);
  E3.2 at d = 5, n = 512, widths 16..4096, R = 2, 3000 Adam steps (lr 1e-2, cosine), 2 seeds;
  E3.3 at d = 2, 5, n = 256..4096, width 128, weight decay 1e-5 / 1e-4 / 1e-3, 2500 steps,
  2 seeds, plus the 1000-neuron teacher at d = 5;
  E3.4 at d = 5, 10 and on E3.3's designs, ridge logspace(-7, 0, 15)."""
  return Config()


def smoke() -> Config:
  """Every part and gate at small sizes (under a minute on 2 CPU cores): E3.1 at d = 2, 5
  with n = 128..2048, 150 draws, 1000 directions, 10 x 30 refinement steps; E3.2 at n = 256,
  widths 16 / 64 / 256, 1000 steps, one seed; E3.3 at d = 5, n = 256..1024, width 64, weight
  decay 1e-4 / 1e-3, 1000 steps; E3.4 at d = 5, n = 256..1024."""
  return Config(
      test_size=20000,
      rademacher=RademacherConfig(dims=(2, 5), ns=(128, 256, 512, 1024, 2048), num_draws=150,
                                  num_directions=1000, refine_steps=30, sanity_networks=4,
                                  ascent_width=0),
      width_sweep=WidthSweepConfig(n=256, widths=(16, 64, 256), num_steps=1000, seeds=(0,)),
      learning_curve=LearningCurveConfig(dims=(5,), ns=(256, 512, 1024), width=64,
                                         weight_decays=(1e-4, 1e-3), num_steps=1000,
                                         worst_case_dims=()),
      krr=KRRConfig(dims=(5,), ns=(256, 512, 1024)))
