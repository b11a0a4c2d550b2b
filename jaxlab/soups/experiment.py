"""The MEHL-Soup experiment: ingredients, six soups and the best individual, their accuracy,
memory and time.

  from jaxlab.soups import experiment
  results = experiment.run(experiment.Config(num_ingredients=8), "/tmp/soup")
  results["methods"]["mehl_plus"]["test_acc"]         # e.g. 0.93
  results["methods"]["learned_plus"]["peak_bytes"]    # XLA step bytes + resident ingredients

The library function behind `python -m experiments.mehl_soup`. Steps:
1. the shared start: pre-train on a source task (`source_task`), linear-probe a fresh head on
   the labelled training data (`label_fraction` of train);
2. K ingredients fine-tuned from it with random recipes, one checkpoint each in
   `ingredients/` (reused by `resume`);
3. every method of `methods` built from val only (the ingredients are streamed from their
   checkpoints), then evaluated once on test; soups and coefficients saved in `soups/`;
4. peak bytes of each method's largest jitted step (XLA memory analysis) plus the ingredient
   bytes it keeps resident, the process's peak RSS during it, and the coefficient-step bytes of
   Learned-Soup+ and MEHL-Soup+ for every K in `memory_ks` (compiled, not run).

Memory accounting: `peak_bytes` = arguments + outputs + temporaries - donated aliases of the
method's largest compiled step (coefficient step for the learned soups and MEHL; accumulation
for uniform; val evaluation for greedy and the best individual) + resident bytes outside that
step (greedy: the current soup; MEHL with the global-mean centre: the mean). `peak_rss_bytes`
is the process's high-water mark while the method runs (it includes the JAX runtime and data,
and memory a previous method freed but the allocator kept; methods run in the order
`METHODS`, so MEHL runs before the learned soups). `coef_wall_s` is the construction time
with compilation excluded (`compile_s`) and checkpoint loading included.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import jax
import matplotlib.ticker
import numpy as np
from absl import logging

from jaxlab import models, plotting
from jaxlab.config import require, require_choice, to_dict
from jaxlab.data.dataset import Split
from jaxlab.soups import combine, greedy, ingredients, learned, mehl, memory, uniform
from jaxlab.soups.base import SoupCost, batch_like
from jaxlab.training import checkpoint as ckpt_lib
from jaxlab.training import classifier, loop, optim, steps
from jaxlab.workdir import Workdir, WorkdirError

METHODS = ("best_individual", "uniform", "greedy", "mehl", "mehl_plus", "learned",
           "learned_plus")
LABELS = {"best_individual": "best single", "uniform": "uniform", "greedy": "greedy",
          "learned": "Learned", "learned_plus": "Learned+", "mehl": "MEHL", "mehl_plus": "MEHL+"}


@dataclasses.dataclass(frozen=True)
class Config:
  """MEHL-Soup versus the model-soup baselines.

  Attributes:
    dataset: digits, gaussian_mixture, or tfds:<name> (e.g. tfds:cifar10).
    data_dir: directory of prepared tensorflow-datasets data (tfds:<name> only).
    image_size: resize digits to this side (0 keeps 8x8).
    input_noise: digits only: fixed Gaussian pixel noise on every image (a harder task).
    max_examples: read at most this many examples per tfds split (0 = all).
    label_fraction: fraction of the training split (stratified) whose labels the probe and
      the fine-tunes use; the source task uses all training images.
    source_task: pre-training task of the shared start: half (the first half of the
      classes), parity (label mod 2) or none (random backbone, probe only).
    model: mlp, cnn or vit.
    width: hidden width (mlp, cnn dense layer) or token width (vit).
    depth: hidden layers (mlp), conv layers (cnn) or encoder blocks (vit).
    patch_size: vit patch side.
    num_heads: vit attention heads.
    pretrain_epochs: epochs of source-task pre-training (shift + noise augmentation on).
    pretrain_lr: AdamW peak learning rate of pre-training.
    probe_epochs: epochs of the linear probe of the new head.
    probe_lr: Adam peak learning rate of the probe.
    num_ingredients: K, fine-tuned ingredients.
    ingredient_lr: (low, high) of the fine-tuning learning rate, log-uniform.
    ingredient_wd: (low, high) of the AdamW weight decay, log-uniform.
    ingredient_epochs: (low, high) of the fine-tuning epochs, integers.
    label_smoothing: (low, high) of the label smoothing, uniform.
    augment_prob: probability that an ingredient uses shift + noise augmentation.
    max_shift: shift augmentation in pixels (images; also used in pre-training).
    noise_std: noise augmentation standard deviation (also used in pre-training).
    mixup_prob: probability that an ingredient uses mixup.
    mixup: (low, high) of the mixup Beta parameter when on, uniform.
    batch_size: batch size of pre-training, probe and fine-tuning.
    methods: soups to build: best_individual, uniform, greedy, learned, learned_plus, mehl,
      mehl_plus.
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

  dataset: str = "digits"
  data_dir: str = ""
  image_size: int = 16
  input_noise: float = 0.4
  max_examples: int = 0
  label_fraction: float = 0.25
  source_task: str = "half"
  model: str = "mlp"
  width: int = 256
  depth: int = 2
  patch_size: int = 4
  num_heads: int = 4
  pretrain_epochs: int = 20
  pretrain_lr: float = 2e-3
  probe_epochs: int = 20
  probe_lr: float = 1e-2
  num_ingredients: int = 32
  ingredient_lr: tuple[float, ...] = (1e-4, 1e-2)
  ingredient_wd: tuple[float, ...] = (1e-5, 0.5)
  ingredient_epochs: tuple[int, ...] = (2, 10)
  label_smoothing: tuple[float, ...] = (0.0, 0.2)
  augment_prob: float = 0.5
  max_shift: int = 2
  noise_std: float = 0.1
  mixup_prob: float = 0.5
  mixup: tuple[float, ...] = (0.0, 0.5)
  batch_size: int = 32
  methods: tuple[str, ...] = METHODS
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
    classifier.check_data_and_model(self)
    require(0 < self.label_fraction <= 1, "label_fraction",
            f"must be in (0, 1], got {self.label_fraction}")
    require_choice(self.source_task, "source_task", ingredients.SOURCE_TASKS)
    for name in ("pretrain_epochs", "probe_epochs", "batch_size", "block_size", "coef_epochs",
                 "outer_epochs", "learned_epochs", "coef_batch_size", "eval_batch_size"):
      require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
    require(self.num_ingredients >= 2, "num_ingredients",
            f"must be >= 2, got {self.num_ingredients}")
    for name in ("pretrain_lr", "probe_lr", "coef_lr", "learned_lr"):
      require(getattr(self, name) > 0, name, f"must be > 0, got {getattr(self, name)}")
    for name in ("ingredient_lr", "ingredient_wd", "ingredient_epochs", "label_smoothing",
                 "mixup"):
      value = getattr(self, name)
      require(len(value) == 2 and value[0] <= value[1], name,
              f"expected two values low,high with low <= high, got {value}")
    require(self.ingredient_lr[0] > 0, "ingredient_lr", "must be > 0")
    require(self.ingredient_wd[0] > 0, "ingredient_wd", "must be > 0 (log-uniform)")
    require(self.ingredient_epochs[0] >= 1, "ingredient_epochs", "must be >= 1")
    require(0 <= self.label_smoothing[0] and self.label_smoothing[1] < 1, "label_smoothing",
            "must lie in [0, 1)")
    require(self.mixup[0] >= 0, "mixup", "must be >= 0")
    for name in ("augment_prob", "mixup_prob"):
      require(0 <= getattr(self, name) <= 1, name, f"must be in [0, 1], got "
              f"{getattr(self, name)}")
    require(self.max_shift >= 0, "max_shift", f"must be >= 0, got {self.max_shift}")
    require(self.noise_std >= 0, "noise_std", f"must be >= 0, got {self.noise_std}")
    require(len(self.methods) >= 1, "methods", "name at least one method")
    for m in self.methods:
      require_choice(m, "methods", METHODS)
    require(len(set(self.methods)) == len(self.methods), "methods",
            f"names a method twice: {','.join(self.methods)}")
    require_choice(self.centre, "centre", mehl.CENTRES)
    require(self.clip_norm >= 0, "clip_norm", f"must be >= 0, got {self.clip_norm}")
    require(len(self.memory_ks) >= 1 and min(self.memory_ks) >= 1, "memory_ks",
            f"expected positive integers, got {self.memory_ks}")

  @property
  def search_space(self) -> ingredients.SearchSpace:
    return ingredients.SearchSpace(
        learning_rate=tuple(self.ingredient_lr), weight_decay=tuple(self.ingredient_wd),
        epochs=tuple(self.ingredient_epochs), label_smoothing=tuple(self.label_smoothing),
        augment_prob=self.augment_prob, max_shift=self.max_shift, noise_std=self.noise_std,
        mixup_prob=self.mixup_prob, mixup=tuple(self.mixup))


