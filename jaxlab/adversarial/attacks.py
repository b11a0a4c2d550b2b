"""Adversarial attacks on any classifier `apply_fn(params, x) -> logits`, in the L-inf or L2
ball of radius eps around each example, clipped to the data range `box`.

  from jaxlab.adversarial import attacks
  x_adv = attacks.fgsm(model.apply, params, x, y, 0.3)                  # (N, H, W, C)
  x_adv = attacks.pgd(model.apply, params, x, y, key, 0.3, step_size=0.075, steps=50,
                      restarts=10)                                      # (N, H, W, C)
  x_adv = attacks.margin_pgd(model.apply, params, x, y, key, 0.3, step_size=0.075, steps=50)
  attacks.accuracy(model.apply, params, x_adv, y)                       # () fraction correct

Every attack is a pure function of `(params, x, y, key)`, iterating one jitted ascent step in
optax's `(init, update)` shape (`perturb`); `apply_fn` (pass a stable function such as
`model.apply`, not a fresh lambda), the norm, the loss and `box` are static, `eps` and
`step_size` are traced (a new radius does not recompile). Called inside a `jit` (an
adversarial-training step) the whole attack traces into the caller's program. Rows of `x` are
attacked independently (the model must not mix examples, e.g. no train-mode BatchNorm).

  step = attacks.ascent_step(eps, step_size, norm="linf", init_scale=1.0)
  delta = step.init(key, x)            # random start in the (init_scale * eps)-ball, (N, ...)
  delta = step.update(grad, delta, x)  # steepest ascent, projection, clipping to `box`

| attack | start | step | projection to the eps-ball |
|---|---|---|---|
| FGSM (Goodfellow et al., 2015) | 0 | eps | no (the step has norm eps) |
| RS-FGSM (Wong et al., 2020, arXiv 2001.03994) | U(eps-ball) | 1.25 eps | yes |
| N-FGSM (de Jorge et al., 2022, arXiv 2202.01181) | U(2 eps-ball) | eps | no: norm <= 3 eps |
| PGD (Madry et al., 2018, arXiv 1706.06083) | U(eps-ball) | `step_size`, `steps` times | yes |

Evaluation attacks (`pgd`, `margin_pgd`) keep, per example, the best iterate over all steps and
restarts (a misclassified point beats any loss value), so more steps or restarts with nested
keys never lower the attack's strength.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

from jaxlab.training.steps import cross_entropy

NORMS = ("linf", "l2")
Box = tuple[float, float] | None
LossFn = Callable[[jax.Array, jax.Array], jax.Array]  # (logits (N, C), labels (N,)) -> (N,)
DATA_RANGE = (0.0, 1.0)


def check_norm(norm: str) -> None:
  if norm not in NORMS:
    raise ValueError(f"unknown norm {norm!r}; valid norms: {', '.join(NORMS)}")


def margin_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example margin `max_{j != y} z_j - z_y` `(N,)` (Carlini & Wagner, 2017): > 0 iff the
  example is misclassified; unlike cross-entropy it does not saturate on confident logits."""
  true = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
  others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
  return jnp.max(others, axis=-1) - true


# Geometry of the ball ---------------------------------------------------------------------------
def _row_norm(v: jax.Array) -> jax.Array:
  """L2 norm of each row, shaped `(N, 1, ..., 1)` to broadcast against `v`."""
  return jnp.sqrt(jnp.sum(jnp.square(v), axis=tuple(range(1, v.ndim)), keepdims=True))


def lp_norm(delta: jax.Array, norm: str) -> jax.Array:
  """Per-example norm `(N,)` of perturbations `delta (N, ...)`."""
  check_norm(norm)
  flat = jnp.reshape(delta, (delta.shape[0], -1))
  return jnp.max(jnp.abs(flat), -1) if norm == "linf" else jnp.linalg.norm(flat, axis=-1)


def steepest_direction(grad: jax.Array, norm: str) -> jax.Array:
  """The unit-norm ascent direction for `grad (N, ...)`: sign(g) for L-inf, g / |g|_2 for L2."""
  check_norm(norm)
  if norm == "linf":
    return jnp.sign(grad)
  return grad / jnp.maximum(_row_norm(grad), jnp.finfo(grad.dtype).tiny)


