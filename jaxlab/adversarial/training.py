"""Adversarial training as a loss function: one jitted train step, parameterised by the method.

  from jaxlab.adversarial import training
  method = training.method("elle_a", eps=0.3, lam=5000.0)
  state = training.init_state(params, tx, method)                # TrainState(loss_state=...)
  train_step = training.make_train_step(model.apply, tx, method)  # jitted
  state, metrics = train_step(state, {"x": x, "y": y}, key)      # one optimiser update
  metrics["adv_accuracy"], metrics["lin_err"], metrics["lam"]     # () each

Every method is `loss(x_adv) + lam * R(x)` where x_adv comes from an `attacks.ascent_step` run
for `steps` steps and R is an optional regulariser of local linearity:

| method | attack start / step / projection | R | lam |
|---|---|---|---|
| fgsm | 0 / eps / - | - | - |
| rs_fgsm | U(eps) / 1.25 eps / yes | - | - |
| n_fgsm | U(2 eps) / eps / no | - | - |
| pgd | U(eps) / eps/4, 10 steps / yes | - | - |
| gradalign | as fgsm | 1 - cos(grad l(x), grad l(x + eta)) | constant |
| elle | as fgsm | E_lin (linearity.local_linearity_error) | constant |
| elle_a | as fgsm | E_lin | adaptive (lambda_schedule.adaptive) |
| n_fgsm_elle_a | as n_fgsm | E_lin | adaptive |

A method is a frozen `Method` record (`method(name, eps, **overrides)` builds a preset); its
regulariser is a typed `Regularizer` record (`ELLE`, `GRADALIGN`: name, reported metric,
penalty function) that the loss calls, with no dispatch on names inside the step.

The loss is *stateful* (`jaxlab.training.steps`): the lambda schedule's state rides in
`TrainState.loss_state` and is updated inside the jitted step from the regulariser's value, so
a step is exactly one gradient evaluation and one optimiser update (the reference code steps
its optimiser twice per batch; this does not). The attack and the regulariser draw fresh
randomness from the step key, which `make_train_step` derives as `fold_in(key, step)`. The
adversarial points are constants for the parameter gradient (no gradient through the attack).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlab.adversarial import attacks, lambda_schedule, linearity
from jaxlab.training import steps


class Regularizer(NamedTuple):
  """A local-linearity regulariser R of `loss(x_adv) + lam * R(x)`: a typed record the
  train step calls, chosen once per method (`Method.penalty`).

  Attributes:
    name: its name in `Method.regularizer`.
    metric: the key under which the step reports what it measured ('lin_err', 'grad_cos').
    penalty: `(example_loss, x, y, key, eps, norm, box) -> (R, measured)`, scalars `()`; R is
      differentiated, `measured` is reported.
  """

  name: str
  metric: str
  penalty: Callable[..., tuple[jax.Array, jax.Array]]


def _elle_penalty(example_loss, x, y, key, eps, norm, box):
  """R = E_lin (`linearity.local_linearity_error`), reported as 'lin_err'."""
  e_lin, _ = linearity.local_linearity_error(example_loss, x, y, key, eps, norm=norm, box=box)
  return e_lin, e_lin


def _gradalign_penalty(example_loss, x, y, key, eps, norm, box):
  """R = 1 - cos (`linearity.gradient_alignment`), the cosine reported as 'grad_cos'."""
  cos, _ = linearity.gradient_alignment(example_loss, x, y, key, eps, norm=norm, box=box)
  return 1.0 - cos, cos


GRADALIGN = Regularizer("gradalign", "grad_cos", _gradalign_penalty)
ELLE = Regularizer("elle", "lin_err", _elle_penalty)
REGULARIZER_RECORDS: dict[str, Regularizer] = {r.name: r for r in (GRADALIGN, ELLE)}
REGULARIZERS = ("none", *REGULARIZER_RECORDS)

# Preset methods: attack geometry in units of eps, regulariser and lambda schedule.
_FGSM = dict(init_scale=0.0, step_scale=1.0, steps=1, project=False)
_N_FGSM = dict(init_scale=2.0, step_scale=1.0, steps=1, project=False)
PRESETS: dict[str, dict] = {
    "fgsm": dict(_FGSM),
    "rs_fgsm": dict(init_scale=1.0, step_scale=1.25, steps=1, project=True),
    "n_fgsm": dict(_N_FGSM),
    "pgd": dict(init_scale=1.0, step_scale=0.25, steps=10, project=True),
    "gradalign": dict(_FGSM, regularizer="gradalign"),
    "elle": dict(_FGSM, regularizer="elle"),
    "elle_a": dict(_FGSM, regularizer="elle", adaptive=True),
    "n_fgsm_elle_a": dict(_N_FGSM, regularizer="elle", adaptive=True),
}
METHODS = tuple(PRESETS)
LABELS: dict[str, str] = {
    "fgsm": "FGSM", "rs_fgsm": "RS-FGSM", "n_fgsm": "N-FGSM", "pgd": "PGD",
    "gradalign": "GradAlign", "elle": "ELLE", "elle_a": "ELLE-A",
    "n_fgsm_elle_a": "N-FGSM+ELLE-A"}


@dataclasses.dataclass(frozen=True)
class Method:
  """An adversarial-training method (see the module docstring's table).

  Attributes:
    name: a label (a preset name for `method(...)`).
    eps: radius of the training ball.
    norm: 'linf' or 'l2'.
    init_scale: radius of the uniform random start, in units of eps (0 = zero start).
    step_scale: attack step size in units of eps.
    steps: attack steps (1 = single-step methods).
    project: project the perturbation onto the eps-ball after each step.
    box: clip training points (attack points and ELLE triplets) to this data range; None keeps
      them unclipped, as the reference CIFAR code.
    regularizer: 'none', 'gradalign' or 'elle' (its `Regularizer` record is `penalty`).
    lam: regulariser weight; lambda_max for an adaptive schedule.
    adaptive: ELLE-A's adaptive lambda instead of a constant one.
    decay, num_std, window: the adaptive schedule's decay, threshold (in std of the history)
      and history window (0 = whole run).
    eps_warmup_steps: ramp the radius linearly from eps / eps_warmup_steps to eps over this
      many steps (0 = full eps from the start; the reference SVHN protocol ramps over 5 epochs).
    adaptive_after_warmup: the adaptive schedule sees only steps at the full radius (its
      lambda and history keep their initial values during the ramp). E_lin grows with the
      radius, so during a ramp ELLE-A's test (E_lin above its history's mean + num_std std)
      fires on the ramp itself; the reference's detector sees a constant radius. An ablation,
      off by default.
  """

  name: str
  eps: float
  norm: str = "linf"
  init_scale: float = 0.0
  step_scale: float = 1.0
  steps: int = 1
  project: bool = False
  box: tuple[float, float] | None = None
  regularizer: str = "none"
  lam: float = 0.0
  adaptive: bool = False
  decay: float = 0.99
  num_std: float = 2.0
  window: int = 0
  eps_warmup_steps: int = 0
  adaptive_after_warmup: bool = False

  def __post_init__(self):
    attacks.check_norm(self.norm)
    if self.regularizer not in REGULARIZERS:
      raise ValueError(f"unknown regularizer {self.regularizer!r}; valid: "
                       f"{', '.join(REGULARIZERS)}")
    if self.eps < 0 or self.steps < 0 or self.init_scale < 0 or self.step_scale < 0:
      raise ValueError(f"method {self.name}: eps, steps, init_scale and step_scale must be "
                       f">= 0, got {self.eps}, {self.steps}, {self.init_scale}, "
                       f"{self.step_scale}")
    if self.eps_warmup_steps < 0:
      raise ValueError(f"method {self.name}: eps_warmup_steps must be >= 0, got "
                       f"{self.eps_warmup_steps}")
    if self.lam < 0:
      raise ValueError(f"method {self.name}: lam must be >= 0, got {self.lam}")
    if self.adaptive and self.penalty is None:
      raise ValueError(f"method {self.name}: an adaptive lambda needs a regularizer")

  @property
  def penalty(self) -> Regularizer | None:
    """The `Regularizer` record of `regularizer` (None for 'none')."""
    return REGULARIZER_RECORDS.get(self.regularizer)

  @property
  def label(self) -> str:
    """A display name ('ELLE-A'; PGD with its steps, 'PGD-10')."""
    label = LABELS.get(self.name, self.name)
    return f"{label}-{self.steps}" if self.name == "pgd" else label


def method(name: str, eps: float, **overrides) -> Method:
  """The preset `name` (one of `METHODS`) at radius `eps`, with fields overridden."""
  if name not in PRESETS:
    raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(METHODS)}")
  return Method(name=name, eps=eps, **{**PRESETS[name], **overrides})


class ATState(NamedTuple):
  """The state of an adversarial-training loss (`TrainState.loss_state`).

  Attributes:
    step: `()` int32, steps taken (drives the eps warm-up).
    lam: the `lambda_schedule.LambdaState` of the regulariser weight.
    model_state: a model's non-trainable collections (BatchNorm statistics), for losses
      built with `train_apply_fn`; None otherwise.
  """

  step: jax.Array
  lam: lambda_schedule.LambdaState
  model_state: Any = None


def schedule(m: Method) -> lambda_schedule.LambdaSchedule:
  """The lambda schedule of `m` (constant unless `m.adaptive`)."""
  if m.adaptive:
    return lambda_schedule.adaptive(m.lam, decay=m.decay, num_std=m.num_std, window=m.window)
  return lambda_schedule.constant(m.lam)


def radius(m: Method, step: jax.Array) -> jax.Array:
  """The training radius `()` at `step`: eps * min(1, (step + 1) / eps_warmup_steps)."""
  if not m.eps_warmup_steps:
    return jnp.asarray(m.eps)
  return m.eps * jnp.minimum(1.0, (step + 1) / m.eps_warmup_steps)


def _next_lambda(m: Method, sched, value, lam_state, step):
  """The schedule's next state, frozen while the radius ramps if `m.adaptive_after_warmup`."""
  new = sched.update(value, lam_state)
  if not (m.adaptive and m.adaptive_after_warmup and m.eps_warmup_steps):
    return new
  ramping = step + 1 < m.eps_warmup_steps   # `radius` reaches eps at step eps_warmup_steps - 1
  return jax.tree_util.tree_map(lambda old, upd: jnp.where(ramping, old, upd), lam_state, new)


