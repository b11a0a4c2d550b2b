"""Configs of the robust-NAS study: a mini NAS-RobBench-201 (cells adversarially trained,
robust-NTK scores, benchmark analytics and search), or the analytics and search on a released
benchmark file.

  config = default()            # 30 cells at C = 4, N = 1 on digits (CPU, ~25 min)
  config = smoke()              # 4 cells, one epoch (CPU, about a minute)
  config = cifar10()            # the benchmark's recipe on CIFAR-10 (GPU)
  config = dataclasses.replace(default(), benchmark_file="/data/NAS-RobBench-201_all.json")

Radii are in 1/255 units of [0, 1] pixels, as the benchmark's metric names
(`val_pgd_8.0_acc`).
"""

from __future__ import annotations

import dataclasses

from jaxlab.data.config import DataConfig
from jaxlab.experiment.config import require
from jaxlab.nas import search_space
from jaxlab.training.optim import OptimConfig


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """NAS on the benchmark table (random search, regularised evolution, local search).

  Attributes:
    budget: queries (distinct cells evaluated) per run.
    seeds: one run per seed, per algorithm and objective.
    population: regularised evolution's population.
    sample_size: regularised evolution's tournament size.
  """

  budget: int = 20
  seeds: tuple[int, ...] = tuple(range(20))
  population: int = 8
  sample_size: int = 3

  def __post_init__(self):
    require(self.budget >= 2, "budget", f"must be >= 2, got {self.budget}")
    require(len(self.seeds) >= 1, "seeds", "name at least one seed")
    require(self.population >= 2, "population", f"must be >= 2, got {self.population}")
    require(1 <= self.sample_size <= self.population, "sample_size",
            f"must be in [1, population = {self.population}], got {self.sample_size}")


@dataclasses.dataclass(frozen=True)
class Config:
  """The robust-NAS study.

  Attributes:
    dataset: the images (`--dataset=digits`, `--dataset=tfds:cifar10 --data_dir=...`).
    optim: the optimiser (SGD, momentum 0.9, wd 5e-4, OneCycle with peak `learning_rate`).
    num_cells: non-isomorphic cells drawn at random (6466 = all of them).
    channels: C, the width of the first stage.
    cells_per_stage: N, cells per stage.
    shared_program: train and evaluate every cell with one compiled program (the cell as a
      one-hot input; every edge computes all five operations); False compiles each cell's own
      network (cheaper steps, one compilation per cell: the GPU choice).
    num_epochs: training epochs (metrics at the last one: no early stopping).
    batch_size: training batch.
    eps: training radius (1/255 units).
    attack_steps: PGD steps of the training attack (random start, eval-mode BatchNorm).
    attack_step_size: PGD step of the training attack (1/255 units).
    augment: random crop (zero padding 4) and horizontal flip of training images (CIFAR).
    eval_eps: evaluation radii of FGSM and PGD (1/255 units).
    eval_pgd_steps: PGD steps at evaluation (step 2.5 eps / steps, random start).
    eval_examples: evaluate on this many test images (0 = all).
    eval_batch_size: evaluation batch.
    ntk_examples: the fixed batch of training images the NTK scores use.
    ntk_betas: the betas of K_all(beta) and K~_all(beta).
    ntk_dtype: float32 or float64, the precision of the scores (float64 convolutions are
      about 5x slower on CPU).
    p3b_cells: the first this many cells also get their kernels in float64 for the P3-B
      checks (with ntk_dtype float64, every cell is checked at no extra cost).
    train_seeds: one training run per cell and seed (the benchmark's per-seed entries).
    seed: the cells drawn, the NTK batch and the search runs' keys.
    search: the NAS algorithms on the benchmark table.
    benchmark_file: a released NAS-RobBench-201 results file (meta.json beside it): run the
      analytics and search on it instead of training cells.
    benchmark_dataset: the dataset of `benchmark_file` searched on (cifar10, cifar100 or
      imagenet).
  """

  dataset: DataConfig = DataConfig(name="digits")
  optim: OptimConfig = OptimConfig(optimizer="sgd", learning_rate=0.1, schedule="onecycle",
                                   weight_decay=5e-4, momentum=0.9)
  num_cells: int = 40
  channels: int = 4
  cells_per_stage: int = 1
  shared_program: bool = True
  num_epochs: int = 5
  batch_size: int = 64
  eps: float = 32.0
  attack_steps: int = 7
  attack_step_size: float = 8.0
  augment: bool = False
  eval_eps: tuple[float, ...] = (12.0, 32.0)
  eval_pgd_steps: int = 20
  eval_examples: int = 0
  eval_batch_size: int = 512
  ntk_examples: int = 32
  ntk_betas: tuple[float, ...] = (0.0, 0.5, 1.0)
  ntk_dtype: str = "float32"
  p3b_cells: int = 2
  train_seeds: tuple[int, ...] = (0,)
  seed: int = 0
  search: SearchConfig = SearchConfig()
  benchmark_file: str = ""
  benchmark_dataset: str = "cifar10"

  def __post_init__(self):
    require(1 <= self.num_cells <= search_space.NUM_CANONICAL, "num_cells",
            f"must be in [1, {search_space.NUM_CANONICAL}], got {self.num_cells}")
    for name in ("channels", "cells_per_stage", "num_epochs", "batch_size", "eval_batch_size",
                 "eval_pgd_steps", "ntk_examples"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.attack_steps >= 0, "attack_steps", f"must be >= 0, got {self.attack_steps}")
    require(self.eval_examples >= 0, "eval_examples", f"must be >= 0, got {self.eval_examples}")
    require(0 < self.eps <= 255, "eps", f"must be in (0, 255] (1/255 units), got {self.eps}")
    require(self.attack_step_size > 0, "attack_step_size",
            f"must be > 0, got {self.attack_step_size}")
    require(len(self.eval_eps) >= 1 and all(0 < e <= 255 for e in self.eval_eps), "eval_eps",
            f"name radii in (0, 255] (1/255 units), got {self.eval_eps}")
    require(len(set(self.eval_eps)) == len(self.eval_eps), "eval_eps",
            f"radii must be distinct, got {self.eval_eps}")
    require(len(self.ntk_betas) >= 1 and all(0 <= b <= 1 for b in self.ntk_betas),
            "ntk_betas", f"name betas in [0, 1], got {self.ntk_betas}")
    require(len(self.train_seeds) >= 1, "train_seeds", "name at least one seed")
    require(self.ntk_dtype in ("float32", "float64"), "ntk_dtype",
            f"expected float32 or float64, got {self.ntk_dtype!r}")
    require(0 <= self.p3b_cells <= self.num_cells, "p3b_cells",
            f"must be in [0, num_cells = {self.num_cells}], got {self.p3b_cells}")
    require(self.benchmark_dataset in ("cifar10", "cifar100", "imagenet"), "benchmark_dataset",
            f"expected cifar10, cifar100 or imagenet, got {self.benchmark_dataset!r}")
    require(self.search.budget <= max(self.num_cells, 2) or bool(self.benchmark_file),
            "search.budget", f"must be <= num_cells ({self.num_cells}), got "
            f"{self.search.budget}")


