"""Training core: pure steps, the epoch loop, optimisers, checkpoints.

  from jaxlab.training import TrainState, make_train_step, make_eval_step, fit, evaluate
"""

from jaxlab.training.checkpoint import (checkpoint_manager, restore_latest,
                                        restore_metadata, restore_pytree, save_pytree,
                                        save_state)
from jaxlab.training.loop import (batch_indices, data_parallel_mesh, epoch_permutation, evaluate,
                                  fit)
from jaxlab.training.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from jaxlab.training.steps import (TrainState, classification_loss, cross_entropy,
                                   make_eval_step, make_train_step)

__all__ = ["OPTIMIZERS", "SCHEDULES", "TrainState", "batch_indices", "checkpoint_manager",
           "classification_loss", "cross_entropy", "data_parallel_mesh", "epoch_permutation",
           "evaluate", "fit", "make_eval_step", "make_optimizer", "make_schedule",
           "make_train_step", "restore_latest", "restore_metadata", "restore_pytree",
           "save_pytree", "save_state"]
