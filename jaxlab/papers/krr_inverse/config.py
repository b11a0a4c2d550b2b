"""Config of the inverse-problem learning curves, and its presets as code.

  config = default()      # the study the README reports (spec section 5 grid and tolerances)
  config = smoke()        # n <= 512, fewer designs and modes: about a minute on 2 CPU cores
  config = dataclasses.replace(smoke(), studies=("phase", "saturation"))

On the command line every field is a flag (`--ns=128,256,512`, `--studies=phase`).
"""

from __future__ import annotations

import dataclasses

from jaxlab.experiment.config import require, require_choice, require_choices
from jaxlab.papers.krr_inverse import torus

STUDIES = ("phase", "bias_independence", "oracle", "saturation", "smoothing", "bias_variance",
           "cross_checks")


@dataclasses.dataclass(frozen=True)
class Config:
  """Inverse-problem learning curves on the 1D torus (spec krr_inverse.md, section 5).

  Attributes:
    studies: studies to run, among phase, bias_independence, oracle, saturation, smoothing,
      bias_variance, cross_checks.
    ns: sample sizes of the phase diagram (E1.1) and the oracle curves (E1.3, E1.5).
    ns_independence: sample sizes of the inductive-bias study (E1.2).
    b2_max_n: largest n of the b = 2 oracle curve (E1.3).
    num_designs: designs (seeds) per n in E1.1, E1.3 and E1.5.
    num_designs_independence: designs per n in E1.2.
    num_noise: noise columns per design (variance = their mean).
    noise_std: noise standard deviation sigma (E1.5 uses sigma / 10).
    modes: Fourier modes M_T of the targets and of the error sums (>= 8 max n).
    lam_min_exp: log10 of the smallest positive ridge of the oracle grid.
    lam_max_exp: log10 of the largest ridge of the oracle grid.
    num_lams: positive ridges of the oracle grid (plus lambda = 0).
    saturation_n: n of the saturation study (E1.4).
    saturation_min_exp: log10 of the smallest ridge of E1.4.
    saturation_max_exp: log10 of the largest ridge of E1.4.
    saturation_num_lams: ridges of E1.4.
    saturation_designs: designs of E1.4.
    saturation_design: design of the gated E1.4 slopes, jittered or iid (iid designs add an
      aliasing floor at small lambda that flattens the b = 1 slopes; both are measured).
    aliasing_designs: iid designs averaged for the aliasing-dominated E1.4 row.
    bias_variance_n: n of the bias-variance figure (E1.6).
    bias_variance_designs: designs of E1.6.
    r_s: target smoothness of E1.3 and E1.6.
    slope_tol_scale: factor on every slope tolerance of the spec (1 = the spec's).
    level_tol_scale: factor on the level tolerances (E1.0 3%, E1.2 25%, E1.3 15%, E1.4 x1.35).
    num_bootstrap: bootstrap resamples of the slope CIs.
    seed: seed of the designs, noise and target phases.
  """

  studies: tuple[str, ...] = STUDIES
  ns: tuple[int, ...] = (128, 256, 512, 1024, 2048)
  ns_independence: tuple[int, ...] = (64, 128, 256, 512, 1024)
  b2_max_n: int = 1024
  num_designs: int = 4
  num_designs_independence: int = 6
  num_noise: int = 8
  noise_std: float = 1.0
  modes: int = 16384
  lam_min_exp: float = -10.0
  lam_max_exp: float = 1.0
  num_lams: int = 34
  saturation_n: int = 2048
  saturation_min_exp: float = -5.0
  saturation_max_exp: float = -2.0
  saturation_num_lams: int = 7
  saturation_designs: int = 2
  saturation_design: str = "jittered"
  aliasing_designs: int = 16
  bias_variance_n: int = 1024
  bias_variance_designs: int = 2
  r_s: float = 1.5
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
    self._check_sizes()
    self._check_grids()

  def _check_sizes(self):
    for name in ("ns", "ns_independence"):
      v = getattr(self, name)
      require(len(v) >= 3 and all(n >= 8 for n in v) and list(v) == sorted(set(v)), name,
              f"needs >= 3 increasing sample sizes >= 8 (a slope is fitted), got {v}")
    for name in ("num_designs", "num_designs_independence", "num_noise", "saturation_designs",
                 "bias_variance_designs", "num_bootstrap", "aliasing_designs"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    for name in ("saturation_n", "bias_variance_n", "b2_max_n"):
      require(getattr(self, name) >= 8, name, f"must be >= 8, got {getattr(self, name)}")
    require(sum(n <= self.b2_max_n for n in self.ns) >= 3, "b2_max_n",
            f"must keep >= 3 of ns {self.ns} for the b = 2 oracle slope, got {self.b2_max_n}")
    largest = max(self.ns + self.ns_independence + (self.saturation_n, self.bias_variance_n))
    require(self.modes >= 8 * largest, "modes",
            f"must be >= 8 x the largest n ({8 * largest}) (spec pitfall 6), got {self.modes}")

  def _check_grids(self):
    require(self.num_lams >= 3, "num_lams", f"must be >= 3, got {self.num_lams}")
    require(self.saturation_num_lams >= 3, "saturation_num_lams",
            f"must be >= 3 (a slope is fitted), got {self.saturation_num_lams}")
    require(self.lam_min_exp < self.lam_max_exp, "lam_max_exp",
            f"must exceed lam_min_exp ({self.lam_min_exp}), got {self.lam_max_exp}")
    require(self.saturation_min_exp < self.saturation_max_exp, "saturation_max_exp",
            f"must exceed saturation_min_exp ({self.saturation_min_exp})")
    require_choice(self.saturation_design, "saturation_design", torus.DESIGNS)
    require(self.noise_std > 0, "noise_std", f"must be > 0, got {self.noise_std}")
    require(self.r_s > 0.25 + 0.5, "r_s",
            f"must exceed rho + 1/2 = 0.75 (A u* needs point values), got {self.r_s}")


def default() -> Config:
  """The spec's section 5 grid with its tolerances: n = 128..2048, 4 designs x 8 noise
  columns, sigma = 1, M_T = 16384 modes, the ridge grid logspace(-10, 1, 34) plus 0. E1.4 runs
  on lambda in logspace(-5, -2) (the spec's alternative to (-6, -2): at n = 2048 the smallest
  ridges approach interpolation), its slopes gated on jittered designs (iid designs are
  measured too, see observations); its aliasing-dominated row is compared with the
  deterministic equivalent over 16 iid designs. Every study."""
  return Config()


def smoke() -> Config:
  """n up to 512, 3-4 designs x 6 noise columns, M_T = 4096 modes, a coarser ridge grid, E1.4
  at n = 512 on lambda in [1e-4, 1e-2] (the range scales like n^-2b); no E1.5. Smaller n are
  further from the asymptotic rates, so the slope tolerances are doubled and the level
  tolerances x1.5. About a minute on 2 CPU cores."""
  return Config(
      studies=("phase", "bias_independence", "oracle", "saturation", "bias_variance",
               "cross_checks"),
      ns=(128, 256, 512), ns_independence=(64, 128, 256, 512), b2_max_n=512, num_designs=3,
      num_designs_independence=4, num_noise=6, modes=4096, num_lams=23, saturation_n=512,
      saturation_min_exp=-4.0, saturation_num_lams=9, saturation_designs=1,
      aliasing_designs=8, bias_variance_n=256, bias_variance_designs=1, slope_tol_scale=2.0,
      level_tol_scale=1.5)
