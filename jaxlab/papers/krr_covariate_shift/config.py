"""Config of the covariate-shift study, and its presets as code.

  config = default()      # the study the README reports (spec section 5 sizes and tolerances)
  config = smoke()        # E2.1 up to d = 400, 2 designs: under a minute on 2 CPU cores
  config = dataclasses.replace(smoke(), studies=("identities",), ds=(40, 80))

On the command line every field is a flag (`--ds=100,200,400`, `--studies=identities`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxlab.experiment.config import require, require_choice, require_choices
from jaxlab.papers.krr_covariate_shift import covariate_shift as cs

STUDIES = ("linearization", "identities", "bias_variance", "exploration", "spectra")


@dataclasses.dataclass(frozen=True)
class Config:
  """KRR vs IW-KRR under covariate shift (spec krr_covariate_shift.md, section 5).

  Attributes:
    studies: studies to run, among linearization, identities, bias_variance, exploration,
      spectra.
    h: inner-product function of the kernel h(<x, x'> / d): exp, cubic ((1 + t)^3) or exp_half
      (exp(t / 2)).
    ds_linearization: dimensions of the linearisation study (E2.1).
    seeds_linearization: designs per d in E2.1.
    ds: dimensions of the bias-variance study (E2.3) and of the identities (E2.2).
    num_designs: designs per d in E2.3.
    n_over_d: n / d.
    mu: test shift mu (q = N(mu e_1, I)).
    noise_std: label noise sigma.
    num_test: test points from q (shared by every estimator and ridge of a design).
    nlams: the grid of n lambda (n lambda is added to the Gram's diagonal).
    surrogate_d: d of the surrogate gate (E2.3c); must be in ds.
    explore_d: d of the exploration study (E2.4).
    explore_mus: shifts of E2.4.
    explore_ratios: n / d of E2.4.
    slope_tol_scale: factor on the slope tolerances (1 = the spec's).
    level_tol_scale: factor on the level tolerances (E2.1 25%, E2.3 10% / 25%, E2.3c 5%).
    num_bootstrap: bootstrap resamples of the slope CIs.
    seed: seed of the designs and test sets.
  """

  studies: tuple[str, ...] = STUDIES
  h: str = "exp"
  ds_linearization: tuple[int, ...] = (100, 200, 400, 800, 1600)
  seeds_linearization: int = 3
  ds: tuple[int, ...] = (100, 200, 400)
  num_designs: int = 5
  n_over_d: float = 2.0
  mu: float = 1.0
  noise_std: float = 0.5
  num_test: int = 2000
  nlams: tuple[float, ...] = (0.0, 0.02, 0.08, 0.2, 0.8, 2.0, 8.0, 24.0, 80.0, 240.0, 800.0)
  surrogate_d: int = 400
  explore_d: int = 100
  explore_mus: tuple[float, ...] = (0.0, 0.5, 1.0)
  explore_ratios: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
  slope_tol_scale: float = 1.0
  level_tol_scale: float = 1.0
  num_bootstrap: int = 2000
  seed: int = 0

  def __post_init__(self):
    require_choices(self.studies, "studies", STUDIES)
    for name in ("slope_tol_scale", "level_tol_scale"):
      require(getattr(self, name) >= 1, name,
              f"must be >= 1 (tolerances are never tighter than the spec's), got "
              f"{getattr(self, name)}")
    require_choice(self.h, "h", tuple(cs.INNER_PRODUCT_FNS))
    require(len(self.ds_linearization) >= 2 and all(d >= 2 for d in self.ds_linearization),
            "ds_linearization", f"needs >= 2 dimensions >= 2, got {self.ds_linearization}")
    require(len(self.ds) >= 1 and all(d >= 2 for d in self.ds), "ds",
            f"needs dimensions >= 2, got {self.ds}")
    for name in ("seeds_linearization", "num_designs", "num_test", "num_bootstrap", "explore_d"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    self._check_model()

  def _check_model(self):
    require(self.n_over_d > 0, "n_over_d", f"must be > 0, got {self.n_over_d}")
    require(self.noise_std > 0, "noise_std", f"must be > 0, got {self.noise_std}")
    require(0 <= self.mu <= 2, "mu",
            f"must be in [0, 2] (E_p[w^2] = e^(mu^2) must stay moderate), got {self.mu}")
    require(all(0 <= m <= 2 for m in self.explore_mus), "explore_mus",
            f"must be in [0, 2], got {self.explore_mus}")
    require(all(r > 0 for r in self.explore_ratios), "explore_ratios",
            f"must be > 0, got {self.explore_ratios}")
    nl = np.asarray(self.nlams, float)
    require(nl.size >= 2 and np.all(nl >= 0) and np.all(np.diff(nl) > 0) and nl[0] == 0,
            "nlams", f"must start at 0 and increase strictly, got {self.nlams}")
    require(self.surrogate_d in self.ds or "bias_variance" not in self.studies, "surrogate_d",
            f"must be one of ds {self.ds}, got {self.surrogate_d}")


def default() -> Config:
  """The spec's section 5 with its tolerances: h = exp, n = 2d, mu = 1, sigma = 0.5, 2000
  test points; E2.1 over d = 100..1600 (3 seeds), E2.3 over d = 100..400 (5 designs), the
  surrogate gate at d = 400. Every study."""
  return Config()


def smoke() -> Config:
  """E2.1 over d = 100..400 (2 seeds), E2.3 over d = 100..400 with 2 designs and 1000 test
  points, E2.4 at n / d in {0.5, 2}. The spec's slope tolerances; level tolerances x1.5 (the
  [cal] levels come from one design and 2000 test points). Under a minute on 2 CPU cores."""
  return Config(ds_linearization=(100, 200, 400), seeds_linearization=2, num_designs=2,
                num_test=1000, explore_ratios=(0.5, 2.0), level_tol_scale=1.5)
