"""Configs of the MEHL-Soup study: the data, the model, the shared start, the ingredients'
search space, the soups and their budgets, the seeds, the drop-top-k robustness study and the
ablation grid.

  config = default()                                   # the study of mehl_soup.flags
  config = dataclasses.replace(smoke(), num_ingredients=8)
  config.seeds                                         # (0, 1, 2, 3, 4): one command, all seeds
  config.search_space.learning_rate                    # (3e-4, 3e-3), log-uniform
  ablation().ablation.lr_max                           # the fine-tuning lr ranges it compares
"""

from __future__ import annotations

import dataclasses

from jaxlab.data.config import DataConfig
from jaxlab.experiment.config import require, require_choice, require_choices
from jaxlab.models.config import ModelConfig
from jaxlab.papers.mehl_soup.methods import METHOD_NAMES
from jaxlab.soups import mehl
from jaxlab.soups.ingredients import SOURCE_TASKS, SearchSpace


@dataclasses.dataclass(frozen=True)
class Ablation:
  """The ablation grid: the whole study (every seed) once per cell, a fine-tuning learning-rate
  range times a pre-training strength. Empty tuples (the default) run the study itself.

  Attributes:
    lr_max: upper ends of the fine-tuning learning-rate ranges; each range spans one decade,
      (lr_max / 10, lr_max), log-uniform.
    pretrain_epochs: pre-training epochs of the shared start (0: no pre-training, a random
      backbone with a probed head).
  """

  lr_max: tuple[float, ...] = ()
  pretrain_epochs: tuple[int, ...] = ()

  def __post_init__(self):
    require(bool(self.lr_max) == bool(self.pretrain_epochs), "lr_max",
            "the ablation needs both lr_max and pretrain_epochs, or neither")
    require(all(x > 0 for x in self.lr_max), "lr_max", f"must be > 0, got {self.lr_max}")
    require(all(e >= 0 for e in self.pretrain_epochs), "pretrain_epochs",
            f"must be >= 0, got {self.pretrain_epochs}")

  @property
  def active(self) -> bool:
    return bool(self.lr_max)


