"""AutoAttack's gradient attacks: APGD with the cross-entropy loss (APGD-CE) and APGD with the
targeted DLR loss (APGD-T), Croce & Hein, ICML 2020, arXiv 2003.01690, for any classifier
`apply_fn(params, x) -> logits`, in the L-inf or L2 ball, batched and jitted.

  from jaxlab.adversarial import apgd
  x_adv, score = apgd.apgd_ce(model.apply, params, x, y, key, eps=8 / 255)   # (N, ...)
  x_adv, score = apgd.apgd_t(model.apply, params, x, y, key, eps=8 / 255)    # 9 targets
  apgd.dlr_loss(logits, y)                      # (N,) difference-of-logits ratio
  apgd.dlr_targeted_loss(logits, y, targets)    # (N,)

APGD is PGD whose step size adapts to the progress of each example (Algorithm 1 of the paper,
as the `autoattack` package's `APGDAttack` runs it), with P the projection onto the eps-ball
around x followed by clipping to `box`:

  x0 = P(x + eps * t / |t|), t ~ U(-1, 1)^d          (a random point on the ball's surface)
  eta = 2 eps (per example); x1 = P(x0 + eta s(grad f(x0)))      s = sign (L-inf), g / |g|_2
  z  = P(x_k + eta s(grad f(x_k)))
  x_{k+1} = P(x_k + 0.75 (z - x_k) + 0.25 (x_k - x_{k-1}))       (momentum 0.75)

and keeps, per example, the iterate of highest loss (and any misclassified iterate). At the
checkpoints (after 0.22 N iterations, then windows shrinking by 0.03 N down to 0.06 N, as the
package's code) an example halves its eta and restarts from its best point if (1) the loss
increased in at most 75% of the window's steps, or (2) eta was not halved at the previous
checkpoint and the best loss has not improved since. `restarts` runs from independent random
starts (`fold_in(key, r)`) and keeps each example's best result.

Losses (`(logits (N, C), labels (N,), targets (N,)) -> (N,)`):
  cross-entropy; DLR = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3) (untargeted, C >= 3);
  targeted DLR = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2) (C >= 4), pi the logits sorted
  in decreasing order. DLR is invariant to shifting and to positively scaling the logits.
APGD-T attacks, for r = 2 .. n_target_classes + 1, the class with the r-th highest clean logit.

The iterations are a Python loop over one jitted step (as `attacks.perturb`: XLA's CPU
backend runs convolutions inside `while` loops several times slower; inside a caller's `jit`
the loop unrolls); the checkpoint schedule is data that the step reads, so one compiled step
serves every iteration. A BatchNorm model must be passed in eval mode (rows independent).
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlab.adversarial.attacks import (DATA_RANGE, Box, Score, _keep, check_norm, clip_to_box,
                                        project, steepest_direction)
from jaxlab.training.steps import cross_entropy

# (logits (N, C), labels (N,), targets (N,)) -> (N,)
TargetedLoss = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
MOMENTUM = 0.75    # alpha of the update
RHO = 0.75         # condition (1): the loss rose in at most RHO of the window's steps
TINY = 1e-12       # the package's guard of the DLR denominators


def ce_loss(logits: jax.Array, labels: jax.Array, targets: jax.Array) -> jax.Array:
  """Per-example cross-entropy `(N,)` (targets unused: APGD-CE is untargeted)."""
  del targets
  return cross_entropy(logits, labels)


def _sorted_desc(logits: jax.Array) -> jax.Array:
  return -jnp.sort(-logits, axis=-1)


def _check_classes(logits: jax.Array, need: int, name: str) -> None:
  if logits.shape[-1] < need:
    raise ValueError(f"{name} needs at least {need} classes, got {logits.shape[-1]}")


def dlr_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Untargeted DLR loss `(N,)`: -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12); > 0
  iff the example is misclassified. Needs C >= 3 classes."""
  _check_classes(logits, 3, "the DLR loss")
  z = _sorted_desc(logits)
  true = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
  top_is_true = jnp.argmax(logits, -1) == labels
  other = jnp.where(top_is_true, z[:, 1], z[:, 0])
  return -(true - other) / (z[:, 0] - z[:, 2] + TINY)


