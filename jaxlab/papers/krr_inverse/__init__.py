"""KRR inverse problem (paper 2): H. Wong, W. Wu, F. Liu, Y. Lu, "Benign overfitting in Fixed
Dimension via Physics-Informed Learning with Smooth Inductive Bias", arXiv:2406.09194.

  from jaxlab.papers import krr_inverse
  results = krr_inverse.run(krr_inverse.smoke(), "/tmp/krr_inverse")
  results["slopes"], results["checks"], results["failed"]

Kernel ridge(less) learning curves of a Sobolev-penalised estimator for an elliptic linear
inverse problem on the 1D torus, every error exact in Fourier-coefficient space: the ridgeless
variance phase diagram over (rho, gamma), inductive-bias independence, oracle-ridge rates,
saturation in lambda, the smoothing operator, bias and variance against lambda.

Modules: `config` (`Config`, presets `default` / `smoke`), `study` (`prepare`, `execute`,
`STUDY`, `run`; the parts `variance` (E1.0-E1.2), `oracle` (E1.3, E1.5), `saturation` (E1.4),
`bias_variance` (E1.6), `cross_checks`, sharing `context`), `plots`, and the paper's model:
`torus` (exact periodic Sobolev Grams, designs, Fourier-coefficient sums) and `inverse` (the
spectral simulator, its deterministic equivalent, the kernel-matrix cross-check). Uses the
KRR core `jaxlab.kernels` (`ridge`, `equivalent`, `learning_curve`) and the skeleton
`jaxlab.experiment` (`gates`, `Study`, `run_parts`).
"""

from jaxlab.papers.krr_inverse.config import Config, default, smoke
from jaxlab.papers.krr_inverse.study import STUDY, execute, prepare, run

__all__ = ["Config", "STUDY", "default", "execute", "prepare", "run", "smoke"]