def attack_step(m: Method, eps=None) -> attacks.AttackStep:
  """The training attack of `m` (at radius `eps`, default `m.eps`) as an `AttackStep`."""
  eps = m.eps if eps is None else eps
  return attacks.ascent_step(eps, m.step_scale * eps, norm=m.norm, init_scale=m.init_scale,
                             project_to_ball=m.project, box=m.box)


def adversarial_loss(apply_fn, m: Method, loss=steps.cross_entropy, *, train_apply_fn=None,
                     train_mode_regularizer: bool = False):
  """The stateful loss `loss_fn(params, batch, key, at_state) -> (loss, (aux, at_state))` of
  method `m` for `make_train_step(..., stateful=True)` (`at_state`: an `ATState`).

  aux: 'adv_loss' and 'adv_accuracy' on the training points, 'eps' (the radius of this step),
  'lam' (the weight used in this step), and 'lin_err' (E_lin) or 'grad_cos' (GradAlign
  cosine) with their regularisers, plus 'lam_triggered' for ELLE-A.

  A model with BatchNorm passes `train_apply_fn(variables, x) -> (logits, model_state)` (train
  mode, statistics updated) and keeps its statistics in `at_state.model_state`: `params` are
  then the trainable parameters, the variables are Flax's `{"params": params,
  **model_state}`, the attack (and a regulariser) runs `apply_fn(variables, x)` in eval mode,
  as the NAS-RobBench-201 recipe, and the loss is taken in train mode, whose new statistics
  replace the old ones. With `train_mode_regularizer` the regulariser runs in train mode
  instead (ELLE's reference code: the 3B triplet rows are normalised with their own batch
  statistics), and its statistics are discarded (they never update the running ones).
  """
  if train_mode_regularizer and train_apply_fn is None:
    raise ValueError("train_mode_regularizer needs train_apply_fn (a model with BatchNorm)")
  sched = schedule(m)
  reg_apply = apply_fn
  if train_mode_regularizer:
    reg_apply = lambda variables, z: train_apply_fn(variables, z)[0]  # noqa: E731

  def loss_fn(params, batch, key, at_state: ATState):
    x, y = batch["x"], batch["y"]
    eps = radius(m, at_state.step)
    attack_key, reg_key = jax.random.split(key)
    model_state = at_state.model_state
    if train_apply_fn is not None:
      params = {"params": params, **model_state}  # eval-mode variables, differentiable
    delta, _ = attacks.perturb(apply_fn, params, x, y, attack_key, attack_step(m, eps), m.steps,
                               loss=loss)
    if train_apply_fn is None:
      logits = apply_fn(params, x + delta)
    else:
      logits, model_state = train_apply_fn(params, x + delta)
    adv_loss = jnp.mean(loss(logits, y))
    correct = jnp.argmax(logits, -1).astype(y.dtype) == y
    aux = {"adv_loss": adv_loss, "adv_accuracy": jnp.mean(correct),
           "eps": eps, "lam": at_state.lam.lam}
    total, lam_state = adv_loss, at_state.lam
    if m.penalty is not None:
      reg, measured = m.penalty.penalty(linearity.example_losses(reg_apply, params, loss), x, y,
                                        reg_key, eps, m.norm, m.box)
      aux[m.penalty.metric] = measured
      total = total + lam_state.lam * reg
      lam_state = _next_lambda(m, sched, jax.lax.stop_gradient(reg), lam_state, at_state.step)
      if m.adaptive:
        aux["lam_triggered"] = lam_state.triggered.astype(adv_loss.dtype)
    return total, (aux, ATState(at_state.step + 1, lam_state, model_state))

  return loss_fn