@dataclasses.dataclass(frozen=True)
class Config:
  """MEHL-Soup versus the model-soup baselines, over seeds.

  Attributes:
    dataset: the data (`--dataset=digits`, `--image_size=16`, `--data_dir=...`).
    model: the classifier every ingredient shares (`--model=mlp`, `--width=256`, ...).
    label_fraction: fraction of the training split (stratified) whose labels the probe and
      the fine-tunes use; the source task uses all training images.
    source_task: pre-training task of the shared start: half (the first half of the
      classes), parity (label mod 2) or none (random backbone, probe only).
    pretrain_epochs: epochs of source-task pre-training (shift + noise augmentation on; 0:
      none, as source_task=none).
    pretrain_lr: AdamW peak learning rate of pre-training.
    probe_epochs: epochs of the linear probe of the new head.
    probe_lr: Adam peak learning rate of the probe.
    num_ingredients: K, fine-tuned ingredients per seed.
    search_space: the ingredients' random-search ranges (`--search_space.learning_rate=
      3e-4,3e-3`, `--mixup=0,0.5`, ...); its max_shift and noise_std also augment
      pre-training.
    batch_size: batch size of pre-training, probe and fine-tuning.
    methods: soups to build: best_individual, uniform, greedy, mehl, mehl_plus,
      mehl_plus_raw, learned, learned_plus.
    block_size: b, ingredients per MEHL block (resident at once).
    coef_lr: MEHL-Soup(+) AdamW learning rate (20% warm-up, then cosine, per block).
    coef_epochs: E, MEHL-Soup(+) passes over val per block.
    outer_epochs: T, MEHL-Soup(+) passes over all ingredients.
    centre: MEHL centre: global_mean (paper form: directions from the mean of all K, first
      anchor the uniform soup) or running (reference code: first anchor the mean of the first
      block, then the current soup).
    normalize: unit-norm MEHL directions per layer group (reference code) for mehl and
      mehl_plus; mehl_plus_raw always uses the raw differences (the paper's formulation).
    clip_norm: MEHL weight-space gradient clipping norm (0 = off).
    learned_lr: Learned-Soup(+) AdamW learning rate (constant).
    learned_epochs: Learned-Soup(+) passes over val.
    coef_batch_size: val batch size of Learned-Soup(+) and MEHL-Soup(+).
    drop_top: robustness study: numbers k of best ingredients (by val accuracy) removed
      before greedy and MEHL-Soup+ are rebuilt from the rest (0 is the main result).
    memory_ks: numbers of ingredients at which the Learned-Soup+ and MEHL-Soup+ coefficient
      steps are compiled for the memory-vs-K figure.
    eval_batch_size: evaluation batch size.
    seeds: one replicate per seed; each re-draws the data split, the start, the recipes and
      the soups' randomness. Finished seeds are kept by --resume.
    ablation: the ablation grid (`--ablation.lr_max=...`); empty runs the study itself.
  """

  dataset: DataConfig = DataConfig(name="digits", image_size=16, input_noise=0.4)
  model: ModelConfig = ModelConfig(name="mlp", width=256, depth=2, patch_size=4, num_heads=4)
  label_fraction: float = 1.0
  source_task: str = "half"
  pretrain_epochs: int = 20
  pretrain_lr: float = 2e-3
  probe_epochs: int = 20
  probe_lr: float = 1e-2
  num_ingredients: int = 32
  search_space: SearchSpace = SearchSpace(learning_rate=(3e-4, 3e-3), epochs=(4, 12),
                                          max_shift=1)
  batch_size: int = 32
  methods: tuple[str, ...] = METHOD_NAMES
  block_size: int = 4
  coef_lr: float = 0.01
  coef_epochs: int = 5
  outer_epochs: int = 1
  centre: str = "global_mean"
  normalize: bool = True
  clip_norm: float = 1.0
  learned_lr: float = 0.05
  learned_epochs: int = 5
  coef_batch_size: int = 8
  drop_top: tuple[int, ...] = (0, 2, 11, 21)
  memory_ks: tuple[int, ...] = (8, 16, 32, 72)
  eval_batch_size: int = 512
  seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
  ablation: Ablation = Ablation()

  def __post_init__(self):
    require(self.dataset.name not in ("tweets", "teacher_student"), "dataset.name",
            f"{self.dataset.name!r} is not an image/feature classification set; valid here: "
            "digits, gaussian_mixture, tfds:<name>")
    require(0 < self.label_fraction <= 1, "label_fraction",
            f"must be in (0, 1], got {self.label_fraction}")
    require_choice(self.source_task, "source_task", SOURCE_TASKS)
    require(self.pretrain_epochs >= 0, "pretrain_epochs",
            f"must be >= 0, got {self.pretrain_epochs}")
    for name in ("probe_epochs", "batch_size", "block_size", "coef_epochs", "outer_epochs",
                 "learned_epochs", "coef_batch_size", "eval_batch_size"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.num_ingredients >= 2, "num_ingredients",
            f"must be >= 2, got {self.num_ingredients}")
    for name in ("pretrain_lr", "probe_lr", "coef_lr", "learned_lr"):
      require(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
    require_choices(self.methods, "methods", METHOD_NAMES)
    require(len(set(self.methods)) == len(self.methods), "methods",
            f"names a method twice: {','.join(self.methods)}")
    require_choice(self.centre, "centre", mehl.CENTRES)
    require(self.clip_norm >= 0, "clip_norm", f"must be >= 0, got {self.clip_norm}")
    require(all(0 <= k <= self.num_ingredients - 2 for k in self.drop_top)
            and len(set(self.drop_top)) == len(self.drop_top), "drop_top",
            f"expected distinct k in [0, num_ingredients - 2 = {self.num_ingredients - 2}], "
            f"got {self.drop_top}")
    require(not self.drop_top or {"greedy", "mehl_plus"} <= set(self.methods), "drop_top",
            "the robustness study rebuilds greedy and mehl_plus: select both in --methods, "
            "or set --drop_top= (empty)")
    require(len(self.memory_ks) >= 1 and min(self.memory_ks) >= 1, "memory_ks",
            f"expected positive integers, got {self.memory_ks}")
    require(len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds), "seeds",
            f"expected one or more distinct seeds, got {self.seeds}")


def drop_top_for(k: int) -> tuple[int, ...]:
  """The robustness study's k values scaled to K ingredients: 0, 2, K/3 and 2K/3 (rounded;
  the MEHL README's 0, 2, 22, 42 at K = 72 are about K/3 and 0.6 K)."""
  return tuple(sorted({0, min(2, k - 2), round(k / 3), round(2 * k / 3)}))


