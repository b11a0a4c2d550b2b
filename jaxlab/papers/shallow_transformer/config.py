"""Configs of the shallow-Transformer study: one config per part, the presets as code.

  config = default()                   # the study the README reports (a few minutes, 2 cores)
  config = smoke()                     # the same checks at smaller widths, about a minute

On the command line every field is a flag by its dotted path (`--ntk_init.widths=64,256`,
`--gd.compare_init=he`); names used once in the config also work short (`--inits`).
"""

from __future__ import annotations

import dataclasses

from jaxlab.experiment.config import require, require_choice
from jaxlab.papers.shallow_transformer.transformer import INITS


def _require_increasing(values, field: str) -> None:
  require(len(values) >= 2 and values[0] >= 1 and list(values) == sorted(set(values)),
          field, f"need at least 2 increasing positive values, got {values}")


@dataclasses.dataclass(frozen=True)
class NtkInitConfig:
  """P2-A / P2-B: the empirical NTK and the attention at init, per (init, tau0, width).

  Attributes:
    inits: initialisations of the grid: lecun, he, ntk (lecun is required: the checks are
      about it).
    widths: widths d_m (increasing); the constancy checks compare the last two.
    num_seeds: replicates per grid point (each its own data set and weights); averaged.
  """

  inits: tuple[str, ...] = ("lecun", "he", "ntk")
  widths: tuple[int, ...] = (16, 64, 256, 1024)
  num_seeds: int = 3

  def __post_init__(self):
    require(self.num_seeds >= 1, "num_seeds", f"must be >= 1, got {self.num_seeds}")
    require(bool(self.inits) and all(i in INITS for i in self.inits) and
            len(set(self.inits)) == len(self.inits), "inits",
            f"must be distinct values among {', '.join(INITS)}, got {self.inits}")
    require("lecun" in self.inits, "inits", "must include lecun (the checks are about it)")
    _require_increasing(self.widths, "widths")


@dataclasses.dataclass(frozen=True)
class GdConfig:
  """P2-C: full-batch GD, LeCun init, tau0 = d_m^-1/2, gamma = 1/lambda_max(K0).

  Attributes:
    widths: widths d_m (increasing).
    num_steps: GD steps (>= 2: the contraction is measured over the second half).
    log_every: steps between NTK evaluations (divides num_steps).
    compare_init: the second initialisation, whose NTK change is compared with LeCun's.
  """

  widths: tuple[int, ...] = (64, 256, 1024)
  num_steps: int = 400
  log_every: int = 20
  compare_init: str = "ntk"

  def __post_init__(self):
    require(self.num_steps >= 2, "num_steps",
            f"must be >= 2 (contraction over the second half), got {self.num_steps}")
    require(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
    require(self.num_steps % self.log_every == 0, "log_every",
            f"must divide num_steps={self.num_steps}, got {self.log_every}")
    require_choice(self.compare_init, "compare_init", INITS)
    _require_increasing(self.widths, "widths")


@dataclasses.dataclass(frozen=True)
class InitComparisonConfig:
  """P2-E: every initialisation at one width with one gamma (1/lambda_max(K0) of He).

  Attributes:
    width: the width d_m.
    num_steps: GD steps.
  """

  width: int = 256
  num_steps: int = 200

  def __post_init__(self):
    for name in ("width", "num_steps"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class WidthNeededConfig:
  """P2-D: the smallest width that reaches a training loss within a step budget, per N.

  Attributes:
    sizes: numbers of sequences N (increasing).
    widths: candidate widths d_m (increasing).
    num_steps: the step budget.
    threshold: the training loss to reach.
    num_seeds: seeds (data and weights, vmapped) per (N, width); a width suffices when at
      least half of them reach the threshold.
  """

  sizes: tuple[int, ...] = (10, 20, 40, 80)
  widths: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
  num_steps: int = 2000
  threshold: float = 1e-6
  num_seeds: int = 3

  def __post_init__(self):
    for name in ("num_steps", "num_seeds"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.threshold > 0, "threshold", f"must be > 0, got {self.threshold}")
    for name in ("sizes", "widths"):
      _require_increasing(getattr(self, name), name)


@dataclasses.dataclass(frozen=True)
class Config:
  """Shallow-Transformer convergence studies (float64). Data: sequences of `seq_len` tokens
  in R^dim with N(0, 1) entries and random labels +-1.

  Attributes:
    seed: seed of the data and weights.
    num_sequences: training sequences N (P2-A, P2-C, P2-E).
    seq_len: tokens per sequence d_s (>= 2).
    dim: token dimension d.
    ntk_init: the NTK and attention at init (P2-A, P2-B).
    gd: the GD dynamics (P2-C).
    init_comparison: the fixed-gamma comparison of initialisations (P2-E).
    width_needed: the width needed against N (P2-D).
  """

  seed: int = 0
  num_sequences: int = 20
  seq_len: int = 4
  dim: int = 16
  ntk_init: NtkInitConfig = NtkInitConfig()
  gd: GdConfig = GdConfig()
  init_comparison: InitComparisonConfig = InitComparisonConfig()
  width_needed: WidthNeededConfig = WidthNeededConfig()

  def __post_init__(self):
    for name in ("num_sequences", "dim"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.seq_len >= 2, "seq_len", f"must be >= 2 (attention), got {self.seq_len}")


def default() -> Config:
  """The study the README reports (spec section 5 sizes): N = 20 sequences of 4 tokens in
  R^16; NTK at init for d_m = 16..1024 (3 replicates), GD at d_m = 64, 256, 1024 for 400
  steps, the initialisations at d_m = 256, the width needed for N = 10..80. A few minutes on
  2 CPU cores."""
  return Config()


def smoke() -> Config:
  """Smaller widths and fewer steps (NTK at init for d_m = 64, 256, 1024 with 2 replicates,
  GD at d_m = 32, 128 for 200 steps, N = 5, 10, 20): about a minute on 2 CPU cores, the same
  checks (the README lists the two spec checks that are not reproduced)."""
  return Config(
      ntk_init=NtkInitConfig(widths=(64, 256, 1024), num_seeds=2),
      gd=GdConfig(widths=(32, 128), num_steps=200),
      init_comparison=InitComparisonConfig(width=64, num_steps=100),
      width_needed=WidthNeededConfig(sizes=(5, 10, 20), widths=(4, 8, 16), num_steps=1000))