def project(delta: jax.Array, eps, norm: str) -> jax.Array:
  """Euclidean projection of each row of `delta (N, ...)` onto the eps-ball of `norm`."""
  check_norm(norm)
  if norm == "linf":
    return jnp.clip(delta, -eps, eps)
  scale = jnp.minimum(1.0, eps / jnp.maximum(_row_norm(delta), jnp.finfo(delta.dtype).tiny))
  return delta * scale


def clip_to_box(x_adv: jax.Array, box: Box) -> jax.Array:
  """`x_adv` clipped to the data range `box = (low, high)`; unchanged if `box` is None."""
  return x_adv if box is None else jnp.clip(x_adv, box[0], box[1])


def uniform_ball(key: jax.Array, shape: tuple[int, ...], eps, norm: str,
                 dtype=jnp.float32) -> jax.Array:
  """Points drawn uniformly from the eps-ball of `norm`, one per row: `shape = (N, ...)`.

  L-inf: U(-eps, eps) per coordinate. L2: a Gaussian direction times eps * U^(1/d).
  """
  check_norm(norm)
  if norm == "linf":
    return jax.random.uniform(key, shape, dtype, -1.0, 1.0) * eps
  dir_key, radius_key = jax.random.split(key)
  direction = jax.random.normal(dir_key, shape, dtype)
  direction = direction / jnp.maximum(_row_norm(direction), jnp.finfo(dtype).tiny)
  d = math.prod(shape[1:])
  radius = jax.random.uniform(radius_key, (shape[0],) + (1,) * (len(shape) - 1), dtype) ** (1 / d)
  return direction * radius * eps


# The (init, update) ascent step -----------------------------------------------------------------
@flax.struct.dataclass
class AttackStep:
  """Steepest ascent on the loss within the eps-ball: an optax-style `(init, update)` pair.

  `init(key, x) -> delta`: 0 if `init_scale` is 0, else uniform in the (init_scale * eps)-ball.
  `update(grad, delta, x) -> delta`: delta <- P(delta + step_size * steepest_direction(grad)),
  P the projection onto the eps-ball when `project`; x + delta is clipped to `box` after every
  move. A pytree: `eps`, `step_size` and `project` are traced (a new radius does not
  recompile, and FGSM's unprojected step shares PGD's compiled iteration), the other fields
  are static.
  """

  eps: jax.Array | float
  step_size: jax.Array | float
  norm: str = flax.struct.field(pytree_node=False, default="linf")
  init_scale: float = flax.struct.field(pytree_node=False, default=0.0)
  project: jax.Array | bool = True
  box: Box = flax.struct.field(pytree_node=False, default=DATA_RANGE)

  def __post_init__(self):
    check_norm(self.norm)

  def init(self, key: jax.Array | None, x: jax.Array) -> jax.Array:
    if self.init_scale == 0.0:
      return jnp.zeros_like(x)
    delta = uniform_ball(key, x.shape, self.init_scale * self.eps, self.norm, x.dtype)
    return clip_to_box(x + delta, self.box) - x

  def update(self, grad: jax.Array, delta: jax.Array, x: jax.Array) -> jax.Array:
    delta = delta + self.step_size * steepest_direction(grad, self.norm)
    delta = jnp.where(self.project, project(delta, self.eps, self.norm), delta)
    return clip_to_box(x + delta, self.box) - x


def ascent_step(eps, step_size, *, norm: str = "linf", init_scale: float = 0.0,
                project_to_ball: bool = True, box: Box = DATA_RANGE) -> AttackStep:
  """An `AttackStep` (keyword names as in the attacks)."""
  return AttackStep(eps, step_size, norm=norm, init_scale=float(init_scale),
                    project=bool(project_to_ball), box=box)


def _loss_grad(apply_fn, params, x_adv, y, loss: LossFn):
  """Per-example losses `(N,)`, logits `(N, C)` and input gradients `(N, ...)` at `x_adv`."""

  def total(z):
    logits = apply_fn(params, z)
    values = loss(logits, y)
    return jnp.sum(values), (values, logits)

  (_, (values, logits)), grad = jax.value_and_grad(total, has_aux=True)(x_adv)
  return values, logits, grad