def dlr_targeted_loss(logits: jax.Array, labels: jax.Array, targets: jax.Array) -> jax.Array:
  """Targeted DLR loss `(N,)`: -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12) with
  t = `targets`. Needs C >= 4 classes."""
  _check_classes(logits, 4, "the targeted DLR loss")
  z = _sorted_desc(logits)
  true = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
  target = jnp.take_along_axis(logits, targets[:, None], axis=-1)[:, 0]
  return -(true - target) / (z[:, 0] - 0.5 * (z[:, 2] + z[:, 3]) + TINY)


def dlr_untargeted(logits: jax.Array, labels: jax.Array, targets: jax.Array) -> jax.Array:
  """`dlr_loss` in the targeted signature (targets unused), for `apgd(loss=...)`."""
  del targets
  return dlr_loss(logits, labels)


def checkpoint_schedule(n_iter: int) -> tuple[np.ndarray, np.ndarray]:
  """`(check (n_iter,) bool, window (n_iter,) int)`: whether the step-size test runs after
  iteration i, and over how many iterations; the first window is max(int(0.22 n), 1), each
  next one max(int(0.03 n), 1) shorter, never below max(int(0.06 n), 1)."""
  check = np.zeros(n_iter, bool)
  window = np.ones(n_iter, np.int32)
  k = max(int(0.22 * n_iter), 1)
  k_min, decrease = max(int(0.06 * n_iter), 1), max(int(0.03 * n_iter), 1)
  i = k - 1
  while i < n_iter:
    check[i], window[i] = True, k
    k = max(k - decrease, k_min)
    i += k
  return check, window


class APGDState(NamedTuple):
  """Per-example state of one APGD run (every field has a leading batch axis N).

  Attributes:
    x_adv, x_prev: the current and the previous iterate.
    grad: the loss gradient at x_adv.
    step: eta.
    loss: the loss at the last iterate.
    best_loss, x_best, grad_best: the highest loss so far, its point and gradient.
    wrong, x_wrong: whether an iterate was misclassified, and the last such iterate.
    increases: steps since the last checkpoint whose loss exceeded the previous step's.
    best_at_check: best_loss at the last checkpoint.
    reduced_at_check: whether eta was halved at the last checkpoint (True before the first).
  """

  x_adv: jax.Array
  x_prev: jax.Array
  grad: jax.Array
  step: jax.Array
  loss: jax.Array
  best_loss: jax.Array
  x_best: jax.Array
  grad_best: jax.Array
  wrong: jax.Array
  x_wrong: jax.Array
  increases: jax.Array
  best_at_check: jax.Array
  reduced_at_check: jax.Array


def _row(v: jax.Array, ndim: int) -> jax.Array:
  return jnp.reshape(v, v.shape + (1,) * (ndim - 1))


