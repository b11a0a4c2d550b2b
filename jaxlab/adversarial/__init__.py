"""The shared adversarial core: attacks, local-linearity measures, adaptive regularisation
weights and adversarial training as one jitted train step. Built for paper 9 (ELLE,
`jaxlab.papers.elle`) and imported by the robust-NAS and robust-overfitting papers; it holds
no study code.

  from jaxlab.adversarial import attacks, training
  x_adv = attacks.pgd(model.apply, params, x, y, key, 0.3, 0.075, steps=50, restarts=10)
  step = training.make_train_step(model.apply, tx, training.method("elle_a", 0.3, lam=5e3))

Modules: `attacks` (FGSM, RS-FGSM, N-FGSM, PGD with restarts, margin PGD; L-inf and L2),
`linearity` (ELLE's local-linearity error, GradAlign cosine), `lambda_schedule` (ELLE-A's
adaptive lambda), `training` (the methods as `Method` records, their regularisers as
`Regularizer` records, one stateful train step), `evaluation` (robust accuracy,
gradient-masking checks, catastrophic-overfitting flag).
"""

from jaxlab.adversarial import attacks, evaluation, lambda_schedule, linearity, training

__all__ = ["attacks", "evaluation", "lambda_schedule", "linearity", "training"]