def _build_model(config: Config):
  return lambda outputs: models.build(config.model, outputs=outputs, width=config.width,
                                      depth=config.depth, patch_size=config.patch_size,
                                      num_heads=config.num_heads)


class _Evaluator:
  """Val / test accuracy and loss of parameter pytrees (one compiled eval step)."""

  def __init__(self, apply_fn, ds, batch_size: int):
    self.step = steps.make_eval_step(apply_fn)
    self.ds = ds
    self.batch_size = batch_size

  def __call__(self, params, split: str) -> dict[str, float]:
    return loop.evaluate(self.step, params, getattr(self.ds, split), self.batch_size)

  def memory(self, like) -> memory.StepMemory:
    n = min(self.batch_size, len(self.ds.val))
    x = jax.ShapeDtypeStruct((n,) + self.ds.val.x.shape[1:], self.ds.val.x.dtype)
    y = jax.ShapeDtypeStruct((n,), self.ds.val.y.dtype)
    mask = jax.ShapeDtypeStruct((n,), np.float32)
    return memory.compile_step(self.step, like, x, y, mask)[1]


def _shared_start(config: Config, ds, labeled: Split, key, wd: Workdir, build_model):
  path = wd.file(os.path.join("ingredients", "start"))
  model = build_model(ds.num_classes)
  like = models.init(model, jax.random.key(0), labeled.x[:1])
  if os.path.isdir(path):
    logging.info("reusing the shared start in %s", path)
    return ckpt_lib.restore_pytree(path, like=like), ckpt_lib.restore_metadata(path)
  t0 = time.perf_counter()
  pre = ingredients.Hyperparameters(
      learning_rate=config.pretrain_lr, weight_decay=1e-4, epochs=config.pretrain_epochs,
      shift=config.max_shift, noise_std=config.noise_std,
      seed=int(jax.random.randint(jax.random.fold_in(key, 1), (), 0, 2**31 - 1)))
  params, info = ingredients.shared_start(
      build_model, ds.train, labeled, num_classes=ds.num_classes,
      source_task=config.source_task, key=key, pretrain=pre, probe_epochs=config.probe_epochs,
      probe_lr=config.probe_lr, batch_size=config.batch_size, pad=config.max_shift)
  info = dict(info, wall_s=time.perf_counter() - t0)
  ckpt_lib.save_pytree(path, params, metadata=info, force=True)
  return params, info


