"""The one supervised pipeline: a classifier trained on a `Dataset` split, evaluated, saved.

  result = fit_classifier(params, model.apply, tx, ds.train, key=key, num_epochs=10,
                          batch_size=64, val=ds.val, test=ds.test, workdir=wd)
  result.params, result.history, result.val["acc"], result.test["acc"]

Every classifier jaxlab trains goes through `fit_classifier`: `train_classifier`, the Charmer
victims (with `encode` turning texts into character ids) and the soup ingredients, shared
start and linear probe (with their own loss, optimiser state or prebuilt step). It builds the
`TrainState` and the jitted steps, runs `loop.fit` (seeded shuffling, per-epoch validation,
checkpoints and resume, data-parallel batches), evaluates val and test with padded batches and,
with a workdir, logs metrics.jsonl, saves params/ and plots the training curves.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

import jax
import numpy as np
import optax
from jax.sharding import Mesh

from jaxlab import plotting
from jaxlab.data.dataset import Split
from jaxlab.experiment.workdir import Workdir
from jaxlab.training import checkpoint as ckpt_lib
from jaxlab.training import loop, steps

PARAMS = "params"


class FitResult(NamedTuple):
  """What `fit_classifier` returns: the trained parameters (with `variables_fn`, the
  variables it gives: parameters and BatchNorm statistics), one metrics dict per epoch (all
  epochs, also those run before a resume, when a workdir holds them), and the final val /
  test `{"loss", "acc"}` (None for a split not given)."""

  params: Any
  history: list[dict[str, Any]]
  val: dict[str, float] | None
  test: dict[str, float] | None


def fit_classifier(params: Any, apply_fn: Callable[..., jax.Array],
                   tx: optax.GradientTransformation, train: Split, *, key: jax.Array,
                   num_epochs: int, batch_size: int, val: Split | None = None,
                   test: Split | None = None, loss_fn: steps.LossFn | None = None,
                   train_step: Callable | None = None,
                   batch_extras: Mapping[str, Any] | None = None, eval_batch_size: int = 512,
                   encode: Callable[[np.ndarray], np.ndarray] | None = None,
                   mesh: Mesh | None = None, workdir: Workdir | None = None,
                   checkpoint: bool = True,
                   log_fn: Callable[[int, Mapping[str, float]], None] | None = None,
                   loss_state: Any = None,
                   variables_fn: Callable[[steps.TrainState], Any] | None = None
                   ) -> FitResult:
  """Trains `params` on `train` for `num_epochs` epochs and evaluates them.

  Args:
    params: initial parameters of `apply_fn(params, x) -> logits (N, C)`.
    apply_fn: the classifier.
    tx: the optimiser (its state is created here).
    train: the training split; `val` (evaluated after every epoch and at the end) and `test`
      (at the end) are optional.
    key: shuffling and step keys (`loop.fit`).
    num_epochs, batch_size: full shuffled batches per epoch (the remainder is dropped).
    loss_fn: `loss_fn(params, batch, key) -> (loss, aux)`; default mean cross-entropy.
    train_step: a prebuilt `steps.make_train_step(...)` to reuse one compiled step across
      calls (e.g. many recipes whose hyperparameters live in the optimiser state); else one
      is built from `loss_fn` and `tx`.
    batch_extras: arrays added to every batch (e.g. a recipe's augmentation strengths).
    eval_batch_size: evaluation batch (the last one padded: one compiled shape).
    encode: maps a batch of `train.x` rows to model inputs (texts to ids).
    mesh: shard batches over the mesh axis 'data'.
    workdir: metrics.jsonl (one line per epoch), checkpoints/ (with `checkpoint`, resumed
      from), params/ and plots/curves; None trains in memory.
    log_fn: where epoch metrics go; default `workdir.log` (or nowhere).
    loss_state: the initial `TrainState.loss_state` of a stateful loss or prebuilt step
      (e.g. `adversarial.training.ATState`).
    variables_fn: what `apply_fn` evaluates, from the training state; default
      `state.params`. A model with BatchNorm passes its variables (parameters and running
      statistics, e.g. `adversarial.training.variables`); `FitResult.params` and params/
      then hold them.

  Returns:
    A `FitResult`.
  """
  if train_step is None:
    train_step = steps.make_train_step(loss_fn or steps.classification_loss(apply_fn), tx)
  if batch_extras:
    base_step = train_step
    train_step = lambda s, batch, k: base_step(s, {**batch, **batch_extras}, k)  # noqa: E731
  eval_step = steps.make_eval_step(apply_fn)

  def evaluate(p, split):
    return loop.evaluate(eval_step, p, split, eval_batch_size, mesh, encode=encode)

  def evaluate_fn(p):
    result = evaluate(p, val)
    return {"val_loss": result["loss"], "val_acc": result["acc"]}

  checkpoint_dir = workdir.checkpoint_dir if workdir is not None and checkpoint else None
  on_resume = workdir.truncate_metrics if checkpoint_dir and workdir.resumed else None
  if log_fn is None and workdir is not None:
    log_fn = workdir.log
  state, history = loop.fit(steps.TrainState.create(params, tx, loss_state), train_step, train,
                            key=key, num_epochs=num_epochs, batch_size=batch_size,
                            evaluate_fn=evaluate_fn if val is not None else None,
                            log_fn=log_fn, checkpoint_dir=checkpoint_dir, mesh=mesh,
                            encode=encode, evaluate_on=variables_fn, on_resume=on_resume)
  params = jax.device_get(state.params if variables_fn is None else variables_fn(state))
  if workdir is not None:
    history = workdir.read_metrics() or history
    if checkpoint:
      ckpt_lib.save_pytree(workdir.file(PARAMS), params, force=True)
    if history:
      plot_curves(history, workdir)
  return FitResult(params, history, evaluate(params, val) if val is not None else None,
                   evaluate(params, test) if test is not None else None)


def plot_curves(history: list[dict[str, float]], workdir: Workdir) -> str:
  """plots/curves: training (and validation, if logged) loss and accuracy per epoch."""
  fig, (ax1, ax2) = plotting.figure(1, 2)
  epochs = np.arange(1, len(history) + 1)
  ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
  ax2.plot(epochs, [h["train_accuracy"] for h in history], label="train")
  if all("val_loss" in h for h in history):
    ax1.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax2.plot(epochs, [h["val_acc"] for h in history], label="validation")
  ax1.set(xlabel="epoch", ylabel="cross-entropy (nats)", yscale="log", title="loss")
  ax2.set(xlabel="epoch", ylabel="accuracy (fraction)", title="accuracy")
  plotting.finish(ax1, ax2)
  return workdir.save_figure(fig, "curves")