def init_state(params, tx: optax.GradientTransformation, m: Method, *,
               model_state: Any = None) -> steps.TrainState:
  """A fresh `TrainState` whose `loss_state` is the initial `ATState` of `m`; a model with
  BatchNorm passes its trainable `params` and its other collections as `model_state`."""
  return steps.TrainState.create(
      params, tx, loss_state=ATState(jnp.zeros((), jnp.int32), schedule(m).init(), model_state))


def make_train_step(apply_fn, tx: optax.GradientTransformation, m: Method, *,
                    loss=steps.cross_entropy, jit: bool = True, train_apply_fn=None,
                    train_mode_regularizer: bool = False):
  """`train_step(state, batch, key) -> (state, metrics)` of method `m`: the foundation's
  `steps.make_train_step` on `adversarial_loss` (one gradient, one optimiser update);
  `train_apply_fn` and `train_mode_regularizer` as there (BatchNorm)."""
  return steps.make_train_step(adversarial_loss(apply_fn, m, loss,
                                                train_apply_fn=train_apply_fn,
                                                train_mode_regularizer=train_mode_regularizer),
                               tx, jit=jit, stateful=True)


def variables(state: steps.TrainState) -> dict[str, Any]:
  """Flax variables `{"params", **model_state}` of a state from `init_state(...,
  model_state=...)`: what the eval-mode `apply_fn` of a BatchNorm model takes."""
  return {"params": state.params, **state.loss_state.model_state}
