"""Robust overfitting from the approximation viewpoint (paper 8): Z. Shi, F. Liu, Y. Cao,
J. A. K. Suykens, "Can overfitted deep neural networks in adversarial training generalize? An
approximation viewpoint", arXiv:2401.13624 (2024).

  from jaxlab.papers import robust_overfitting
  results = robust_overfitting.run(robust_overfitting.smoke(), "/tmp/robust_overfitting")
  results["checks"]            # every gate of P4-A to P4-D: {"value", "target", "pass"}

The paper proves that interpolating (adversarially overfitted) networks can generalise
robustly; it has no code. This package builds its construction (a reconstruction: a robust
approximator g plus one plateau bump per misfit training point, l-inf bumps as min-trees of
trapezoids) as real ReLU networks, attacks them with the shared PGD, measures every error
exactly (interval and box arithmetic) or by Monte Carlo with standard errors, checks the
interpolating regressor's rate, and contrasts it with PGD adversarial training of a wide MLP.

Modules: `config` (`Config`, presets `default` / `smoke`), `data` (banded distributions, g),
`piecewise_linear` (1D functions and their ReLU units), `construction` (the classifier
construction), `network` (the constructions as `jaxlab.models.MLP` / `LInfBumpNetwork`),
`measure` (interval and box unions, dilations, erosions), `exact_1d` / `exact_2d` (the
errors), `regression` (P4-C), `mlp_1d` (the exact form of a trained 1D MLP), `attack` (PGD on
training points), `classification_1d` / `classification_2d` / `contrast` (the parts P4-A,
P4-B, P4-D), `study` (`prepare`, `execute`, `STUDY`, `run`), `plots`. Uses the adversarial
core `jaxlab.adversarial` (`attacks.pgd`, `training.method("pgd")`), `jaxlab.training`
(`loop.fit`, `optim`), `jaxlab.models` (`MLP`, `ModelConfig`) and the skeleton
`jaxlab.experiment`.
"""

from jaxlab.papers.robust_overfitting.config import Config, default, smoke
from jaxlab.papers.robust_overfitting.study import STUDY, execute, prepare, run

__all__ = ["Config", "STUDY", "default", "execute", "prepare", "run", "smoke"]
