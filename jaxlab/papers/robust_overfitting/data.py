"""The banded distributions of P4-A / P4-B and the robust approximator g they admit.

  bands = Bands(frequency=2, band=0.025, ramp=0.0125, noise=0.2)
  x, eta, y = sample(key, 256, bands, dim=1)    # x (256, 1) in the support, labels +-1
  support(bands)                                # (lo (2k,), hi (2k,), sign (2k,)) of S_1
  g = square_wave(bands)                        # PiecewiseLinear g on [0, 1]

On [0, 1] the zeros of sin(2 pi k t) are z_j = j / (2k), j = 0..2k. Each carries a no-mass band
[z_j - band, z_j + band]; the support S_1 is [0, 1] minus the bands (2k intervals of length
1/(2k) - 2 band), the density is uniform on it (rho_1 = 1 / (1 - 4 k band)) and the Bayes label
is sign sin(2 pi k t) (+1 on the even intervals). In 2D the support is S_1 x S_1 (density
rho_1^2) and the Bayes label is the checkerboard sign sin(2 pi k x_1) sin(2 pi k x_2). A label
is flipped with probability `noise`.

g (arXiv 2401.13624, construction step 1, made concrete): the 1D square wave s equals the Bayes
label on [0, 1] except on ramps of half-width `ramp` < `band` centred on the interior zeros,
where it is linear; in 2D g = |s(x_1) + s(x_2)| - 1, which equals s(x_1) s(x_2) wherever one
coordinate is off a ramp. So sign g is the Bayes label on every delta-ball around a support
point for delta < band (1D), and g is the constant Bayes label on such balls for
delta + ramp < band (2D).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxlab.experiment.config import require
from jaxlab.papers.robust_overfitting.piecewise_linear import PiecewiseLinear


@dataclasses.dataclass(frozen=True)
class Bands:
  """A banded distribution (module docstring).

  Attributes:
    frequency: k: the Bayes label is sign sin(2 pi k t) per coordinate.
    band: half-width of the no-mass band around each zero of sin(2 pi k t).
    ramp: half-width of g's linear ramp around each interior zero (0 < ramp < band).
    noise: label-noise rate p in [0, 0.5).
  """

  frequency: int = 2
  band: float = 0.025
  ramp: float = 0.0125
  noise: float = 0.2

  def __post_init__(self):
    require(self.frequency >= 1, "frequency", f"must be >= 1, got {self.frequency}")
    require(0 < self.band and 4 * self.frequency * self.band < 1, "band",
            f"must be in (0, 1 / (4 frequency)) so the support is not empty, got {self.band}")
    require(0 < self.ramp < self.band, "ramp",
            f"must be in (0, band = {self.band}), got {self.ramp}")
    require(0 <= self.noise < 0.5, "noise", f"must be in [0, 0.5), got {self.noise}")


def zeros(bands: Bands) -> np.ndarray:
  """The zeros z_j = j / (2k) of sin(2 pi k t) in [0, 1], `(2k + 1,)`."""
  return np.arange(2 * bands.frequency + 1, dtype=np.float64) / (2 * bands.frequency)


def support(bands: Bands) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The 2k intervals of S_1 as `(lo, hi, sign)`, each `(2k,)`; sign is the Bayes label."""
  z = zeros(bands)
  lo, hi = z[:-1] + bands.band, z[1:] - bands.band
  sign = np.where(np.arange(len(lo)) % 2 == 0, 1.0, -1.0)
  return lo, hi, sign


def density(bands: Bands, dim: int = 1) -> float:
  """rho = 1 / |S|^dim, the uniform density on the support in `dim` dimensions."""
  return float((1.0 - 4 * bands.frequency * bands.band) ** -dim)


def bayes_sign(x: np.ndarray, bands: Bands) -> np.ndarray:
  """The Bayes label `(N,)` of points `x (N, d)` (exact off the zeros)."""
  cell = np.floor(np.clip(np.asarray(x, np.float64), 0.0, 1.0 - 1e-16) * 2 * bands.frequency)
  return np.prod(np.where(cell % 2 == 0, 1.0, -1.0), axis=-1)


def generator(key: jax.Array) -> np.random.Generator:
  """A numpy generator seeded by `key`'s data (as `jaxlab.experiment.gates.fit_slope` does):
  float64 draws of any shape without compiling a sampler per shape."""
  return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def sample(key: jax.Array, n: int, bands: Bands, dim: int = 1
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """n points from the banded distribution in `dim` dimensions: `x (n, dim)` float64, the
  Bayes label `eta (n,)` and the noisy label `y (n,)` (both +-1). Positions are float64 with
  53 random bits (they must not collide when widths are 1e-11)."""
  rng = generator(key)
  lo, hi, _ = support(bands)
  length = hi - lo
  u = rng.random((n, dim)) * length.sum()
  edges = np.concatenate([[0.0], np.cumsum(length)])
  cell = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, len(lo) - 1)
  x = lo[cell] + (u - edges[cell])
  eta = np.prod(np.where(cell % 2 == 0, 1.0, -1.0), axis=-1)
  flip = rng.random(n) < bands.noise
  return x, eta, np.where(flip, -eta, eta)


def square_wave(bands: Bands) -> PiecewiseLinear:
  """The 1D square wave s on [0, 1] (module docstring): +-1 with linear ramps of half-width
  `ramp` at the interior zeros; 2 (2k - 1) kinks."""
  z = zeros(bands)[1:-1]
  r = bands.ramp
  knots = np.concatenate([[0.0], np.stack([z - r, z + r], -1).ravel(), [1.0]])
  level = np.where(np.arange(len(z) + 1) % 2 == 0, 1.0, -1.0)   # the value between ramps
  values = np.concatenate([[1.0], np.stack([level[:-1], level[1:]], -1).ravel(), [level[-1]]])
  return PiecewiseLinear(knots, values)


def g_value(x: np.ndarray, bands: Bands) -> np.ndarray:
  """g at `x (N, d)` for d = 1 (the square wave) or 2 (|s(x_1) + s(x_2)| - 1); `(N,)`."""
  s = square_wave(bands)(np.asarray(x, np.float64))
  if s.shape[-1] == 1:
    return s[..., 0]
  if s.shape[-1] == 2:
    return np.abs(s[..., 0] + s[..., 1]) - 1.0
  raise ValueError(f"x: g is defined for d = 1 or 2, got d = {s.shape[-1]}")
