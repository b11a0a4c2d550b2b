"""One run of the ELLE grid: a (eps, method, seed) point trained with the method's adversarial
train step, probed after every epoch and evaluated at the end.

  ctx = Context(config, load_data(config))
  record = train_and_evaluate({"eps": 0.2, "method": "elle_a", "seed": 0}, config, ctx)
  record["pgd_acc"], record["co"], record["history"][-1]["lin_err"]

After every epoch, on fixed subsets and with fixed keys (so a curve reflects the parameters
only): clean and PGD accuracy on `curves.examples` test images; FGSM accuracy on as many
training images (the CO signature: it stays high); E_lin and the GradAlign cosine on
`curves.probe_examples` val images; and, from the training steps, the epoch means of the
training attack's accuracy, E_lin and ELLE-A's lambda. At the end, on the whole test split:
the attack battery of `evaluation.robust_accuracies` (the reported `pgd_acc` is PGD with
`evaluation.steps` steps and `evaluation.restarts` restarts), the gradient-masking checks and
the CO flag (`evaluation.is_catastrophic`), and with `evaluation.apgd_iters` APGD-CE then
APGD-T (`evaluation.autoattack_gradient`).

A model with BatchNorm (the ResNets) keeps its running statistics in the training state
(`training.init_state(..., model_state=...)`): the training attack and the probes run in eval
mode, the adversarial loss and the ELLE triplets in train mode (the reference's 3B-row
triplet batch normalised by its own statistics, which do not update the running ones).
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import jax
from absl import logging

from jaxlab import models
from jaxlab.adversarial import attacks, evaluation, training
from jaxlab.data import Dataset, augment
from jaxlab.data import config as data_config
from jaxlab.models import config as model_config
from jaxlab.models import model_state
from jaxlab.papers.elle import methods
from jaxlab.papers.elle.config import Config
from jaxlab.training import loop, optim


def load_data(config: Config) -> Dataset:
  """The dataset of `config`, split by `config.data_seed` (checked by `study.prepare`)."""
  return data_config.load(config.dataset, seed=config.data_seed)


class Context:
  """What the runs of one process share: the data, the model, the optimiser and the compiled
  train steps (one per method and eps)."""

  def __init__(self, config: Config, ds: Dataset):
    self.config = config
    self.ds = ds
    self.model = model_config.build(config.model, ds.num_classes)
    self.steps_per_epoch = len(ds.train) // config.batch_size
    self.tx = optim.from_config(config.optim, self.steps_per_epoch * config.num_epochs)
    self.has_state = config.model.name in model_config.RESNETS  # BatchNorm statistics
    self._train_steps: dict[tuple[str, float], Any] = {}

  def train_step(self, method: training.Method):
    key = (method.name, method.eps)
    if key not in self._train_steps:
      bn = dict(train_apply_fn=model_state.train_apply(self.model),
                train_mode_regularizer=True) if self.has_state else {}
      step = training.make_train_step(self.model.apply, self.tx, method, **bn)
      self._train_steps[key] = augmented(step) if self.config.augment else step
    return self._train_steps[key]

  def init_state(self, key: jax.Array, method: training.Method):
    """A fresh training state of `method` (BatchNorm statistics in its `ATState`)."""
    variables = models.init(self.model, key, self.ds.train.x[:1])
    if not self.has_state:
      return training.init_state(variables, self.tx, method)
    params, state = model_state.split_variables(variables)
    return training.init_state(params, self.tx, method, model_state=state)

  def variables(self, state):
    """What the eval-mode `model.apply` takes from a training state."""
    return training.variables(state) if self.has_state else state.params


def augmented(train_step):
  """`train_step` on batches randomly cropped (zero padding 4) and flipped, with keys split
  from the step key (the CIFAR-10 recipe)."""

  @jax.jit
  def step(state, batch, key):
    shift_key, flip_key, step_key = jax.random.split(key, 3)
    x = augment.random_flip(flip_key, augment.random_shift(shift_key, batch["x"], 4))
    return train_step(state, {**batch, "x": x}, step_key)

  return step


def epoch_probes(ctx: Context, eps: float, key: jax.Array
                 ) -> Callable[[Any], dict[str, float]]:
  """`params -> metrics` evaluated after every epoch on fixed subsets; the same two keys
  (the PGD start, the E_lin / GradAlign draws) are used at every epoch."""
  config, ds, apply_fn = ctx.config, ctx.ds, ctx.model.apply
  n, curves = config.curves.examples, config.curves
  x_test, y_test = ds.test.x[:n], ds.test.y[:n]
  x_train, y_train = ds.train.x[:n], ds.train.y[:n]
  x_probe, y_probe = ds.val.x[:curves.probe_examples], ds.val.y[:curves.probe_examples]
  pgd_key, probe_key = jax.random.split(key)
  box = attacks.DATA_RANGE if config.clip_train else None

  def probes(params):
    x_pgd = attacks.pgd(apply_fn, params, x_test, y_test, pgd_key, eps,
                        curves.pgd_step_scale * eps, steps=curves.pgd_steps, norm=config.norm)
    x_fgsm = attacks.fgsm(apply_fn, params, x_train, y_train, eps, norm=config.norm)
    out = {"clean_acc": attacks.accuracy(apply_fn, params, x_test, y_test),
           "pgd_acc": attacks.accuracy(apply_fn, params, x_pgd, y_test),
           "fgsm_acc": attacks.accuracy(apply_fn, params, x_fgsm, y_train),
           **evaluation.linearity_probe(apply_fn, params, x_probe, y_probe, probe_key, eps,
                                        norm=config.norm, box=box)}
    return {k: float(v) for k, v in out.items()}

  return probes


def final_evaluation(ctx: Context, params, eps: float, key: jax.Array) -> dict[str, float]:
  """Accuracies under the attack battery on the whole test split, and with
  `evaluation.apgd_iters` 'apgd_ce' and 'autoattack_gradient' (APGD-CE, then APGD-T)."""
  ev, ds = ctx.config.evaluation, ctx.ds
  pgd_key, apgd_key = jax.random.split(key)
  accs = evaluation.robust_accuracies(
      ctx.model.apply, params, ds.test.x, ds.test.y, pgd_key, eps, steps=ev.steps,
      restarts=ev.restarts, step_scale=ev.step_scale, short_steps=ev.short_steps,
      norm=ctx.config.norm)
  if ev.apgd_iters:
    aa = evaluation.autoattack_gradient(
        ctx.model.apply, params, ds.test.x, ds.test.y, apgd_key, eps, n_iter=ev.apgd_iters,
        n_target_classes=min(ev.apgd_targets, ds.num_classes - 1), norm=ctx.config.norm)
    accs.update(apgd_ce=aa["apgd_ce"], autoattack_gradient=aa["autoattack_gradient"])
  return accs


def train_and_evaluate(point: dict[str, Any], config: Config, ctx: Context | None = None
                       ) -> dict[str, Any]:
  """Trains and evaluates one run `point = {"eps", "method", "seed"}`; returns its record
  (`record`). Without `ctx` (a worker process) the data are loaded here."""
  t_start = time.perf_counter()
  ctx = ctx or Context(config, load_data(config))
  name, eps, seed = point["method"], float(point["eps"]), int(point["seed"])
  method = methods.build(config, name, eps, ctx.steps_per_epoch)
  init_key, train_key, probe_key, eval_key = jax.random.split(jax.random.key(seed), 4)
  state = ctx.init_state(init_key, method)
  logging.info("run %s eps=%g seed=%d", name, eps, seed)
  state, history = loop.fit(state, ctx.train_step(method), ctx.ds.train, key=train_key,
                            num_epochs=config.num_epochs, batch_size=config.batch_size,
                            evaluate_fn=epoch_probes(ctx, eps, probe_key),
                            evaluate_on=ctx.variables)
  accs = final_evaluation(ctx, ctx.variables(state), eps, eval_key)
  out = record(config, point, accs, history, len(ctx.ds.test), ctx.steps_per_epoch)
  out["wall_s"] = time.perf_counter() - t_start
  logging.info("run %s eps=%g seed=%d: clean %.3f pgd %.3f fgsm(train) %.3f co=%s "
               "collapsed=%s (%.0fs)", name, eps, seed, accs["clean"], accs["pgd"],
               out["final_fgsm_train_acc"], out["co"], out["collapsed"], out["wall_s"])
  return out


def record(config: Config, point: dict[str, Any], accs: dict[str, float],
           history: list[dict[str, float]], num_test: int, steps_per_epoch: int
           ) -> dict[str, Any]:
  """The record of a run: method, eps, seed, clean_acc, pgd_acc, best_pgd_acc (the best
  per-epoch PGD accuracy on the test subset: what early stopping could at best keep), co,
  collapsed (clean accuracy at most `co.collapse_acc`: a near-constant classifier), apgd_acc
  (APGD-CE then APGD-T; None when not run), step_ms (median epoch time, first epoch
  excluded, per step), attacks, masking_checks, masking_ok, final_fgsm_train_acc,
  final_lin_err, max_lin_err and the per-epoch history."""
  checks = evaluation.masking_checks(accs, num_test)
  last = history[-1]
  co = evaluation.is_catastrophic(accs["pgd"], last["fgsm_acc"],
                                  max_pgd_acc=config.co.max_pgd_acc,
                                  min_fgsm_acc=config.co.min_fgsm_acc)
  epoch_s = [h["epoch_s"] for h in history[1:]] or [history[0]["epoch_s"]]
  return {
      "method": point["method"], "eps": float(point["eps"]), "seed": int(point["seed"]),
      "clean_acc": accs["clean"], "pgd_acc": accs["pgd"],
      "best_pgd_acc": max(h["pgd_acc"] for h in history),
      "co": co, "collapsed": accs["clean"] <= config.co.collapse_acc,
      "apgd_acc": accs.get("autoattack_gradient"),
      "step_ms": 1e3 * statistics.median(epoch_s) / steps_per_epoch,
      "attacks": accs, "masking_checks": checks, "masking_ok": all(checks.values()),
      "final_fgsm_train_acc": last["fgsm_acc"], "final_lin_err": last["lin_err"],
      "max_lin_err": max(h["lin_err"] for h in history),
      "history": history,
  }