def _where(mask: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
  return jnp.where(_row(mask, a.ndim), a, b)


def _to_ball(x_adv: jax.Array, x: jax.Array, eps, norm: str, box: Box) -> jax.Array:
  """P: projection of x_adv onto the eps-ball around x, then clipping to `box`."""
  return clip_to_box(x + project(x_adv - x, eps, norm), box)


def _value_grad(apply_fn, params, x_adv, y, targets, loss: TargetedLoss):
  def total(z):
    logits = apply_fn(params, z)
    values = loss(logits, y, targets)
    return jnp.sum(values), (values, logits)

  (_, (values, logits)), grad = jax.value_and_grad(total, has_aux=True)(x_adv)
  return values, jnp.argmax(logits, -1) != y, grad


@functools.partial(jax.jit, static_argnames=("apply_fn", "loss", "norm", "box"))
def _start(apply_fn, params, x, y, targets, key, eps, *, loss, norm, box) -> APGDState:
  t = jax.random.uniform(key, x.shape, x.dtype, -1.0, 1.0)
  direction = steepest_direction(t, "l2") if norm == "l2" else t / _row(
      jnp.max(jnp.abs(jnp.reshape(t, (t.shape[0], -1))), -1), t.ndim)
  x0 = clip_to_box(x + eps * direction, box)
  values, wrong, grad = _value_grad(apply_fn, params, x0, y, targets, loss)
  n = x.shape[0]
  return APGDState(x0, x0, grad, jnp.full((n,), 2.0 * eps, x.dtype), values, values, x0, grad,
                   wrong, x0, jnp.zeros((n,), jnp.int32), values, jnp.ones((n,), bool))


@functools.partial(jax.jit, static_argnames=("apply_fn", "loss", "norm", "box"))
def _iteration(apply_fn, params, x, y, targets, eps, s: APGDState, first, check, window, *,
               loss, norm, box) -> APGDState:
  """One APGD update, then the checkpoint test if `check` (module docstring)."""
  alpha = jnp.where(first, 1.0, MOMENTUM).astype(x.dtype)
  step = _row(s.step, x.ndim)
  z = _to_ball(s.x_adv + step * steepest_direction(s.grad, norm), x, eps, norm, box)
  x_new = _to_ball(s.x_adv + alpha * (z - s.x_adv) + (1 - alpha) * (s.x_adv - s.x_prev), x,
                   eps, norm, box)
  values, wrong_now, grad = _value_grad(apply_fn, params, x_new, y, targets, loss)
  improved = values > s.best_loss
  best_loss = jnp.where(improved, values, s.best_loss)
  x_best, grad_best = _where(improved, x_new, s.x_best), _where(improved, grad, s.grad_best)
  increases = s.increases + (values > s.loss).astype(jnp.int32)
  oscillating = increases.astype(x.dtype) <= RHO * jnp.asarray(window, x.dtype)
  stalled = ~s.reduced_at_check & (s.best_at_check >= best_loss)
  reduce = check & (oscillating | stalled)
  return APGDState(
      x_adv=_where(reduce, x_best, x_new), x_prev=s.x_adv,
      grad=_where(reduce, grad_best, grad), step=jnp.where(reduce, s.step / 2, s.step),
      loss=values, best_loss=best_loss, x_best=x_best, grad_best=grad_best,
      wrong=s.wrong | wrong_now, x_wrong=_where(wrong_now, x_new, s.x_wrong),
      increases=jnp.where(check, 0, increases),
      best_at_check=jnp.where(check, best_loss, s.best_at_check),
      reduced_at_check=jnp.where(check, oscillating | stalled, s.reduced_at_check))


def run(apply_fn, params, x, y, key, eps, *, n_iter: int = 100, loss: TargetedLoss = ce_loss,
        targets: jax.Array | None = None, norm: str = "linf", box: Box = DATA_RANGE
        ) -> APGDState:
  """One APGD run from the random start drawn with `key` (arguments as `apgd`); returns the
  final `APGDState` (per-example best points, losses, step sizes)."""
  check_norm(norm)
  if n_iter < 1:
    raise ValueError(f"apgd needs n_iter >= 1, got {n_iter}")
  targets = y if targets is None else targets
  eps = jnp.asarray(eps, x.dtype)
  opts = dict(loss=loss, norm=norm, box=box)
  s = _start(apply_fn, params, x, y, targets, key, eps, **opts)
  check, window = checkpoint_schedule(n_iter)
  for i in range(n_iter):
    s = _iteration(apply_fn, params, x, y, targets, eps, s, i == 0, bool(check[i]),
                   int(window[i]), **opts)
  return s


def result(s: APGDState) -> tuple[jax.Array, Score]:
  """`(x_adv, Score(wrong, best loss))` of a run: per example the misclassified iterate if
  one was found, else the iterate of highest loss."""
  return _where(s.wrong, s.x_wrong, s.x_best), Score(s.wrong, s.best_loss)


def apgd(apply_fn, params, x, y, key, eps, *, n_iter: int = 100, restarts: int = 1,
         loss: TargetedLoss = ce_loss, targets: jax.Array | None = None, norm: str = "linf",
         box: Box = DATA_RANGE) -> tuple[jax.Array, Score]:
  """APGD on `loss` (module docstring) with `restarts` random starts.

  Args:
    apply_fn, params: the classifier `apply_fn(params, x (N, ...)) -> logits (N, C)`; pass a
      stable function (e.g. `model.apply`): it is a static argument of the jitted step.
    x, y: clean inputs `(N, ...)` and integer labels `(N,)`.
    key: restart r starts from `fold_in(key, r)`.
    eps: radius of the `norm` ball.
    n_iter: iterations per restart (the package's default: 100).
    loss: `(logits, labels, targets) -> (N,)`, a module-level function (`ce_loss`,
      `dlr_untargeted`, `dlr_targeted_loss`).
    targets: `(N,)` target classes for a targeted loss (default: the labels, unused).

  Returns:
    `(x_adv (N, ...), Score)`: per example, a misclassified point if any run found one (then
    `score.wrong`), else the point of highest loss; not differentiated.
  """
  if restarts < 1:
    raise ValueError(f"apgd needs restarts >= 1, got {restarts}")
  best, best_score = None, None
  for r in range(restarts):
    x_adv, score = result(run(apply_fn, params, x, y, jax.random.fold_in(key, r), eps,
                              n_iter=n_iter, loss=loss, targets=targets, norm=norm, box=box))
    if best is None:
      best, best_score = x_adv, score
    else:
      best_score, best = _keep(score, best_score, x_adv, best)
  return jax.lax.stop_gradient(best), best_score


def apgd_ce(apply_fn, params, x, y, key, eps, *, n_iter: int = 100, restarts: int = 1,
            norm: str = "linf", box: Box = DATA_RANGE) -> tuple[jax.Array, Score]:
  """APGD-CE: `apgd` on the cross-entropy loss; `(x_adv (N, ...), Score)`."""
  return apgd(apply_fn, params, x, y, key, eps, n_iter=n_iter, restarts=restarts,
              loss=ce_loss, norm=norm, box=box)


@functools.partial(jax.jit, static_argnames=("apply_fn", "rank"))
def target_classes(apply_fn, params, x, rank: int) -> jax.Array:
  """`(N,)` the class with the `rank`-th highest clean logit (rank 2: the runner-up)."""
  logits = apply_fn(params, x)
  return jnp.argsort(-logits, axis=-1)[:, rank - 1]


def apgd_t(apply_fn, params, x, y, key, eps, *, n_iter: int = 100, restarts: int = 1,
           n_target_classes: int = 9, norm: str = "linf", box: Box = DATA_RANGE
           ) -> tuple[jax.Array, Score]:
  """APGD-T: `apgd` on the targeted DLR loss towards each of the `n_target_classes` classes
  with the highest clean logits after the top one (target r uses `fold_in(key, r)`); per
  example the best result over targets; `(x_adv (N, ...), Score)`."""
  num_classes = jax.eval_shape(apply_fn, params, x[:1]).shape[-1]
  if num_classes < 4:
    raise ValueError(f"APGD-T's targeted DLR loss needs >= 4 classes, got {num_classes}")
  if not 1 <= n_target_classes <= num_classes - 1:
    raise ValueError(f"n_target_classes must be in [1, {num_classes - 1}], got "
                     f"{n_target_classes}")
  best, best_score = None, None
  for rank in range(2, n_target_classes + 2):
    targets = target_classes(apply_fn, params, x, rank)
    x_adv, score = apgd(apply_fn, params, x, y, jax.random.fold_in(key, rank), eps,
                        n_iter=n_iter, restarts=restarts, loss=dlr_targeted_loss,
                        targets=targets, norm=norm, box=box)
    if best is None:
      best, best_score = x_adv, score
    else:
      best_score, best = _keep(score, best_score, x_adv, best)
  return best, best_score
