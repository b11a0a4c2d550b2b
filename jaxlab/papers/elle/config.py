"""Configs of the ELLE study: methods x eps x seeds of adversarial training on digits.

  config = default()           # the 2-seed study (experiments/flags/elle.flags)
  config = smoke()             # FGSM, ELLE-A and PGD-10 AT at eps 0.2, one seed, 8x8
  config = co_study()          # preset `study`: 5 seeds, APGD, the default CNN (elle_study.flags)
  config = co_study_resnet()   # preset `study_resnet`: the same on the small PreActResNet, 8x8
  config = cifar10()           # the reference recipe: PreActResNet-18 on CIFAR-10 (GPU)
  config = dataclasses.replace(default(), eps=(0.3, 0.2, 0.1), seeds=(0, 1, 2, 3, 4))

The field defaults of `Config` are the default study, so `Config()` == `default()`.
"""

from __future__ import annotations

import dataclasses

from jaxlab.adversarial import attacks, training
from jaxlab.data.config import DataConfig
from jaxlab.experiment.config import require, require_choice
from jaxlab.models.config import ModelConfig
from jaxlab.training.optim import OptimConfig


def _at_least_one(config, names: tuple[str, ...]) -> None:
  for name in names:
    require(getattr(config, name) >= 1, name, f"must be >= 1, got {getattr(config, name)}")


def _positive(config, names: tuple[str, ...]) -> None:
  for name in names:
    require(getattr(config, name) > 0, name, f"must be > 0, got {getattr(config, name)}")


@dataclasses.dataclass(frozen=True)
class PGDTrainingConfig:
  """The attack of PGD adversarial training (the `pgd` method).

  Attributes:
    steps: attack steps.
    step_scale: attack step in units of eps.
  """

  steps: int = 10
  step_scale: float = 0.25

  def __post_init__(self):
    _at_least_one(self, ("steps",))
    _positive(self, ("step_scale",))