def _make_ingredients(config: Config, store: ingredients.IngredientStore, start, labeled: Split,
                      key, evaluate, apply_fn, wd: Workdir) -> list[dict[str, Any]]:
  """Fine-tunes the missing ingredients; returns every ingredient's metadata."""
  space = config.search_space
  finetune = None
  infos = []
  for k in range(config.num_ingredients):
    hp = ingredients.sample_hyperparameters(jax.random.fold_in(key, k), space)
    if store.exists(k):
      info = store.metadata(k)
      if {n: info.get(n) for n in hp.as_dict()} != hp.as_dict():
        raise WorkdirError(f"ingredient {k} in {store.path(k)} was made with other "
                           "hyperparameters; start a new --workdir")
      logging.info("ingredient %d/%d: reused from its checkpoint", k + 1, config.num_ingredients)
    else:
      if finetune is None:
        finetune = ingredients.make_finetune(apply_fn, pad=config.max_shift)
      t0 = time.perf_counter()
      params, history = finetune(start, hp, labeled, config.batch_size)
      val, test = evaluate(params, "val"), evaluate(params, "test")
      info = {**hp.as_dict(), "val_acc": val["acc"], "val_loss": val["loss"],
              "test_acc": test["acc"], "train_loss": history[-1]["train_loss"],
              "wall_s": time.perf_counter() - t0}
      store.save(k, params, info)
      logging.info("ingredient %d/%d: lr=%.2g wd=%.2g epochs=%d val_acc=%.4f (%.1fs)", k + 1,
                   config.num_ingredients, hp.learning_rate, hp.weight_decay, hp.epochs,
                   val["acc"], info["wall_s"])
    wd.log(k + 1, {"phase": "ingredient", "ingredient": k, **info})
    infos.append(info)
  return infos