def default() -> Config:
  """30 random non-isomorphic cells at C = 4, N = 1 on the 8x8 digits: PGD-3 adversarial
  training at 32/255 (step 16/255) for 4 epochs of batch 64, FGSM and PGD-10 at 12/255 and
  32/255 (the benchmark's 3/255 and 8/255 scaled by 4) on the 360 test images, NTK scores on
  16 images (float32; the first cell also in float64 for P3-B); 20 search runs of 10 queries
  per algorithm and objective. Sized for a shared 2-core CPU: the class defaults (`Config()`:
  40 cells, PGD-7, 5 epochs, PGD-20) cost about 4x more."""
  return dataclasses.replace(
      Config(), num_cells=30, num_epochs=4, attack_steps=3, attack_step_size=16.0,
      eval_pgd_steps=10, ntk_examples=16, p3b_cells=1,
      search=SearchConfig(budget=10, seeds=tuple(range(20)), population=5, sample_size=2))


def smoke() -> Config:
  """3 cells, one epoch of PGD-1 (random start, step eps), PGD-3 evaluation on 100 test
  images, float64 NTK on 4 images (P3-B on every cell), searches of 3 queries: the whole
  pipeline, dominated by compiling its programs once (about a minute of CPU)."""
  return dataclasses.replace(
      Config(), num_cells=3, num_epochs=1, attack_steps=1, attack_step_size=32.0,
      eval_pgd_steps=3, eval_examples=100, ntk_examples=4, ntk_dtype="float64", p3b_cells=0,
      search=SearchConfig(budget=3, seeds=(0, 1, 2), population=2, sample_size=2))


def cifar10() -> Config:
  """The NAS-RobBench-201 recipe on CIFAR-10 read with tensorflow-datasets (GPU): all 6466
  cells at C = 16, N = 5, PGD-7 at 8/255 (step 2/255), 50 epochs of batch 256, OneCycle to
  0.1, crop and flip, FGSM and PGD-20 at 3/255 and 8/255, one program per cell."""
  return dataclasses.replace(
      Config(), dataset=DataConfig(name="tfds:cifar10", data_dir="~/tensorflow_datasets"),
      num_cells=search_space.NUM_CANONICAL, channels=16, cells_per_stage=5,
      shared_program=False, num_epochs=50, batch_size=256, eps=8.0, attack_step_size=2.0,
      augment=True, eval_eps=(3.0, 8.0), ntk_examples=16, ntk_dtype="float64", p3b_cells=0,
      search=SearchConfig(budget=100, seeds=tuple(range(20)), population=10, sample_size=3))