@dataclasses.dataclass(frozen=True)
class RegularizerConfig:
  """The regularisers' weights and ELLE-A's adaptive lambda (arXiv 2401.11618).

  Attributes:
    elle_lambda: ELLE's constant lambda (1000, the reference's value at 8/255; 5000 collapsed
      to a constant classifier in 2 of 4 runs of the default study at eps 0.3).
    elle_lambdas: ELLE's lambda per radius, one per `Config.eps` in the same order (the
      reference scripts set it by eps); empty: `elle_lambda` at every radius.
    elle_a_lambda_max: lambda_max of ELLE-A and N-FGSM+ELLE-A.
    elle_a_after_warmup: ELLE-A's schedule sees only steps at the full radius (an ablation:
      during the radius ramp-up its detector fires on the ramp; `training.Method`).
    gradalign_lambda: GradAlign's constant lambda.
    decay: ELLE-A's decay of lambda per step without a trigger.
    num_std: ELLE-A triggers when E_lin exceeds the history's mean by this many std.
    window: ELLE-A history window in steps (0 = the whole run).
  """

  elle_lambda: float = 1000.0
  elle_lambdas: tuple[float, ...] = ()
  elle_a_lambda_max: float = 5000.0
  elle_a_after_warmup: bool = False
  gradalign_lambda: float = 2.0
  decay: float = 0.99
  num_std: float = 2.0
  window: int = 0

  def __post_init__(self):
    for name in ("elle_lambda", "elle_a_lambda_max", "gradalign_lambda", "window"):
      require(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
    require(all(v >= 0 for v in self.elle_lambdas), "elle_lambdas",
            f"must be >= 0, got {self.elle_lambdas}")
    require(0 <= self.decay <= 1, "decay", f"must be in [0, 1], got {self.decay}")


@dataclasses.dataclass(frozen=True)
class CurvesConfig:
  """What is measured after every epoch, on fixed subsets with fixed keys.

  Attributes:
    examples: size of the fixed test and training subsets (clean / PGD test accuracy, FGSM
      training accuracy).
    pgd_steps: steps of the per-epoch PGD (one random start).
    pgd_step_scale: step of the per-epoch PGD in units of eps.
    probe_examples: size of the fixed val batch for E_lin and the GradAlign cosine.
  """

  examples: int = 128
  pgd_steps: int = 5
  pgd_step_scale: float = 0.25
  probe_examples: int = 128

  def __post_init__(self):
    _at_least_one(self, ("examples", "pgd_steps", "probe_examples"))
    _positive(self, ("pgd_step_scale",))


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
  """The final evaluation on the whole test split (`adversarial.evaluation`).

  Attributes:
    steps: steps of the final PGD (step step_scale * eps).
    restarts: random restarts of the final PGD (the reported pgd_acc is PGD-steps-restarts).
    step_scale: step of the final PGD in units of eps.
    short_steps: steps of the weaker PGD of the gradient-masking check.
    apgd_iters: iterations of APGD-CE and APGD-T (AutoAttack's gradient attacks,
      `evaluation.autoattack_gradient`, one restart each); 0 = not run.
    apgd_targets: target classes of APGD-T.
  """

  steps: int = 50
  restarts: int = 2
  step_scale: float = 0.25
  short_steps: int = 10
  apgd_iters: int = 0
  apgd_targets: int = 9

  def __post_init__(self):
    _at_least_one(self, ("steps", "restarts", "short_steps", "apgd_targets"))
    _positive(self, ("step_scale",))
    require(self.apgd_iters >= 0, "apgd_iters", f"must be >= 0, got {self.apgd_iters}")


@dataclasses.dataclass(frozen=True)
class COConfig:
  """The catastrophic-overfitting flag of a run (`evaluation.is_catastrophic`).

  Attributes:
    max_pgd_acc: CO: the final PGD accuracy is below this ...
    min_fgsm_acc: ... while the last epoch's FGSM training accuracy is at least this.
    collapse_acc: a run whose final clean accuracy is at most this has collapsed to a (near)
      constant classifier (chance on 10 classes: 0.1); reported per run, apart from CO.
  """

  max_pgd_acc: float = 0.05
  min_fgsm_acc: float = 0.5
  collapse_acc: float = 0.15

  def __post_init__(self):
    for name in ("max_pgd_acc", "min_fgsm_acc", "collapse_acc"):
      require(0 <= getattr(self, name) <= 1, name, "must be in [0, 1]")


@dataclasses.dataclass(frozen=True)
class Config:
  """The catastrophic-overfitting study: methods x eps x seeds.

  Attributes:
    methods: adversarial-training methods: fgsm, rs_fgsm, n_fgsm, pgd, gradalign, elle, elle_a,
      n_fgsm_elle_a.
    eps: radii of the training and evaluation ball (inputs in [0, 1]).
    seeds: seeds of initialisation, shuffling and attacks (one run per seed).
    data_seed: seed of the fixed train / val / test split.
    norm: threat model, linf or l2.
    dataset: the data (digits resized to 32x32).
    model: the classifier (a one-conv CNN; `--model=preact_resnet --depth=10 --width=8` is the
      small PreActResNet with BatchNorm).
    optim: the optimiser (SGD with a triangular, 0 -> peak -> 0, learning rate).
    num_epochs: training epochs.
    batch_size: training batch size.
    eps_warmup_epochs: ramp the training radius linearly up to eps over this many epochs
      (0 = full eps from the first step).
    augment: random crop (zero padding 4) and horizontal flip of every training batch (the
      CIFAR-10 recipe).
    clip_train: clip training attack points and ELLE triplets to [0, 1] (the evaluation
      attacks always clip; False is the reference CIFAR code, which does not).
    pgd: the attack of PGD adversarial training.
    regularizer: ELLE's, ELLE-A's and GradAlign's weights, ELLE-A's schedule.
    curves: the per-epoch measurements.
    evaluation: the final evaluation.
    co: the CO flag.
    workers: runs trained at once in separate processes (1 = one after another).
  """

  methods: tuple[str, ...] = ("fgsm", "pgd", "gradalign", "elle", "elle_a")
  eps: tuple[float, ...] = (0.3, 0.2)
  seeds: tuple[int, ...] = (0, 1)
  data_seed: int = 0
  norm: str = "linf"
  dataset: DataConfig = DataConfig(name="digits", image_size=32)
  model: ModelConfig = ModelConfig(name="cnn", width=32, depth=1)
  optim: OptimConfig = OptimConfig(optimizer="sgd", learning_rate=0.05, schedule="triangular",
                                   weight_decay=5e-4, momentum=0.9)
  num_epochs: int = 20
  batch_size: int = 64
  eps_warmup_epochs: int = 6
  augment: bool = False
  clip_train: bool = True
  pgd: PGDTrainingConfig = PGDTrainingConfig()
  regularizer: RegularizerConfig = RegularizerConfig()
  curves: CurvesConfig = CurvesConfig()
  evaluation: EvaluationConfig = EvaluationConfig()
  co: COConfig = COConfig()
  workers: int = 1

  def __post_init__(self):
    require(len(self.methods) > 0, "methods", "give at least one method")
    for name in self.methods:
      require_choice(name, "methods", training.METHODS)
    require(len(set(self.methods)) == len(self.methods), "methods", "duplicates")
    require(len(self.eps) > 0 and all(e > 0 for e in self.eps), "eps",
            f"give radii > 0, got {self.eps}")
    require(len(set(self.eps)) == len(self.eps), "eps", "duplicates")
    require(len(self.seeds) > 0 and len(set(self.seeds)) == len(self.seeds), "seeds",
            f"give distinct seeds, got {self.seeds}")
    require_choice(self.norm, "norm", attacks.NORMS)
    _at_least_one(self, ("num_epochs", "batch_size", "workers"))
    require(not self.regularizer.elle_lambdas
            or len(self.regularizer.elle_lambdas) == len(self.eps), "regularizer.elle_lambdas",
            f"give one lambda per radius ({len(self.eps)}), got {self.regularizer.elle_lambdas}")
    require(0 <= self.eps_warmup_epochs <= self.num_epochs, "eps_warmup_epochs",
            f"must be <= num_epochs ({self.num_epochs}), got {self.eps_warmup_epochs}")


def default() -> Config:
  """The README's study: FGSM, PGD-10, GradAlign (lambda 2), ELLE (lambda 1000) and ELLE-A
  (lambda_max 5000) AT at eps 0.3 and 0.2, 2 seeds (20 runs), on digits resized to 32x32
  with a one-conv CNN (32 channels, 2x2 pooling, dense 32); SGD (momentum 0.9, wd 5e-4),
  triangular LR peaking at 0.05, batch 64, 20 epochs, the training radius ramped up over 6
  epochs, training points clipped to [0, 1]; per epoch PGD-5 on 128 test images; final
  PGD-50-2. About 13 minutes on 2 CPU cores."""
  return Config()


def smoke() -> Config:
  """The pipeline at a size that runs in under a minute on 2 CPU cores: FGSM, ELLE-A and
  PGD-10 AT at eps 0.2, one seed, the default CNN on the 8x8 digits (no resizing), 10 epochs
  (the radius ramped up over 3), a lighter final evaluation (PGD-20, one restart; PGD-5 for
  the masking check). At this size FGSM AT does not show CO (`co_study()` does)."""
  return dataclasses.replace(
      default(), methods=("fgsm", "elle_a", "pgd"), eps=(0.2,), seeds=(0,),
      dataset=DataConfig(name="digits"), num_epochs=10, eps_warmup_epochs=3,
      evaluation=EvaluationConfig(steps=20, restarts=1, short_steps=5))


STUDY_SEEDS = (0, 1, 2, 3, 4)


def co_study() -> Config:
  """The catastrophic-overfitting study with seeds: the default study's training (the same
  model, data and lambdas, so its seeds 0 and 1 are the default study's runs) for FGSM,
  PGD-10, ELLE and ELLE-A AT at eps 0.3 and 0.2 with 5 seeds (40 runs), evaluated with
  PGD-50 (one restart) and APGD-CE + APGD-T (50 iterations, 3 target classes)."""
  return dataclasses.replace(
      default(), methods=("fgsm", "pgd", "elle", "elle_a"), seeds=STUDY_SEEDS,
      evaluation=EvaluationConfig(steps=50, restarts=1, short_steps=10, apgd_iters=50,
                                  apgd_targets=3))


def co_study_resnet() -> Config:
  """`co_study()` on the small PreActResNet (`ModelConfig(name="preact_resnet", width=8,
  depth=10)`: one pre-activation block per stage, BatchNorm) and the 8x8 digits (a 32x32
  ResNet run costs too much on CPU), at eps 0.3, 10 epochs (the radius ramped up over 3),
  ELLE lambda 100 and ELLE-A lambda_max 300: on this model ELLE at the CNN's lambda 1000
  fails (clean accuracy 0.10-0.16 on 3 of 3 seeds) and ELLE-A at lambda_max 1000 diverges
  or collapses (2 of 2 seeds); see docs/papers/elle.md for the lambda sweep."""
  return dataclasses.replace(
      co_study(), eps=(0.3,), dataset=DataConfig(name="digits"), num_epochs=10,
      eps_warmup_epochs=3,
      model=ModelConfig(name="preact_resnet", width=8, depth=10),
      regularizer=RegularizerConfig(elle_lambda=100.0, elle_a_lambda_max=300.0))


def cifar10() -> Config:
  """The reference CIFAR-10 recipe (LIONS-EPFL/ELLE scripts, arXiv 2401.11618), GPU work:
  PreActResNet-18 (BatchNorm, no input normalisation) on CIFAR-10 read by
  tensorflow-datasets (`--data_dir`), random crop (pad 4) and flip, 30 epochs of batch 128,
  SGD (momentum 0.9, wd 5e-4, one update per batch) with the cyclic LR 0 -> 0.2 -> 0 peaking
  at half of the steps, eps 8/255 and 16/255 with the FGSM step eps and unclipped training
  points, FGSM / ELLE (lambda 1000 at 8/255, 5000 at 16/255) / ELLE-A (lambda_max 4000,
  decay 0.99, 2 std, whole-run history) / PGD-10 AT, seed 1; per epoch PGD-20 (step eps/8)
  on 1024 test images; final PGD-50-10 (step eps/4) and APGD-CE + APGD-T (100 iterations)."""
  return dataclasses.replace(
      default(), methods=("fgsm", "elle", "elle_a", "pgd"), eps=(8 / 255, 16 / 255), seeds=(1,),
      dataset=DataConfig(name="tfds:cifar10", data_dir="~/tensorflow_datasets"),
      model=ModelConfig(name="preact_resnet", width=64, depth=18),
      optim=OptimConfig(optimizer="sgd", learning_rate=0.2, schedule="triangular",
                        weight_decay=5e-4, momentum=0.9),
      num_epochs=30, batch_size=128, eps_warmup_epochs=0, augment=True, clip_train=False,
      regularizer=RegularizerConfig(elle_lambdas=(1000.0, 5000.0), elle_a_lambda_max=4000.0),
      curves=CurvesConfig(examples=1024, pgd_steps=20, pgd_step_scale=0.125, probe_examples=128),
      evaluation=EvaluationConfig(steps=50, restarts=10, apgd_iters=100))