def default() -> Config:
  """The README's main job: five seeds of 32 ingredients of an MLP 2x256 on noisy digits
  (16x16, fixed pixel noise 0.4), fine-tuned on every training label from a start pre-trained
  on digits 0-4 and probed on all ten. Recipes as in the model-soups random search, scaled to
  this model: AdamW lr log-uniform 3e-4..3e-3 (one decade, as the reference's 1e-6..1e-4
  spans two below CLIP's usual rate), 4-12 epochs, wd 1e-5..0.5, label smoothing 0-0.2,
  shift (1 px) + noise augmentation and mixup each on with probability 0.5, so that every
  fine-tune stays in the start's basin and fine-tuning helps on average. MEHL: b = 4, E = 5,
  T = 1, lr 0.01, 20% warm-up + cosine, clip 1 (reference code), global-mean centre (paper
  form). Robustness: the top 0, 2, 11, 21 ingredients removed."""
  return Config()


def smoke() -> Config:
  """Smoke size (about a minute of CPU): two seeds of 6 ingredients of an MLP 2x64 on the same
  noisy digits, no pre-training (a random backbone, probed for 3 epochs), 1-3 fine-tuning
  epochs on a quarter of the labels, every method with b = 2 and one pass over val, the top 0
  and 2 ingredients removed."""
  return dataclasses.replace(
      default(), model=ModelConfig(name="mlp", width=64, depth=2, patch_size=4, num_heads=4),
      label_fraction=0.25, source_task="none", pretrain_epochs=0, probe_epochs=3,
      num_ingredients=6, search_space=SearchSpace(learning_rate=(1e-4, 1e-2), epochs=(1, 3)),
      block_size=2, coef_epochs=1, learned_epochs=1, coef_batch_size=64, drop_top=(0, 2),
      memory_ks=(6, 12), seeds=(0, 1))


def ablation() -> Config:
  """The ablation of docs/papers/mehl_soup.md: the default regime with K = 16 ingredients and
  three seeds (sized to about 20 CPU-minutes; best single, uniform, greedy, Learned-Soup+ and
  MEHL-Soup+; no robustness study) over three fine-tuning learning-rate ranges (1e-5..1e-4,
  the default's 3e-4..3e-3, and 1e-3..1e-2) and three pre-training strengths (none: a random
  backbone with a probed head; 5 and 20 epochs, the default)."""
  return dataclasses.replace(
      default(), methods=("best_individual", "uniform", "greedy", "mehl_plus", "learned_plus"),
      num_ingredients=16, drop_top=(), seeds=(0, 1, 2),
      ablation=Ablation(lr_max=(1e-4, 3e-3, 1e-2), pretrain_epochs=(0, 5, 20)))


def cifar10() -> Config:
  """Paper scale (hours on one GPU; not run in CI): 72 ingredients of a ViT (patches 4x4,
  width 192, 6 blocks, 3 heads) on CIFAR-10 read with tensorflow-datasets from `--data_dir`,
  blocks of 18 as in the paper's ImageNet run, one seed. The start is pre-trained on classes
  0-4 with shift + noise augmentation, then probed on all labels; fine-tuning uses smaller
  learning rates than the digits default (a ViT trained with Adam leaves its basin at 1e-2).
  Val is 10% of the CIFAR-10 train split (the reference CIFAR path), test the CIFAR-10 test
  split. MEHL: b = 18, E = 5, T = 1, lr 0.01, batch 128. Robustness at 0, 2, 24, 48."""
  return dataclasses.replace(
      default(), dataset=DataConfig(name="tfds:cifar10", data_dir="~/tensorflow_datasets"),
      model=ModelConfig(name="vit", width=192, depth=6, patch_size=4, num_heads=3),
      label_fraction=1.0, source_task="half", pretrain_epochs=100, pretrain_lr=1e-3,
      probe_epochs=10, probe_lr=1e-3, num_ingredients=72,
      search_space=SearchSpace(learning_rate=(1e-5, 1e-3), weight_decay=(1e-5, 0.5),
                               epochs=(2, 10), label_smoothing=(0.0, 0.2), max_shift=4,
                               noise_std=0.05, mixup=(0.0, 0.5)),
      batch_size=128, block_size=18, coef_batch_size=128, eval_batch_size=1000,
      drop_top=drop_top_for(72), seeds=(0,))