class Score(NamedTuple):
  """How adversarial an iterate is, per example: misclassified first, then the higher loss.

  Attributes:
    wrong: `(N,)` bool, misclassified.
    loss: `(N,)` the attacked loss.
  """

  wrong: jax.Array
  loss: jax.Array


def _score(values, logits, y) -> Score:
  return Score(jnp.argmax(logits, -1).astype(y.dtype) != y, values)


@jax.jit
def _keep(score: Score, best_score: Score, delta, best_delta):
  """Per example, the (score, delta) pair with the better score (the first on ties)."""
  better = (score.wrong & ~best_score.wrong) | (
      (score.wrong == best_score.wrong) & (score.loss > best_score.loss))
  mask = jnp.reshape(better, better.shape + (1,) * (delta.ndim - 1))
  new_score = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), score, best_score)
  return new_score, jnp.where(mask, delta, best_delta)


@jax.jit
def _start(x, key, step: AttackStep):
  return step.init(key, x), Score(jnp.zeros(x.shape[:1], bool),
                                  jnp.full(x.shape[:1], -jnp.inf, x.dtype))


@functools.partial(jax.jit, static_argnames=("apply_fn", "loss"))
def _iteration(apply_fn, params, x, y, step: AttackStep, delta, best_score, best, loss,
               keep_best):
  """One ascent step from delta, recording delta in the best-so-far if `keep_best` (a traced
  bool: the record reuses this step's forward pass, so one program serves FGSM and PGD)."""
  values, logits, grad = _loss_grad(apply_fn, params, x + delta, y, loss)
  kept_score, kept = _keep(_score(values, logits, y), best_score, delta, best)
  best_score = jax.tree_util.tree_map(lambda a, b: jnp.where(keep_best, a, b), kept_score,
                                      best_score)
  return step.update(grad, delta, x), best_score, jnp.where(keep_best, kept, best)


@functools.partial(jax.jit, static_argnames=("apply_fn", "loss"))
def _finish(apply_fn, params, x, y, delta, best_score, best, loss):
  logits = apply_fn(params, x + delta)
  return _keep(_score(loss(logits, y), logits, y), best_score, delta, best)


def perturb(apply_fn, params, x: jax.Array, y: jax.Array, key: jax.Array | None,
            step: AttackStep, steps: int, *, loss: LossFn = cross_entropy,
            keep_best: bool = False) -> tuple[jax.Array, Score]:
  """Runs `steps` updates of `step` from `step.init(key, x)`.

  The steps are a Python loop over one jitted iteration (inside a caller's `jit` the loop
  unrolls): XLA's CPU backend runs convolutions inside `while` loops 5-7x slower than the same
  ops unrolled (measured on the digits CNN), and unrolling 50 steps into one program costs
  ~30 s of compilation; one compiled iteration serves every step count and restart.

  Args:
    apply_fn, params: the classifier, `apply_fn(params, x (N, ...)) -> logits (N, C)`.
    x, y: clean inputs `(N, ...)` and integer labels `(N,)`.
    key: key of the random start (None for a zero start).
    step: an `AttackStep`.
    steps: number of updates (0 returns the start).
    loss: per-example loss `(logits, labels) -> (N,)` that the attack ascends.
    keep_best: return each example's best iterate (misclassified first, then the highest
      loss; one extra forward pass) instead of the last one.

  Returns:
    `(delta, score)`: the perturbation `(N, ...)` (not differentiated) and, if `keep_best`, its
    `Score` (else a placeholder: not wrong, loss -inf).
  """
  if steps < 0:
    raise ValueError(f"steps must be >= 0, got {steps}")
  delta, best_score = _start(x, key, step)
  best = delta
  ascent = step.replace(init_scale=0.0)   # the start's field: one iteration program for all
  for _ in range(steps):
    delta, best_score, best = _iteration(apply_fn, params, x, y, ascent, delta, best_score,
                                         best, loss, keep_best)
  if keep_best:
    best_score, delta = _finish(apply_fn, params, x, y, delta, best_score, best, loss)
  return jax.lax.stop_gradient(delta), best_score


# Named attacks ------------------------------------------------------------------------------------
def fgsm(apply_fn, params, x, y, eps, *, norm: str = "linf", box: Box = DATA_RANGE,
         loss: LossFn = cross_entropy) -> jax.Array:
  """FGSM: x + eps * steepest_direction(grad_x loss(x)), clipped to `box`; `(N, ...)`."""
  step = ascent_step(eps, eps, norm=norm, project_to_ball=False, box=box)
  return x + perturb(apply_fn, params, x, y, None, step, 1, loss=loss)[0]