def _weight_stats(weights: np.ndarray) -> dict[str, float]:
  w = np.asarray(weights, np.float64)
  return {"weights_negative_fraction": float(np.mean(w < 0)), "weights_min": float(w.min()),
          "weights_max": float(w.max()),
          "weights_column_sum_max_error": float(np.max(np.abs(w.sum(0) - 1.0)))}


def _build_soup(method: str, config: Config, store, infos, ds, apply_fn, evaluate, like, key,
                log) -> tuple[Any, SoupCost, dict[str, Any], dict[str, Any] | None]:
  """`(params, cost, extras, coefficients)` of one method, from val only."""
  scores = [float(i["val_acc"]) for i in infos]
  d_bytes = combine.tree_bytes(like)
  if method == "best_individual":
    t0 = time.perf_counter()
    best = greedy.best_individual(scores)
    params = store[best]
    cost = SoupCost(step_memory=evaluate.memory(like), wall_s=time.perf_counter() - t0,
                    ingredient_loads=1)
    return params, cost, {"index": best}, None
  if method == "uniform":
    soup = uniform.uniform_soup(store)
    return soup.params, soup.cost, {}, None
  if method == "greedy":
    soup = greedy.greedy_soup(store, lambda p: evaluate(p, "val")["acc"], scores)
    soup.cost.step_memory = evaluate.memory(like)
    soup.cost.resident_bytes = d_bytes  # the soup, while a candidate is evaluated
    return soup.params, soup.cost, {"selected": list(soup.selected)}, None
  per_layer = method.endswith("_plus")
  if method.startswith("learned"):
    soup = learned.learned_soup(store, apply_fn, ds.val, per_layer=per_layer, key=key,
                                learning_rate=config.learned_lr, epochs=config.learned_epochs,
                                batch_size=config.coef_batch_size, log_fn=log)
    coefs = {"weights": soup.weights, "logit_scale": np.float32(soup.logit_scale)}
    return soup.params, soup.cost, _weight_stats(soup.weights), coefs
  soup = mehl.mehl_soup(store, apply_fn, ds.val, block_size=config.block_size, key=key,
                        per_layer=per_layer, epochs=config.coef_epochs,
                        outer_epochs=config.outer_epochs, learning_rate=config.coef_lr,
                        batch_size=config.coef_batch_size, centre=config.centre,
                        normalize=config.normalize, clip_norm=config.clip_norm or None,
                        log_fn=log)
  return soup.params, soup.cost, _weight_stats(soup.weights), {"weights": soup.weights}


def memory_vs_k(config: Config, apply_fn, like, val: Split,
                measured: dict[str, int] | None = None) -> dict[str, dict[str, int]]:
  """Coefficient-step bytes of Learned-Soup+ and MEHL-Soup+ at every K of `config.memory_ks`,
  from compiled (never run) steps: `{"learned_plus": {K: bytes}, "mehl_plus": {K: bytes}}`.

  `measured` may hold this run's peak bytes (`{"learned_plus": ..., "mehl_plus": ...}` at
  K = `config.num_ingredients`) to skip recompiling them.
  """
  measured = measured or {}
  groups = combine.leaf_groups(like, per_layer=True)
  batch = batch_like(val, config.coef_batch_size)
  tx = optim.make_optimizer("adamw", config.learned_lr, weight_decay=0.0)
  learned_opt = learned.learned_soup_optimizer(apply_fn, groups, tx)
  mehl_opt = mehl.mehl_block_optimizer(apply_fn, groups, tx, config.clip_norm or None)
  extra = combine.tree_bytes(like) if config.centre == "global_mean" else 0
  run_b = min(config.block_size, config.num_ingredients)
  by_block = {run_b: measured["mehl_plus"]} if "mehl_plus" in measured else {}
  out: dict[str, dict[str, int]] = {"learned_plus": {}, "mehl_plus": {}}
  for k in sorted(set(config.memory_ks)):
    if k == config.num_ingredients and "learned_plus" in measured:
      out["learned_plus"][str(k)] = measured["learned_plus"]
    else:
      out["learned_plus"][str(k)] = learned.compile_update(learned_opt, like, k,
                                                           batch)[1].total_bytes
    b = min(config.block_size, k)
    if b not in by_block:
      by_block[b] = mehl.compile_steps(mehl_opt, like, b, groups, batch, config.normalize,
                                       memory_only=True).memory.total_bytes + extra
    out["mehl_plus"][str(k)] = by_block[b]
  return out


