"""Configs of the mean-field ResNet study: one config per part, the presets as code.

  config = default()                   # the study the README reports (a few minutes, 2 cores)
  config = smoke()                     # every check still passes, about a minute
  config = dataclasses.replace(smoke(), limit=dataclasses.replace(smoke().limit, num_seeds=2))

On the command line every field is a flag by its dotted path (`--limit.depths=2,4,8`,
`--generalisation.num_seeds=3`); names used once in the config also work short (`--betas`).
"""

from __future__ import annotations

import dataclasses

from jaxlab.experiment.config import require


@dataclasses.dataclass(frozen=True)
class BetaSweepConfig:
  """P1-A / P1-C: one initialisation trained by particle GD at every output scale beta.

  Attributes:
    betas: output scales beta (increasing).
    num_steps: particle-GD steps.
    log_every: steps between logged metrics.
    rate_start: first step of the window where the observed log-loss decrement per step is
      compared with the bound (skips the transient).
    rate_floor: the rate window ends at the last logged step with R(t) / R(0) above this
      (float64 rounding floor of the loss).
    knn_k: neighbours of the k-NN KL estimator.
    knn_reference: fresh N(0, I) reference samples of the k-NN KL estimator.
  """

  betas: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
  num_steps: int = 4000
  log_every: int = 50
  rate_start: int = 500
  rate_floor: float = 1e-20
  knn_k: int = 1
  knn_reference: int = 2048

  def __post_init__(self):
    for name in ("num_steps", "log_every", "knn_k"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(len(self.betas) >= 2 and all(b > 0 for b in self.betas) and
            list(self.betas) == sorted(set(self.betas)), "betas",
            f"need at least 2 increasing positive values, got {self.betas}")
    require(self.num_steps % self.log_every == 0, "log_every",
            f"must divide num_steps={self.num_steps}, got {self.log_every}")
    require(0 <= self.rate_start < self.num_steps, "rate_start",
            f"must be in [0, num_steps={self.num_steps}), got {self.rate_start}")
    require(0 < self.rate_floor < 1, "rate_floor", f"must be in (0, 1), got {self.rate_floor}")
    require(self.knn_reference >= self.knn_k, "knn_reference",
            f"must be >= knn_k={self.knn_k}, got {self.knn_reference}")


@dataclasses.dataclass(frozen=True)
class LimitConfig:
  """P1-B: models of depth L and width M from one draw against a reference model.

  Attributes:
    depths: depths L (at width ref_width), increasing and below ref_depth.
    widths: widths M (at depth ref_depth), increasing and below ref_width.
    ref_depth: depth of the reference model.
    ref_width: width of the reference model.
    beta: output scale beta.
    num_steps: GD steps of every model.
    num_seeds: initialisations (vmapped); errors are averaged over them.
  """

  depths: tuple[int, ...] = (4, 8, 16, 32)
  widths: tuple[int, ...] = (16, 64, 256)
  ref_depth: int = 64
  ref_width: int = 1024
  beta: float = 1.0
  num_steps: int = 100
  num_seeds: int = 4

  def __post_init__(self):
    for name in ("ref_depth", "ref_width", "num_steps", "num_seeds"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.beta > 0, "beta", f"must be > 0, got {self.beta}")
    for name, ref in (("depths", self.ref_depth), ("widths", self.ref_width)):
      values = getattr(self, name)
      require(len(values) >= 2 and list(values) == sorted(set(values)) and values[0] >= 1 and
              values[-1] < ref, name, f"need at least 2 increasing values in [1, {ref}) "
              f"(below the reference), got {values}")


@dataclasses.dataclass(frozen=True)
class GeneralisationConfig:
  """P1-D: the generalisation gap against the training-set size n, beta = beta_scale sqrt(n).

  Attributes:
    sizes: training-set sizes n (increasing, >= 2).
    beta_scale: beta = beta_scale * sqrt(n).
    learning_rate: particle-GD learning rate, the same for every n (the same training time).
    num_steps: GD steps.
    num_seeds: data and initialisation draws per n (vmapped); results are averaged.
  """

  sizes: tuple[int, ...] = (16, 32, 64, 128, 256)
  beta_scale: float = 0.5
  learning_rate: float = 0.125
  num_steps: int = 1000
  num_seeds: int = 3

  def __post_init__(self):
    for name in ("num_steps", "num_seeds"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    for name in ("beta_scale", "learning_rate"):
      require(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
    require(len(self.sizes) >= 2 and list(self.sizes) == sorted(set(self.sizes)) and
            self.sizes[0] >= 2, "sizes",
            f"need at least 2 increasing values >= 2, got {self.sizes}")


@dataclasses.dataclass(frozen=True)
class Config:
  """Mean-field ResNet studies (float64). Data: inputs uniform on the unit sphere of R^dim,
  targets y = sin(3 x_1) + x_2 x_3.

  Attributes:
    seed: seed of the data, initialisations and k-NN reference samples.
    dim: input dimension d (>= 3, the target reads x_1, x_2, x_3).
    num_train: training points n of the beta sweep and of the limit sweep.
    num_test: test points (test MSE; sup error of the limit sweep).
    depth: ResNet depth L of the beta sweep and the generalisation study.
    width: ResNet particles per layer M of the beta sweep and the generalisation study (> 2 dim,
      for the per-layer moment-matched KL).
    head_width: head particles K (even: the head is symmetric so that f_0 = 0).
    alpha: residual-branch scale alpha.
    eta_beta2: eta * beta^2 in the beta sweep and the limit sweep (eta = eta_beta2 / beta^2).
    beta_sweep: the beta sweep (P1-A, P1-C).
    limit: the approach to the mean-field limit (P1-B).
    generalisation: the generalisation gap against n (P1-D).
  """

  seed: int = 0
  dim: int = 16
  num_train: int = 16
  num_test: int = 512
  depth: int = 8
  width: int = 64
  head_width: int = 512
  alpha: float = 1.0
  eta_beta2: float = 0.5
  beta_sweep: BetaSweepConfig = BetaSweepConfig()
  limit: LimitConfig = LimitConfig()
  generalisation: GeneralisationConfig = GeneralisationConfig()

  def __post_init__(self):
    for name in ("num_train", "num_test", "depth"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.dim >= 3, "dim", f"must be >= 3 (y = sin(3 x_1) + x_2 x_3), got {self.dim}")
    require(self.width > 2 * self.dim, "width",
            f"must exceed 2 * dim = {2 * self.dim} (per-layer covariance of the KL estimate), "
            f"got {self.width}")
    require(self.head_width >= 2 and self.head_width % 2 == 0 and
            self.head_width > self.dim + 1, "head_width",
            f"must be even and > dim + 1 = {self.dim + 1}, got {self.head_width}")
    for name in ("alpha", "eta_beta2"):
      require(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
    require(self.beta_sweep.knn_k < min(self.width, self.head_width // 2), "beta_sweep.knn_k",
            f"must be < width and head_width / 2, got {self.beta_sweep.knn_k}")


def default() -> Config:
  """The study the README reports (spec section 5 sizes): L = 8, M = 64, K = 512, 4000 steps
  at beta = 1, 2, 4, 8; limit sweep L = 4..32, M = 16..256 against L = 64, M = 1024 (4 seeds);
  generalisation at n = 16..256 with 3 seeds. A few minutes on 2 CPU cores."""
  return Config()


def smoke() -> Config:
  """Smaller models and grids (L = 4, M = 40, K = 128, 1500 steps; limit sweep against
  L = 32, M = 512; n = 16, 32, 64 with one seed): every check still passes, about a minute
  on 2 CPU cores."""
  return Config(
      num_test=256, depth=4, width=40, head_width=128,
      beta_sweep=BetaSweepConfig(num_steps=1500, rate_start=300),
      limit=LimitConfig(depths=(2, 4, 8), widths=(8, 32, 128), ref_depth=32, ref_width=512,
                        num_steps=50),
      generalisation=GeneralisationConfig(sizes=(16, 32, 64), num_steps=400, num_seeds=1))
