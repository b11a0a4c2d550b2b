"""The study's methods as typed records: each names a core preset
(`jaxlab.adversarial.training.method`) and the config knobs it takes.

  m = build(smoke(), "elle_a", eps=0.2, steps_per_epoch=16)   # a training.Method
  m.lam, m.adaptive, m.penalty.metric                          # 5000.0, True, "lin_err"

| method | core preset | knobs from the config |
|---|---|---|
| fgsm, rs_fgsm, n_fgsm | the attack alone | - |
| pgd | PGD-k AT | `pgd.steps`, `pgd.step_scale` |
| gradalign | FGSM + GradAlign | `regularizer.gradalign_lambda` |
| elle | FGSM + ELLE, constant lambda | `regularizer.elle_lambda` (or `elle_lambdas` by eps) |
| elle_a, n_fgsm_elle_a | FGSM / N-FGSM + ELLE-A | `regularizer.elle_a_lambda_max` |

Every method also takes the threat model (`norm`), the clipping of training points
(`clip_train`), the eps warm-up and ELLE-A's schedule (`regularizer.decay`, `num_std`,
`window`; unused by methods with a constant lambda).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from jaxlab.adversarial import attacks, training
from jaxlab.papers.elle.config import Config


class StudyMethod(NamedTuple):
  """A method of the study.

  Attributes:
    name: the core preset (`training.PRESETS`) and the value in `Config.methods`.
    options: `(config, eps) -> {Method field: value}`, the knobs this method takes from the
      config at radius eps.
  """

  name: str
  options: Callable[[Config, float], dict[str, Any]]


def _none(config: Config, eps: float) -> dict[str, Any]:
  del config, eps
  return {}


def _pgd(config: Config, eps: float) -> dict[str, Any]:
  del eps
  return {"steps": config.pgd.steps, "step_scale": config.pgd.step_scale}


def _gradalign(config: Config, eps: float) -> dict[str, Any]:
  del eps
  return {"lam": config.regularizer.gradalign_lambda}


def _elle(config: Config, eps: float) -> dict[str, Any]:
  reg = config.regularizer
  if not reg.elle_lambdas:
    return {"lam": reg.elle_lambda}
  return {"lam": dict(zip(config.eps, reg.elle_lambdas))[eps]}


def _elle_a(config: Config, eps: float) -> dict[str, Any]:
  del eps
  return {"lam": config.regularizer.elle_a_lambda_max,
          "adaptive_after_warmup": config.regularizer.elle_a_after_warmup}


METHODS: tuple[StudyMethod, ...] = (
    StudyMethod("fgsm", _none), StudyMethod("rs_fgsm", _none), StudyMethod("n_fgsm", _none),
    StudyMethod("pgd", _pgd), StudyMethod("gradalign", _gradalign),
    StudyMethod("elle", _elle), StudyMethod("elle_a", _elle_a),
    StudyMethod("n_fgsm_elle_a", _elle_a))
BY_NAME: dict[str, StudyMethod] = {m.name: m for m in METHODS}


def build(config: Config, name: str, eps: float, steps_per_epoch: int) -> training.Method:
  """The `training.Method` of method `name` at radius `eps` under `config` (module
  docstring); the eps warm-up lasts `config.eps_warmup_epochs * steps_per_epoch` steps."""
  reg = config.regularizer
  common = dict(norm=config.norm, box=attacks.DATA_RANGE if config.clip_train else None,
                decay=reg.decay, num_std=reg.num_std, window=reg.window,
                eps_warmup_steps=config.eps_warmup_epochs * steps_per_epoch)
  return training.method(name, float(eps), **common, **BY_NAME[name].options(config, float(eps)))


def uses_elle(name: str) -> bool:
  """Whether method `name` is regularised by ELLE (constant or adaptive lambda)."""
  return training.method(name, 1.0).penalty is training.ELLE


def is_adaptive(name: str) -> bool:
  """Whether method `name` has ELLE-A's adaptive lambda."""
  return training.method(name, 1.0).adaptive