def plot_accuracy(results: dict[str, Any], infos, wd: Workdir) -> str:
  methods = [m for m in METHODS if m in results["methods"]]
  fig, ax = plotting.figure(1, 1, panel_size=(6.5, 3.8))
  x = np.arange(len(methods))
  test = [results["methods"][m]["test_acc"] for m in methods]
  val = [results["methods"][m]["val_acc"] for m in methods]
  ax.bar(x, test, color=["#888888" if m in ("best_individual", "uniform", "greedy") else
                         "#d62728" if m.startswith("mehl") else "#1f77b4" for m in methods],
         label="test")
  ax.plot(x, val, "k_", markersize=18, mew=2, label="val")
  ind = [float(i["test_acc"]) for i in infos]
  ax.axhline(np.mean(ind), color="0.5", ls=":", lw=1, label="ingredients, mean test")
  lo = min(min(test), min(val), np.mean(ind))
  ax.set(xticks=x, xticklabels=[LABELS[m] for m in methods], ylabel="accuracy",
         ylim=(max(0.0, lo - 0.05), min(1.0, max(max(test), max(val)) + 0.02)),
         title=f"K = {results['num_ingredients']} ingredients, b = {results['block_size']}")
  for xi, t in zip(x, test):
    ax.text(xi, t + 0.002, f"{t:.3f}", ha="center", va="bottom", fontsize=7)
  ax.legend(fontsize=7, loc="lower right")
  ax.grid(axis="y", alpha=0.3)
  return wd.save_figure(fig, "accuracy")


def plot_memory(results: dict[str, Any], wd: Workdir) -> str:
  fig, ax = plotting.figure(1, 1)
  curves = results["memory_vs_k"]
  for name, color in (("learned_plus", "#1f77b4"), ("mehl_plus", "#d62728")):
    ks = sorted(int(k) for k in curves[name])
    ax.plot(ks, [curves[name][str(k)] / 2**20 for k in ks], "o-", color=color,
            label=f"{LABELS[name]} (compiled step)")
    if name in results["methods"]:
      ax.plot([results["num_ingredients"]], [results["methods"][name]["peak_bytes"] / 2**20],
              "*", color=color, markersize=12, label=f"{LABELS[name]}, this run")
  ax.set(xlabel="number of ingredients K", ylabel="peak MiB", xscale="log", yscale="log",
         title=f"coefficient-learning memory (b = {results['block_size']})")
  ks = sorted({int(k) for k in curves["learned_plus"]} | {results["num_ingredients"]})
  ax.set_xticks(ks, [str(k) for k in ks])
  ax.set_xticks([], minor=True)
  ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
  ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
  ax.legend(fontsize=7)
  ax.grid(alpha=0.3, which="both")
  return wd.save_figure(fig, "memory_vs_k")