def rs_fgsm(apply_fn, params, x, y, key, eps, step_size=None, *, norm: str = "linf",
            box: Box = DATA_RANGE, loss: LossFn = cross_entropy) -> jax.Array:
  """Random-start FGSM: a uniform start in the eps-ball, one step of `step_size` (default
  1.25 eps), projected back to the ball; `(N, ...)`."""
  step_size = 1.25 * eps if step_size is None else step_size
  step = ascent_step(eps, step_size, norm=norm, init_scale=1.0, box=box)
  return x + perturb(apply_fn, params, x, y, key, step, 1, loss=loss)[0]


def n_fgsm(apply_fn, params, x, y, key, eps, step_size=None, noise_scale: float = 2.0, *,
           norm: str = "linf", box: Box = DATA_RANGE, loss: LossFn = cross_entropy
           ) -> jax.Array:
  """N-FGSM: a uniform start in the (noise_scale * eps)-ball, one step of `step_size` (default
  eps), no projection (so |delta| <= (noise_scale + 1) eps); `(N, ...)`."""
  step_size = eps if step_size is None else step_size
  step = ascent_step(eps, step_size, norm=norm, init_scale=noise_scale, project_to_ball=False,
                     box=box)
  return x + perturb(apply_fn, params, x, y, key, step, 1, loss=loss)[0]


def pgd(apply_fn, params, x, y, key, eps, step_size, *, steps: int = 10, restarts: int = 1,
        random_start: bool = True, norm: str = "linf", box: Box = DATA_RANGE,
        loss: LossFn = cross_entropy) -> jax.Array:
  """PGD with restarts: `restarts` runs of `steps` projected steepest-ascent steps of
  `step_size`, restart r from a uniform start drawn with `fold_in(key, r)`; per example, the
  best iterate over all steps and runs; `(N, ...)`. Runs are nested: with the same key, more
  restarts can only find more adversarial examples."""
  if steps < 1 or restarts < 1:
    raise ValueError(f"pgd needs steps >= 1 and restarts >= 1, got {steps}, {restarts}")
  step = ascent_step(eps, step_size, norm=norm, init_scale=1.0 if random_start else 0.0,
                     box=box)
  best_score, best = None, None
  for r in range(restarts):
    delta, score = perturb(apply_fn, params, x, y, jax.random.fold_in(key, r), step, steps,
                           loss=loss, keep_best=True)
    best_score, best = (score, delta) if best is None else _keep(score, best_score, delta, best)
  return x + best


def margin_pgd(apply_fn, params, x, y, key, eps, step_size, *, steps: int = 10,
               restarts: int = 1, random_start: bool = True, norm: str = "linf",
               box: Box = DATA_RANGE) -> jax.Array:
  """`pgd` on the margin loss (`margin_loss`) instead of cross-entropy; `(N, ...)`."""
  return pgd(apply_fn, params, x, y, key, eps, step_size, steps=steps, restarts=restarts,
             random_start=random_start, norm=norm, box=box, loss=margin_loss)


@functools.partial(jax.jit, static_argnames=("norm", "box"))
def uniform_noise(x, key, eps, *, norm: str = "linf", box: Box = DATA_RANGE) -> jax.Array:
  """x plus uniform noise from the eps-ball, clipped to `box`: the random-noise baseline of
  gradient-masking checks (robust accuracy must not exceed noise accuracy); `(N, ...)`."""
  return clip_to_box(x + uniform_ball(key, x.shape, eps, norm, x.dtype), box)


@functools.partial(jax.jit, static_argnames=("apply_fn",))
def correct(apply_fn, params, x, y) -> jax.Array:
  """Per-example correctness `(N,)` bool of `argmax apply_fn(params, x)` against `y`."""
  return jnp.argmax(apply_fn(params, x), -1).astype(y.dtype) == y


def accuracy(apply_fn, params, x, y) -> jax.Array:
  """Fraction `()` of rows of `x` classified as `y`."""
  return jnp.mean(correct(apply_fn, params, x, y))
