"""Robust evaluation: accuracy under a battery of attacks, gradient-masking sanity checks and
the catastrophic-overfitting (CO) flag.

  from jaxlab.adversarial import evaluation
  accs = evaluation.robust_accuracies(model.apply, params, x, y, key, eps=0.3, steps=50,
                                      restarts=10)
  accs["pgd"], accs["worst"]                    # PGD-50-10 and worst case with margin PGD-50
  checks = evaluation.masking_checks(accs, n=len(y))     # {"noise_ge_pgd": True, ...}
  evaluation.is_catastrophic(pgd_acc=0.0, fgsm_acc=0.9)  # True
  aa = evaluation.autoattack_gradient(model.apply, params, x, y, key, eps=8 / 255)
  aa["autoattack_gradient"]                     # APGD-CE then APGD-T, per-example worst case

Gradient masking (Athalye et al., 2018; Carlini et al., 2019, arXiv 1902.06705) shows as an
attack that gets *weaker* with more effort: robust accuracy must not rise with more PGD steps
or restarts, and must not exceed the accuracy under random noise of the same radius or under
single-step FGSM. `masking_checks` tests exactly these, with a tolerance of one example.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping

import jax
import numpy as np

from jaxlab.adversarial import apgd, attacks, linearity
from jaxlab.adversarial.attacks import DATA_RANGE, Box
from jaxlab.training.loop import padded_batches

# (params, x, y, key or None) -> x_adv
Attack = Callable[[object, jax.Array, jax.Array, jax.Array | None], jax.Array]


def attacked_correct(apply_fn, attack: Attack, params, x: np.ndarray, y: np.ndarray,
                     key: jax.Array | None, batch_size: int = 512) -> np.ndarray:
  """Per-example correctness `(N,)` bool of the classifier on `attack(params, xb, yb, kb)`.

  Batches of `batch_size` rows (the last one padded, so one shape is compiled) use
  `kb = fold_in(key, batch number)`; a deterministic attack passes `key=None` (kb is None).
  """
  n = len(y)
  if n == 0:
    raise ValueError("cannot evaluate on an empty set")
  batch_size = min(batch_size, n)
  out = []
  for b, ((xb, yb), real) in enumerate(padded_batches((x, y), batch_size)):
    x_adv = attack(params, xb, yb, None if key is None else jax.random.fold_in(key, b))
    out.append(np.asarray(attacks.correct(apply_fn, params, x_adv, yb))[:real])
  return np.concatenate(out)


def robust_accuracies(apply_fn, params, x: np.ndarray, y: np.ndarray, key: jax.Array, eps: float,
                      *, steps: int = 50, restarts: int = 10, step_scale: float = 0.25,
                      short_steps: int = 10, norm: str = "linf", box: Box = DATA_RANGE,
                      batch_size: int = 512) -> dict[str, float]:
  """Accuracy of the classifier on `(x, y)` under each attack of the evaluation protocol.

  Returns a dict with:
    clean; noise (uniform noise in the eps-ball); fgsm; pgd_short (`short_steps` steps, one
    random start); pgd_1 (`steps` steps, the first restart of pgd); pgd (`steps` steps,
    `restarts` restarts, step `step_scale * eps`: the reported robust accuracy, e.g.
    PGD-50-10); margin_pgd (`steps` steps of PGD on the margin loss, one start); worst (an
    example counts only if it survives both pgd and margin_pgd).
  All attacks clip to `box`. One key per random attack: noise, pgd_short, margin_pgd and the
  pgd restarts draw from independent keys split from `key`; clean and fgsm use none.
  """
  k_noise, k_short, k_margin, k_restarts = jax.random.split(key, 4)
  step_size = step_scale * eps
  common = dict(norm=norm, box=box)

  def run(attack, k):
    return attacked_correct(apply_fn, attack, params, x, y, k, batch_size)

  pgd = functools.partial(attacks.pgd, apply_fn, eps=eps, step_size=step_size, **common)
  correct = {
      "clean": run(lambda p, xb, yb, kb: xb, None),
      "noise": run(lambda p, xb, yb, kb: attacks.uniform_noise(xb, kb, eps, **common), k_noise),
      "fgsm": run(lambda p, xb, yb, kb: attacks.fgsm(apply_fn, p, xb, yb, eps, **common), None),
      "pgd_short": run(lambda p, xb, yb, kb: pgd(p, xb, yb, kb, steps=short_steps), k_short),
      "margin_pgd": run(lambda p, xb, yb, kb: attacks.margin_pgd(
          apply_fn, p, xb, yb, kb, eps, step_size, steps=steps, **common), k_margin),
  }
  # Restart r of `pgd(..., key, restarts=R)` starts from fold_in(key, r): run them one by one
  # to get the one-restart accuracy for free.
  per_restart = [run(lambda p, xb, yb, kb: pgd(p, xb, yb, jax.random.fold_in(kb, r),
                                               steps=steps), k_restarts)
                 for r in range(restarts)]
  correct["pgd_1"] = per_restart[0]
  correct["pgd"] = np.logical_and.reduce(per_restart)
  correct["worst"] = correct["pgd"] & correct["margin_pgd"]
  return {name: float(np.mean(c)) for name, c in correct.items()}


def autoattack_gradient(apply_fn, params, x: np.ndarray, y: np.ndarray, key: jax.Array,
                        eps: float, *, n_iter: int = 100, restarts: int = 1,
                        n_target_classes: int = 9, norm: str = "linf", box: Box = DATA_RANGE,
                        batch_size: int = 512) -> dict[str, float]:
  """Accuracy under AutoAttack's two gradient attacks in sequence, as the standard AutoAttack
  runs them (Croce & Hein 2020, arXiv 2003.01690; `apgd`): APGD-CE on every example, then
  APGD-T (`n_target_classes` targets) on the examples still classified correctly; an example
  counts as robust only if it survives both (the per-example worst case). FAB-T and Square,
  the standard version's gradient-free attacks, are not run: do not call this "AutoAttack".

  Returns `{"clean", "apgd_ce", "autoattack_gradient", "apgd_t_extra"}`: accuracies, the last
  the fraction of examples that only APGD-T broke. APGD-CE draws from `fold_in(key', b)` per
  batch b, APGD-T likewise from an independent key.
  """
  ce_key, t_key = jax.random.split(key)
  common = dict(n_iter=n_iter, restarts=restarts, norm=norm, box=box)
  clean = attacked_correct(apply_fn, lambda p, xb, yb, kb: xb, params, x, y, None, batch_size)
  ce = attacked_correct(apply_fn, lambda p, xb, yb, kb: apgd.apgd_ce(
      apply_fn, p, xb, yb, kb, eps, **common)[0], params, x, y, ce_key, batch_size)
  robust = clean & ce
  worst = robust.copy()
  idx = np.flatnonzero(robust)
  if idx.size:  # padded to the full batch so the compiled attack is reused
    rows = np.resize(idx, max(idx.size, min(batch_size, len(y))))
    survived = attacked_correct(apply_fn, lambda p, xb, yb, kb: apgd.apgd_t(
        apply_fn, p, xb, yb, kb, eps, n_target_classes=n_target_classes, **common)[0],
        params, x[rows], y[rows], t_key, batch_size)
    worst[idx] = survived[:idx.size]
  return {"clean": float(np.mean(clean)), "apgd_ce": float(np.mean(robust)),
          "autoattack_gradient": float(np.mean(worst)),
          "apgd_t_extra": float(np.mean(robust & ~worst))}


def masking_checks(accs: Mapping[str, float], n: int) -> dict[str, bool]:
  """Gradient-masking sanity checks on `robust_accuracies` output, with a tolerance of one of
  the `n` examples: noise >= pgd and fgsm >= pgd (a stronger attack must not do worse), PGD
  with `short_steps` >= PGD with `steps` (independent starts), one restart >= all restarts
  (nested restarts: holds by construction, a failure would be a bug)."""
  tol = 1.0 / n + 1e-9
  return {
      "noise_ge_pgd": accs["noise"] >= accs["pgd"] - tol,
      "fgsm_ge_pgd": accs["fgsm"] >= accs["pgd"] - tol,
      "more_steps_not_higher": accs["pgd_short"] >= accs["pgd_1"] - tol,
      "more_restarts_not_higher": accs["pgd_1"] >= accs["pgd"] - tol,
  }


def is_catastrophic(pgd_acc: float, fgsm_acc: float, *, max_pgd_acc: float = 0.05,
                    min_fgsm_acc: float = 0.5) -> bool:
  """The CO flag: robust (PGD) accuracy has collapsed below `max_pgd_acc` while the accuracy
  against the single-step attack on training data stays at least `min_fgsm_acc`."""
  return bool(pgd_acc < max_pgd_acc and fgsm_acc >= min_fgsm_acc)


@functools.partial(jax.jit, static_argnames=("apply_fn", "norm", "box"))
def linearity_probe(apply_fn, params, x, y, key, eps, *, norm: str = "linf", box: Box = None
                    ) -> dict[str, jax.Array]:
  """Local-linearity diagnostics on a fixed batch: `{'lin_err': E_lin, 'grad_cos': GradAlign
  cosine}` (scalars), with the triplets and the noise drawn from `key` (keep it fixed across
  epochs so the curve reflects the parameters only)."""
  loss_fn = linearity.example_losses(apply_fn, params)
  lin_key, cos_key = jax.random.split(key)
  lin_err, _ = linearity.local_linearity_error(loss_fn, x, y, lin_key, eps, norm=norm, box=box)
  grad_cos, _ = linearity.gradient_alignment(loss_fn, x, y, cos_key, eps, norm=norm, box=box)
  return {"lin_err": lin_err, "grad_cos": grad_cos}