def run(config: Config, workdir: str | Workdir, *, overwrite: bool = False,
        resume: bool = False) -> dict[str, Any]:
  """Runs the experiment and writes config.json, metrics.jsonl (the start at step 0, one line
  per ingredient, then per Learned-Soup epoch, MEHL block and method), results.json,
  plots/accuracy.png, plots/memory_vs_k.png, ingredients/ (checkpoints with their recipes)
  and soups/ (every soup's parameters and the learned coefficients).

  With `resume` (or a resumed `Workdir`), finished ingredients are read from their
  checkpoints, not trained again.

  Returns:
    The results dict: `{"num_ingredients", "block_size", "methods": {method: {"test_acc",
    "val_acc", "peak_bytes", "peak_rss_bytes", "coef_wall_s", ...}}, ...}`.
  """
  t_start = time.perf_counter()
  # Data-dependent checks before the workdir is touched: bad input leaves nothing behind.
  ds = classifier.load_data(config)
  logging.info("data: %s", ds.summary())
  labeled = ingredients.take_labeled(ds.train, config.label_fraction, seed=config.seed)
  require(config.batch_size <= len(labeled), "batch_size",
          f"must be <= the {len(labeled)} labelled training examples, got {config.batch_size}")
  require(config.coef_batch_size <= len(ds.val), "coef_batch_size",
          f"must be <= the {len(ds.val)} val examples, got {config.coef_batch_size}")
  if ds.train.x.ndim != 4:
    require(config.max_shift == 0 or config.model == "mlp", "max_shift",
            "shift augmentation needs images")
  wd = workdir if isinstance(workdir, Workdir) else Workdir(workdir, overwrite=overwrite,
                                                            resume=resume)
  wd.write_config(to_dict(config))
  if wd.resumed:
    wd.truncate_metrics(None)  # rebuilt below from the checkpoints

  key = jax.random.key(config.seed)
  start_key, recipe_key, soup_key = jax.random.split(key, 3)
  del key
  build_model = _build_model(config)
  model = build_model(ds.num_classes)
  evaluate = _Evaluator(model.apply, ds, config.eval_batch_size)
  start, start_info = _shared_start(config, ds, labeled, start_key, wd, build_model)
  start_val, start_test = evaluate(start, "val"), evaluate(start, "test")
  wd.log(0, {"phase": "start", **start_info, "val_acc": start_val["acc"],
             "test_acc": start_test["acc"]})
  logging.info("shared start: val_acc=%.4f", start_val["acc"])
  like = memory.abstract(start)
  d_bytes = combine.tree_bytes(like)
  store = ingredients.IngredientStore(wd.file("ingredients"), like=like,
                                      size=config.num_ingredients)
  infos = _make_ingredients(config, store, start, labeled, recipe_key, evaluate, model.apply,
                            wd)
  del start

  step = config.num_ingredients
  methods: dict[str, dict[str, Any]] = {}
  for index, method in enumerate(m for m in METHODS if m in config.methods):

    def log(number, metrics, method=method):
      nonlocal step
      step += 1
      wd.log(step, {"phase": method, "index": number, **metrics})

    logging.info("building %s", method)
    with memory.PeakRSS() as rss:
      params, cost, extras, coefs = _build_soup(method, config, store, infos, ds, model.apply,
                                                evaluate, like,
                                                jax.random.fold_in(soup_key, index), log)
    val, test = evaluate(params, "val"), evaluate(params, "test")
    entry = {"test_acc": test["acc"], "val_acc": val["acc"], "peak_bytes": cost.peak_bytes,
             "peak_rss_bytes": rss.peak_bytes, "coef_wall_s": cost.wall_s,
             "rss_start_bytes": rss.start_bytes, "test_loss": test["loss"],
             "val_loss": val["loss"], **{k: v for k, v in cost.as_dict().items()
                                         if k not in ("peak_bytes", "wall_s")}, **extras}
    methods[method] = entry
    soup_dir = wd.file(os.path.join("soups", method))
    ckpt_lib.save_pytree(soup_dir, jax.device_get(params), force=True,
                         metadata={"method": method, "val_acc": val["acc"],
                                   "test_acc": test["acc"]})
    if coefs is not None:
      ckpt_lib.save_pytree(soup_dir + "_coefficients", coefs, force=True,
                           metadata={"method": method, "leaves": [
                               jax.tree_util.keystr(p) for p, _ in
                               jax.tree_util.tree_flatten_with_path(like)[0]]})
    step += 1
    wd.log(step, {"phase": "soup", "method": method, **entry})
    logging.info("%s: test_acc=%.4f val_acc=%.4f peak=%.2f MiB rss=%.0f MiB (%.2fs)", method,
                 test["acc"], val["acc"], cost.peak_bytes / 2**20, rss.peak_bytes / 2**20,
                 cost.wall_s)
    del params

  ind_test = np.array([float(i["test_acc"]) for i in infos])
  ind_val = np.array([float(i["val_acc"]) for i in infos])
  results = {
      "num_ingredients": config.num_ingredients,
      "block_size": min(config.block_size, config.num_ingredients),
      "methods": methods,
      "ingredients": {"val_acc_mean": float(ind_val.mean()), "val_acc_max": float(ind_val.max()),
                      "test_acc_mean": float(ind_test.mean()),
                      "test_acc_min": float(ind_test.min()),
                      "test_acc_max": float(ind_test.max())},
      "start": {"val_acc": start_val["acc"], "test_acc": start_test["acc"]},
      "num_params": models.num_params(like), "param_bytes": d_bytes,
      "memory_vs_k": memory_vs_k(config, model.apply, like, ds.val, {
          m: methods[m]["peak_bytes"] for m in ("learned_plus", "mehl_plus") if m in methods}),
      "data": dict(ds.summary(), labeled=len(labeled)),
  }
  results["wall_s"] = time.perf_counter() - t_start
  wd.write_results(results)
  plot_accuracy(results, infos, wd)
  plot_memory(results, wd)
  logging.info("done in %.1fs", results["wall_s"])
  return results


__all__ = ["Config", "METHODS", "memory_vs_k", "run"]
