"""Orbax checkpointing of parameter pytrees and training states.

  save_pytree(path, params)                  # one pytree in one directory
  save_pytree(path, params, metadata={"lr": 1e-3})   # ... with a JSON dict beside it
  restore_metadata(path)                     # {"lr": 0.001}
  params = restore_pytree(path, like=params) # `like` fixes the structure, shapes and dtypes

  with checkpoint_manager(workdir.checkpoint_dir) as mngr:   # numbered training checkpoints
    save_state(mngr, epoch, state)
    epoch, state = restore_latest(mngr, like=state)            # (None, like) when there is none
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import jax
import orbax.checkpoint as ocp
from absl import logging

T = TypeVar("T")


def _abstract(like):
  return jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, like)


def save_pytree(path: str, tree: Any, *, force: bool = False,
                metadata: dict[str, Any] | None = None) -> None:
  """Saves `tree` to the directory `path` (refuses to replace one unless `force`).

  `metadata` (a JSON-serialisable dict, e.g. the hyperparameters that produced `tree`) is
  stored in the same checkpoint; read it back with `restore_metadata`. The directory appears
  only once the save is complete (orbax writes to a temporary name, then renames).
  """
  path = os.path.abspath(path)
  with ocp.StandardCheckpointer() as ckpt:
    ckpt.save(path, tree, force=force, custom_metadata=metadata)
    ckpt.wait_until_finished()


def restore_metadata(path: str) -> dict[str, Any]:
  """The `metadata` dict saved with the checkpoint at `path` (empty if none was given)."""
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"no checkpoint at {path}")
  with ocp.StandardCheckpointer() as ckpt:
    return dict(ckpt.metadata(path).custom_metadata or {})


def restore_pytree(path: str, like: T | None = None) -> T:
  """Restores the pytree saved at `path`, with the structure and dtypes of `like` if given."""
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"no checkpoint at {path}")
  with ocp.StandardCheckpointer() as ckpt:
    return ckpt.restore(path, _abstract(like)) if like is not None else ckpt.restore(path)


def checkpoint_manager(directory: str, max_to_keep: int = 2) -> ocp.CheckpointManager:
  """A manager of numbered checkpoints in `directory` (use as a context manager)."""
  return ocp.CheckpointManager(os.path.abspath(directory),
                               options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep))


def save_state(manager: ocp.CheckpointManager, step: int, state: Any) -> None:
  manager.save(step, args=ocp.args.StandardSave(state))
  manager.wait_until_finished()


def restore_latest(manager: ocp.CheckpointManager, like: T) -> tuple[int | None, T]:
  """`(step, state)` of the newest readable checkpoint, or `(None, like)` if there is none.

  A checkpoint that cannot be read (a file truncated or corrupted after the save) is skipped
  with a warning naming it and the error, and the one before it is restored.
  """
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      return step, manager.restore(step, args=ocp.args.StandardRestore(_abstract(like)))
    except Exception as e:  # pylint: disable=broad-except  (orbax / tensorstore errors vary)
      logging.warning("checkpoint %d in %s is unreadable (%s: %s); falling back to the one "
                      "before it", step, manager.directory, type(e).__name__,
                      str(e).splitlines()[0][:300] if str(e) else "")
  return None, like
