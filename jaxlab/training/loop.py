"""The epoch loop: seeded shuffling, progress logging, evaluation, checkpoint/resume and
optional data-parallel sharding over all devices (`jax.sharding`, no pmap).

  state, history = fit(state, train_step, ds.train, key=key, num_epochs=10, batch_size=128,
                       evaluate_fn=lambda p: {"val_acc": evaluate(eval_step, p, ds.val)["acc"]})
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxlab.data.dataset import Split
from jaxlab.experiment import progress
from jaxlab.training import checkpoint as ckpt_lib
from jaxlab.training import guard
from jaxlab.training.steps import TrainState


def epoch_permutation(key: jax.Array, epoch: int, n: int) -> np.ndarray:
  """The shuffling order of epoch `epoch`: a pure function of (key, epoch)."""
  return np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), n))


def batch_indices(n: int, batch_size: int, order: np.ndarray | None = None,
                  drop_remainder: bool = True) -> Iterator[np.ndarray]:
  """Index arrays of consecutive batches of `order` (default `arange(n)`)."""
  order = np.arange(n) if order is None else order
  stop = (n // batch_size) * batch_size if drop_remainder else n
  for start in range(0, stop, batch_size):
    yield order[start:start + batch_size]


def data_parallel_mesh(devices=None) -> Mesh:
  """A 1-D mesh with axis 'data' over `devices` (default: all devices)."""
  devices = np.asarray(jax.devices() if devices is None else devices)
  return Mesh(devices.reshape(-1), ("data",))


def padded_batches(arrays: Sequence[np.ndarray], batch_size: int
                   ) -> Iterator[tuple[tuple[np.ndarray, ...], int]]:
  """Consecutive batches of the rows of `arrays` (all of one length), in order; the last
  batch is padded to `batch_size` by repeating its first row, so one shape is compiled.
  Yields `(batch arrays, number of real rows)`."""
  n = len(arrays[0])
  for idx in batch_indices(n, batch_size, drop_remainder=False):
    pad = batch_size - len(idx)
    batch = tuple(a[idx] for a in arrays)
    if pad:
      batch = tuple(np.concatenate([b, np.repeat(b[:1], pad, axis=0)]) for b in batch)
    yield batch, len(idx)


def evaluate(eval_step, params, split: Split, batch_size: int = 512,
             mesh: Mesh | None = None,
             encode: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, float]:
  """Mean loss and accuracy of `params` on `split` (`eval_step` from `make_eval_step`).

  Batches come from `padded_batches` with mask 0 on the padding rows, so a single shape is
  compiled. `encode` (optional) maps each batch of inputs to model inputs, e.g. texts to
  padded ids.
  """
  n = len(split)
  if n == 0:
    raise ValueError("cannot evaluate on an empty split")
  batch_size = min(batch_size, n)
  if mesh is not None:
    batch_size = -(-batch_size // mesh.size) * mesh.size
  totals = None
  for (x, y), real in padded_batches((split.x, split.y), batch_size):
    mask = (np.arange(batch_size) < real).astype(np.float32)
    if encode is not None:
      x = encode(x)
    args = _put((x, y, mask), mesh)
    out = eval_step(params, *args)
    totals = out if totals is None else jax.tree_util.tree_map(jnp.add, totals, out)
  totals = jax.device_get(totals)
  count = float(totals["count"])
  return {"loss": float(totals["loss"]) / count, "acc": float(totals["correct"]) / count}


def _put(arrays, mesh: Mesh | None):
  if mesh is None:
    return arrays
  sharding = NamedSharding(mesh, PartitionSpec("data"))
  return tuple(jax.device_put(a, sharding) for a in arrays)


def _replicate(tree, mesh: Mesh | None):
  if mesh is None:
    return tree
  return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def fit(state: TrainState, train_step, train: Split, *, key: jax.Array, num_epochs: int,
        batch_size: int, evaluate_fn: Callable[[Any], Mapping[str, float]] | None = None,
        log_fn: Callable[[int, Mapping[str, float]], None] | None = None,
        checkpoint_dir: str | None = None, mesh: Mesh | None = None,
        encode: Callable[[np.ndarray], np.ndarray] | None = None,
        on_resume: Callable[[int | None], None] | None = None,
        evaluate_on: Callable[[TrainState], Any] | None = None
        ) -> tuple[TrainState, list[dict[str, float]]]:
  """Trains for `num_epochs` epochs of shuffled, full batches (the remainder is dropped).

  Args:
    state: initial `TrainState`.
    train_step: from `make_train_step`; called as `train_step(state, batch, step_key)`.
    train: the training split.
    key: shuffling uses `fold_in(key, epoch)`, steps use `fold_in(step_key, step)`, so a
      resumed run reproduces an uninterrupted one exactly.
    evaluate_fn: `params -> {name: value}`, called after every epoch.
    log_fn: `(epoch, metrics) -> None` with 1-based epochs, e.g. `Workdir.log`.
    checkpoint_dir: if given, the state is saved after every epoch (checkpoint number = epochs
      done) and training resumes from the newest checkpoint found there.
    mesh: shard every batch over the mesh axis 'data' (data parallel); `batch_size` must be a
      multiple of the number of devices.
    encode: maps each batch of inputs `train.x[idx]` to model inputs (e.g. texts to padded
      character ids) before the step; default: the inputs as they are.
    on_resume: called with the epoch of the checkpoint training resumes from (None: none),
      e.g. to drop metrics logged after it.
    evaluate_on: what `evaluate_fn` receives from the state; default `state.params` (a model
      with BatchNorm passes its variables, e.g. `adversarial.training.variables`).

  Returns:
    The final state and one metrics dict per epoch run in this call.
  """
  if batch_size < 1 or num_epochs < 0:
    raise ValueError(f"batch_size must be >= 1 and num_epochs >= 0, got {batch_size}, "
                     f"{num_epochs}")
  if batch_size > len(train):
    raise ValueError(f"batch_size ({batch_size}) exceeds the number of training examples "
                     f"({len(train)})")
  if mesh is not None and batch_size % mesh.size:
    raise ValueError(f"batch_size ({batch_size}) must be a multiple of the {mesh.size} devices")
  shuffle_key, step_key = jax.random.split(key)
  del key
  start_epoch = 0
  manager = ckpt_lib.checkpoint_manager(checkpoint_dir) if checkpoint_dir else None
  if manager is not None:
    done, state = ckpt_lib.restore_latest(manager, like=state)
    if on_resume is not None:
      on_resume(done)
    if done is not None:
      start_epoch = done
      logging.info("resuming after epoch %d from %s", done, checkpoint_dir)
  state = _replicate(state, mesh)
  history = []
  try:
    for epoch in progress.bar(range(start_epoch, num_epochs), desc="epochs"):
      t0 = time.perf_counter()
      step_metrics = []
      order = epoch_permutation(shuffle_key, epoch, len(train))
      for idx in batch_indices(len(train), batch_size, order):
        x = train.x[idx] if encode is None else encode(train.x[idx])
        x, y = _put((x, train.y[idx]), mesh)
        state, m = train_step(state, {"x": x, "y": y}, step_key)
        step_metrics.append(m)
      means = jax.device_get(jax.tree_util.tree_map(lambda *v: jnp.mean(jnp.stack(v)),
                                                    *step_metrics))
      metrics = {"epoch": epoch + 1, **{f"train_{k}": float(v) for k, v in means.items()}}
      metrics["epoch_s"] = time.perf_counter() - t0
      if evaluate_fn is not None:
        evaluated = state.params if evaluate_on is None else evaluate_on(state)
        metrics.update({k: float(v) for k, v in evaluate_fn(evaluated).items()})
      logging.info("epoch %d/%d  %s", epoch + 1, num_epochs,
                   "  ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k != "epoch"))
      try:  # the guard's record, read where this loop syncs anyway
        guard.check(state.nonfinite, where=f"epoch {epoch + 1} of {num_epochs}")
      except guard.NonFiniteError:
        if log_fn is not None:  # the metrics up to the failure are kept; no checkpoint
          log_fn(epoch + 1, {**metrics, "nonfinite": True})
        raise
      if log_fn is not None:  # logged first: a checkpoint never runs ahead of the metrics
        log_fn(epoch + 1, metrics)
      if manager is not None:
        ckpt_lib.save_state(manager, epoch + 1, state)
      history.append(metrics)
  finally:
    if manager is not None:
      manager.close()
  return state, history
