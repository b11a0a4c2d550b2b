"""Configs of the MEHL-Soup study: the data, the model, the shared start, the ingredients'
search space, the soups and their budgets.

  config = default()                                   # the study of mehl_soup.flags
  config = dataclasses.replace(smoke(), num_ingredients=8)
  config.search_space.learning_rate                    # (1e-4, 1e-2), log-uniform
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
class Config:
  """MEHL-Soup versus the model-soup baselines.

  Attributes:
    dataset: the data (`--dataset=digits`, `--image_size=16`, `--data_dir=...`).
    model: the classifier every ingredient shares (`--model=mlp`, `--width=256`, ...).
    label_fraction: fraction of the training split (stratified) whose labels the probe and
      the fine-tunes use; the source task uses all training images.
    source_task: pre-training task of the shared start: half (the first half of the
      classes), parity (label mod 2) or none (random backbone, probe only).
    pretrain_epochs: epochs of source-task pre-training (shift + noise augmentation on).
    pretrain_lr: AdamW peak learning rate of pre-training.
    probe_epochs: epochs of the linear probe of the new head.
    probe_lr: Adam peak learning rate of the probe.
    num_ingredients: K, fine-tuned ingredients.
    search_space: the ingredients' random-search ranges (`--search_space.learning_rate=
      1e-4,1e-2`, `--mixup=0,0.5`, ...); its max_shift and noise_std also augment
      pre-training.
    batch_size: batch size of pre-training, probe and fine-tuning.
    methods: soups to build: best_individual, uniform, greedy, mehl, mehl_plus, learned,
      learned_plus.
    block_size: b, ingredients per MEHL block (resident at once).
    coef_lr: MEHL-Soup(+) AdamW learning rate (20% warm-up, then cosine, per block).
    coef_epochs: E, MEHL-Soup(+) passes over val per block.
    outer_epochs: T, MEHL-Soup(+) passes over all ingredients.
    centre: MEHL centre: global_mean (paper form: directions from the mean of all K, first
      anchor the uniform soup) or running (reference code: first anchor the mean of the first
      block, then the current soup).
    normalize: unit-norm MEHL directions per layer group (reference code).
    clip_norm: MEHL weight-space gradient clipping norm (0 = off).
    learned_lr: Learned-Soup(+) AdamW learning rate (constant).
    learned_epochs: Learned-Soup(+) passes over val.
    coef_batch_size: val batch size of Learned-Soup(+) and MEHL-Soup(+).
    memory_ks: numbers of ingredients at which the Learned-Soup+ and MEHL-Soup+ coefficient
      steps are compiled for the memory-vs-K figure.
    eval_batch_size: evaluation batch size.
    seed: seed of the data split, the start, the recipes and the soups.
  """

  dataset: DataConfig = DataConfig(name="digits", image_size=16, input_noise=0.4)
  model: ModelConfig = ModelConfig(name="mlp", width=256, depth=2, patch_size=4, num_heads=4)
  label_fraction: float = 0.25
  source_task: str = "half"
  pretrain_epochs: int = 20
  pretrain_lr: float = 2e-3
  probe_epochs: int = 20
  probe_lr: float = 1e-2
  num_ingredients: int = 32
  search_space: SearchSpace = SearchSpace()
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
  memory_ks: tuple[int, ...] = (8, 16, 32, 72)
  eval_batch_size: int = 512
  seed: int = 0

  def __post_init__(self):
    require(self.dataset.name not in ("tweets", "teacher_student"), "dataset.name",
            f"{self.dataset.name!r} is not an image/feature classification set; valid here: "
            "digits, gaussian_mixture, tfds:<name>")
    require(0 < self.label_fraction <= 1, "label_fraction",
            f"must be in (0, 1], got {self.label_fraction}")
    require_choice(self.source_task, "source_task", SOURCE_TASKS)
    for name in ("pretrain_epochs", "probe_epochs", "batch_size", "block_size", "coef_epochs",
                 "outer_epochs", "learned_epochs", "coef_batch_size", "eval_batch_size"):
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
    require(len(self.memory_ks) >= 1 and min(self.memory_ks) >= 1, "memory_ks",
            f"expected positive integers, got {self.memory_ks}")


def default() -> Config:
  """The README's main job (20-35 s on 2 CPU cores): 32 ingredients of an MLP 2x256 on noisy
  digits (16x16, fixed pixel noise 0.4: far from saturation, best single model about 0.82),
  fine-tuned from a start pre-trained on digits 0-4 and probed on 25% of the labels; every
  method. Recipes as in the paper spec (AdamW lr 1e-4..1e-2, wd 1e-5..0.5, 2-10 epochs, label
  smoothing 0-0.2, shift / noise augmentation and mixup each on with probability 0.5). MEHL:
  b = 4, E = 5, T = 1, lr 0.01, 20% warm-up + cosine, clip 1 (reference code), global-mean
  centre (paper form). Chosen on val only: coef_batch_size, centre, input_noise."""
  return Config(
      dataset=DataConfig(name="digits", image_size=16, input_noise=0.4),
      model=ModelConfig(name="mlp", width=256, depth=2, patch_size=4, num_heads=4),
      label_fraction=0.25, source_task="half", pretrain_epochs=20, probe_epochs=20,
      num_ingredients=32, search_space=SearchSpace(), block_size=4, coef_lr=0.01,
      coef_epochs=5, outer_epochs=1, centre="global_mean", learned_lr=0.05, learned_epochs=5,
      coef_batch_size=8, memory_ks=(8, 16, 32, 72), seed=0)


def smoke() -> Config:
  """Smoke size (well under a minute): 6 ingredients of an MLP 2x64 on the same noisy digits,
  no pre-training (a random backbone, probed for 3 epochs), 1-3 fine-tuning epochs, every
  method with b = 2 and one pass over val."""
  return dataclasses.replace(
      default(), model=ModelConfig(name="mlp", width=64, depth=2, patch_size=4, num_heads=4),
      source_task="none", probe_epochs=3, num_ingredients=6,
      search_space=SearchSpace(epochs=(1, 3)), block_size=2, coef_epochs=1, learned_epochs=1,
      coef_batch_size=64, memory_ks=(6, 12))


def cifar10() -> Config:
  """Paper scale (hours on one GPU; not run in CI): 72 ingredients of a ViT (patches 4x4,
  width 192, 6 blocks, 3 heads) on CIFAR-10 read with tensorflow-datasets from `--data_dir`,
  blocks of 18 as in the paper's ImageNet run. The start is pre-trained on classes 0-4 with
  shift + noise augmentation, then probed on all labels; fine-tuning uses smaller learning
  rates than the digits default (a ViT trained with Adam leaves its basin at 1e-2). Val is
  10% of the CIFAR-10 train split (the reference CIFAR path), test the CIFAR-10 test split.
  MEHL: b = 18, E = 5, T = 1, lr 0.01, batch 128."""
  return dataclasses.replace(
      default(), dataset=DataConfig(name="tfds:cifar10", data_dir="~/tensorflow_datasets"),
      model=ModelConfig(name="vit", width=192, depth=6, patch_size=4, num_heads=3),
      label_fraction=1.0, source_task="half", pretrain_epochs=100, pretrain_lr=1e-3,
      probe_epochs=10, probe_lr=1e-3, num_ingredients=72,
      search_space=SearchSpace(learning_rate=(1e-5, 1e-3), weight_decay=(1e-5, 0.5),
                               epochs=(2, 10), label_smoothing=(0.0, 0.2), max_shift=4,
                               noise_std=0.05, mixup=(0.0, 0.5)),
      batch_size=128, block_size=18, coef_batch_size=128, eval_batch_size=1000)
