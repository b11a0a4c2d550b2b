"""One cell of the mini benchmark: adversarial training, robust evaluation, NTK scores.

  programs = Programs(config, num_classes=10, normalization=norm, steps_per_epoch=16)
  variables, fit_s = programs.train(cell, ds.train, key)        # PGD-AT, last epoch
  accs = programs.evaluate(cell, variables, x_test, y_test, key)  # {"val_acc", ...}
  scores, checks = programs.ntk(cell, key, x, y, "float64")      # at init

Training is the benchmark's recipe through the shared cores: `adversarial.training`'s PGD
method (random start, eval-mode BatchNorm while attacking, train mode for the loss, inputs
clipped to [0, 1]) as the step of `training.supervised.fit_classifier`. With
`config.shared_program` all cells share one `TinyNetwork(cell=None)` and therefore one
compiled train step, evaluation and NTK program; the cell rides in the variables.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.adversarial import attacks, evaluation, training
from jaxlab.data import augment
from jaxlab.data.dataset import Split
from jaxlab.models import model_state as model_state_lib
from jaxlab.nas import benchmark, networks, robust_ntk
from jaxlab.nas.search_space import Cell
from jaxlab.papers.robust_nas.config import Config
from jaxlab.training import optim, steps
from jaxlab.training.supervised import fit_classifier


def metric_names(eval_eps) -> list[str]:
  """The released metric names of a study: val_acc, then FGSM and PGD at each radius."""
  return ([benchmark.metric_name(None)] + [benchmark.metric_name("fgsm", e) for e in eval_eps]
          + [benchmark.metric_name("pgd", e) for e in eval_eps])


def augmented(loss_fn, pad: int):
  """`loss_fn` on randomly cropped (zero padding `pad`) and flipped training images."""

  def fn(params, batch, key, state):
    crop_key, flip_key, key = jax.random.split(key, 3)
    x = augment.random_flip(flip_key, augment.random_shift(crop_key, batch["x"], pad))
    return loss_fn(params, {**batch, "x": x}, key, state)

  return fn


def kernel_program(model, fresh_stats, betas):
  """`(params, cell_state, x, x_adv, x_adv2) -> robust_ntk.Kernels`: `robust_ntk.
  robust_kernels` of `model` in eval mode as one jitted program, the Jacobian contraction only
  (perturbations and spectra are computed outside it). The BatchNorm statistics at init
  (`fresh_stats`, the same for every cell: mean 0, variance 1) are compiled in as constants,
  which XLA's simplifier folds away (for C = 4, N = 1 on CPU the compile takes 17 s of CPU
  instead of 24 s); `cell_state` holds the rest of the model state (the shared program's
  one-hot "arch" collection)."""

  def fn(params, cell_state, x, x_adv, x_adv2):
    variables = {"params": params, **fresh_stats, **cell_state}
    f = lambda p, z: model.apply({**variables, "params": p}, z)  # noqa: E731
    return robust_ntk.robust_kernels(f, params, x, x_adv, x_adv2, betas)

  return jax.jit(fn)


def kernel_checks(k: robust_ntk.Kernels) -> dict[str, float]:
  """The P3-B check values of `k` on the host (float64): the largest relative asymmetry and
  the smallest lambda_min / lambda_max of every symmetric kernel, |K_all(0) - K|,
  |K_all(1) - K~|, |K~_all(0) - K~| (exactly 0 when the mixing is right) and the largest
  relative error of the mixed-feature Gram against the expanded formula."""
  host = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), k)
  kernels = [host.k, host.k_tilde, host.k_tilde2, *host.k_all.values(), *host.kt_all.values()]
  rel = lambda a, b: float(np.max(np.abs(a - b)) / np.max(np.abs(b)))  # noqa: E731
  eig = [np.linalg.eigvalsh(0.5 * (a + a.T)) for a in kernels]
  interior = [b for b in host.k_all if 0 < b < 1]
  expanded = [rel(host.k_all[b], robust_ntk.expanded(host, b)) for b in interior]
  expanded += [rel(host.kt_all[b], robust_ntk.expanded(host, b, robust=True)) for b in interior]
  gap = lambda a, b: float(np.max(np.abs(a - b)))  # noqa: E731
  return {"asymmetry": max(rel(a, a.T) if np.any(a) else 0.0 for a in kernels),
          "min_eig_ratio": float(min(e[0] / e[-1] for e in eig)),
          "k_all0_minus_k": gap(host.k_all[0.0], host.k) if 0.0 in host.k_all else 0.0,
          "k_all1_minus_k_tilde": (gap(host.k_all[1.0], host.k_tilde) if 1.0 in host.k_all
                                   else 0.0),
          "kt_all0_minus_k_tilde": (gap(host.kt_all[0.0], host.k_tilde) if 0.0 in host.kt_all
                                    else 0.0),
          "expanded_rel": max(expanded, default=0.0)}


class Programs:
  """The networks and compiled programs of a study (one set per network shape when
  `config.shared_program`, else one per cell)."""

  def __init__(self, config: Config, num_classes: int, normalization, steps_per_epoch: int,
               sample_x: np.ndarray):
    self.config = config
    self.num_classes = num_classes
    self.normalization = normalization
    self.sample_x = sample_x[:1]
    self.tx = optim.from_config(config.optim, steps_per_epoch * config.num_epochs)
    self.method = training.method(
        "pgd", config.eps / 255, steps=config.attack_steps,
        step_scale=config.attack_step_size / config.eps, box=attacks.DATA_RANGE)
    self._models: dict[Cell | None, networks.TinyNetwork] = {}
    self._steps: dict[networks.TinyNetwork, Any] = {}
    self._inits: dict[networks.TinyNetwork, Any] = {}
    self._kernel_programs: dict[tuple[networks.TinyNetwork, str], Any] = {}
    self._lock = threading.Lock()   # the study scores one cell's NTK beside its training

  def model(self, cell: Cell) -> networks.TinyNetwork:
    """The network of `cell`: one instance per program, so that `model.apply` (a static
    argument of the attacks' jitted steps, compared by its module's identity) is the same
    function for every cell that shares the program."""
    c = self.config
    key = None if c.shared_program else cell
    with self._lock:
      if key not in self._models:
        self._models[key] = networks.TinyNetwork(key, c.channels, c.cells_per_stage,
                                                 self.num_classes, self.normalization)
      return self._models[key]

  def init(self, cell: Cell, key: jax.Array) -> dict[str, Any]:
    """The cell's initial variables (params, BatchNorm statistics, and its one-hot)."""
    model = self.model(cell)
    with self._lock:   # one compilation, whichever thread asks first
      if model not in self._inits:
        self._inits[model] = model_state_lib.compiled_init(model)
      variables = self._inits[model](key, jnp.asarray(self.sample_x))
    return networks.with_cell(variables, cell) if model.cell is None else variables

  def train_step(self, model: networks.TinyNetwork):
    """The jitted adversarial train step of `model`, built once per model."""
    if model not in self._steps:
      loss = training.adversarial_loss(
          model.apply, self.method, train_apply_fn=model_state_lib.train_apply(model))
      if self.config.augment:
        loss = augmented(loss, pad=max(1, self.sample_x.shape[1] // 8))
      self._steps[model] = steps.make_train_step(loss, self.tx, stateful=True)
    return self._steps[model]

  def train(self, cell: Cell, train: Split, key: jax.Array) -> dict[str, Any]:
    """PGD adversarial training of `cell` from its init (`key` split into init and fit
    keys); returns the trained variables (parameters and statistics)."""
    init_key, fit_key = jax.random.split(key)
    model = self.model(cell)
    params, model_state = model_state_lib.split_variables(self.init(cell, init_key))
    loss_state = training.init_state(params, self.tx, self.method,
                                     model_state=model_state).loss_state
    fit = fit_classifier(params, model.apply, self.tx, train, key=fit_key,
                         num_epochs=self.config.num_epochs, batch_size=self.config.batch_size,
                         train_step=self.train_step(model), loss_state=loss_state,
                         variables_fn=training.variables, checkpoint=False)
    return fit.params

  def evaluate(self, cell: Cell, variables, x: np.ndarray, y: np.ndarray, key: jax.Array
               ) -> dict[str, float]:
    """Accuracy (eval-mode BatchNorm) clean, under FGSM and under PGD (`eval_pgd_steps`
    steps of 2.5 eps / steps, random start) at each radius of `config.eval_eps`, by their
    released metric names."""
    apply_fn, c = self.model(cell).apply, self.config
    run = functools.partial(evaluation.attacked_correct, apply_fn, params=variables, x=x, y=y,
                            batch_size=c.eval_batch_size)
    fgsm_key, pgd_key = jax.random.split(key)
    out = {benchmark.metric_name(None): run(lambda p, xb, yb, kb: xb, key=fgsm_key)}
    for e in c.eval_eps:
      eps = e / 255
      out[benchmark.metric_name("fgsm", e)] = run(
          lambda p, xb, yb, kb, eps=eps: attacks.fgsm(apply_fn, p, xb, yb, eps), key=fgsm_key)
      out[benchmark.metric_name("pgd", e)] = run(
          lambda p, xb, yb, kb, eps=eps: attacks.pgd(
              apply_fn, p, xb, yb, kb, eps, 2.5 * eps / c.eval_pgd_steps,
              steps=c.eval_pgd_steps), key=pgd_key)
    return {k: float(np.mean(v)) for k, v in out.items()}

  def ntk(self, cell: Cell, key: jax.Array, x: np.ndarray, y: np.ndarray,
          dtype: str = "float64") -> tuple[dict[str, float], dict[str, float]]:
    """Robust-NTK scores of the cell at its init (`key` as in `train`) with eval-mode
    BatchNorm (fresh statistics: the identity) and FGSM at `config.eps`, computed in `dtype`
    (float64 under a scoped `jax.enable_x64`); and the P3-B check values (`kernel_checks`,
    meaningful at float64). Scores are named `robust_ntk.score_name`.

    Three steps, so that little is compiled: the two FGSM perturbations through the attacks'
    own jitted iteration (`model.apply` on the variables: evaluation's program, compiled again
    for the NTK batch's shape and dtype),
    the kernels as one jitted Jacobian contraction (`kernel_program`), the spectra on the host."""
    init_key, _ = jax.random.split(key)
    model = self.model(cell)
    variables = jax.device_get(self.init(cell, init_key))
    with jax.enable_x64(dtype == "float64"):
      cast = lambda a: jnp.asarray(a, dtype)  # noqa: E731
      variables = jax.tree_util.tree_map(cast, variables)
      x, y = cast(x), jnp.asarray(y)
      eps = jnp.asarray(self.config.eps / 255, dtype)
      x_adv = attacks.fgsm(model.apply, variables, x, y, eps)
      x_adv2 = attacks.fgsm(model.apply, variables, x_adv, y, eps)
      params, model_state = model_state_lib.split_variables(variables)
      stats = {k: model_state.pop(k) for k in ("batch_stats",) if k in model_state}
      k = jax.device_get(self._kernel_program(model, dtype, stats)(
          params, model_state, x, x_adv, x_adv2))
    return robust_ntk.scores(k), kernel_checks(k)

  def _kernel_program(self, model, dtype: str, stats):
    """`kernel_program` of `model` in `dtype`, built once with the first cell's fresh
    statistics, which every later cell must share."""
    if (model, dtype) not in self._kernel_programs:
      self._kernel_programs[model, dtype] = (stats, kernel_program(
          model, stats, tuple(float(b) for b in self.config.ntk_betas)))
    built_with, program = self._kernel_programs[model, dtype]
    same = jax.tree_util.tree_map(lambda a, b: bool(np.array_equal(a, b)), built_with, stats)
    if not all(jax.tree_util.tree_leaves(same)):
      raise ValueError("the kernel program was compiled with other BatchNorm statistics: "
                       "scores are taken at init, where every cell's are mean 0, variance 1")
    return program
