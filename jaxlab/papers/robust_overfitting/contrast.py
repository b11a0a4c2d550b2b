"""P4-D: PGD adversarial training of a wide MLP on the P4-A data, next to the construction.

  result = run(config.pgd_at_contrast, key, workdir)
  result["curve"]            # per evaluation: robust train / test accuracy (exact) and PGD
  result["construction"]     # the constructed network on the same training set (exact)

The MLP (`jaxlab.models.MLP`, the class the 1D construction is) is trained by the shared
adversarial core: `jaxlab.adversarial.training.method("pgd", delta)` (l-inf PGD with
`attack_steps` steps of delta / 4 from a random start, clipped to [0, 1]) as the loss of the
foundation's train step, run by `jaxlab.training.loop.fit` in chunks of `eval_every` epochs
(each chunk keyed by fold_in(key, global step), so no shuffle repeats). After every chunk the
MLP's exact piecewise-linear form (`mlp_1d`) gives its exact robust training accuracy and its
exact population robust test accuracy (noisy labels and Bayes labels); PGD of the shared core
gives the empirical robust training accuracy beside it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from jaxlab import models
from jaxlab.adversarial import training
from jaxlab.data.dataset import Split
from jaxlab.experiment import progress
from jaxlab.experiment.workdir import Workdir
from jaxlab.models import config as model_config
from jaxlab.papers.robust_overfitting import attack, construction, data, exact_1d, mlp_1d
from jaxlab.papers.robust_overfitting.config import Contrast
from jaxlab.training import loop, optim


def spread_kinks(params: Any, key: jax.Array) -> Any:
  """The first layer's biases set to -w_j u_j with u_j ~ U[0, 1]: unit j's kink moves from 0
  (Flax's zero bias) to u_j, spreading the kinks over the data range."""
  dense = params["params"]["Dense_0"]
  u = jax.random.uniform(key, dense["bias"].shape, dense["bias"].dtype)
  new = {**params["params"], "Dense_0": {**dense, "bias": -dense["kernel"][0] * u}}
  return {**params, "params": new}


def exact_accuracies(params: Any, x: np.ndarray, y: np.ndarray, cfg: Contrast
                     ) -> dict[str, float]:
  """Exact robust training accuracy and population robust / clean test accuracies of the
  MLP, from its piecewise-linear form."""
  sets = exact_1d.sign_sets(mlp_1d.piecewise_linear(params))
  errors = exact_1d.classifier_errors(sets, cfg.bands, cfg.delta)
  return {"robust_train_acc": 1.0 - float(exact_1d.ball_errors(sets, x[:, 0], y,
                                                               cfg.delta).mean()),
          "robust_test_acc": 1.0 - errors["robust_error"],
          "robust_test_acc_bayes": 1.0 - errors["robust_error_bayes_labels"],
          "clean_test_acc": 1.0 - errors["clean_error"]}


def construction_accuracies(x: np.ndarray, y: np.ndarray, cfg: Contrast) -> dict[str, Any]:
  """The same accuracies for the construction (w = delta, margin 1) and for g alone."""
  c = construction.classifier(x, y, cfg.bands, delta=cfg.delta, w=cfg.delta, margin=1.0)
  out = {}
  for name, h in (("construction", construction.as_piecewise_linear(c)),
                  ("g", data.square_wave(cfg.bands))):
    sets = exact_1d.sign_sets(h)
    errors = exact_1d.classifier_errors(sets, cfg.bands, cfg.delta)
    out[name] = {"robust_train_acc": 1.0 - float(exact_1d.ball_errors(
        sets, x[:, 0], y, cfg.delta).mean()), "robust_test_acc": 1.0 - errors["robust_error"],
        "robust_test_acc_bayes": 1.0 - errors["robust_error_bayes_labels"],
        "clean_test_acc": 1.0 - errors["clean_error"]}
  out["construction"]["hidden_units"] = len(data.square_wave(cfg.bands).knots) - 2 + \
      4 * len(c.fit)
  return out


def run(cfg: Contrast, key: jax.Array, wd: Workdir | None = None) -> dict[str, Any]:
  """Trains the MLP and returns the curve, the final numbers and the construction's."""
  data_key, init_key, kink_key, train_key, attack_key = jax.random.split(key, 5)
  x, _, y = data.sample(data_key, cfg.n, cfg.bands, dim=1)
  train = Split(x.astype(np.float32), attack.class_labels(y))
  model = model_config.build(cfg.model, outputs=2)
  params = models.init(model, init_key, jnp.zeros((1, 1), jnp.float32))
  if cfg.spread_kinks:
    params = spread_kinks(params, kink_key)
  steps_per_epoch = cfg.n // cfg.batch_size
  tx = optim.from_config(cfg.optim, steps_per_epoch * cfg.num_epochs)
  method = training.method("pgd", cfg.delta, steps=cfg.attack_steps, box=(0.0, 1.0))
  state = training.init_state(params, tx, method)
  train_step = training.make_train_step(model.apply, tx, method)
  curve = []
  chunks = range(cfg.eval_every, cfg.num_epochs + 1, cfg.eval_every)
  for epoch, eval_key in progress.bar(zip(chunks, jax.random.split(attack_key, len(chunks))),
                                      desc="P4-D epochs", total=len(chunks)):
    state, history = loop.fit(state, train_step, train,
                              key=jax.random.fold_in(train_key, int(state.step)),
                              num_epochs=cfg.eval_every, batch_size=cfg.batch_size)
    found, _ = attack.pgd_errors(model, state.params, x, y, eval_key, delta=cfg.delta,
                                 steps=cfg.eval_steps, restarts=cfg.eval_restarts)
    point = {"epoch": epoch, **exact_accuracies(state.params, x, y, cfg),
             "robust_train_acc_pgd": 1.0 - float(found.mean()),
             "train_adv_accuracy": history[-1]["train_adv_accuracy"],
             "train_loss": history[-1]["train_loss"]}
    curve.append(point)
    logging.info("P4-D epoch %d: %s", epoch, point)
    if wd is not None:
      wd.log(epoch, point)
  peak = max(curve, key=lambda p: p["robust_test_acc"])
  return {"curve": curve, "final": curve[-1], "peak": peak,
          "num_params": models.num_params(params), **construction_accuracies(x, y, cfg)}
