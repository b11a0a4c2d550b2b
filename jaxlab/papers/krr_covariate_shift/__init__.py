"""KRR under covariate shift (paper 3): Y. Chen, F. Liu, T. Suzuki, V. Cevher,
"High-Dimensional Kernel Methods under Covariate Shift: Data-Dependent Implicit
Regularization", ICML 2024, arXiv:2406.03171.

  from jaxlab.papers import krr_covariate_shift
  results = krr_covariate_shift.run(krr_covariate_shift.smoke(), "/tmp/cs")
  results["slopes"], results["checks"], results["failed"]

Kernel ridge regression against importance-weighted KRR when the test law is a shifted
Gaussian, in high dimension: El Karoui's linearisation error, three exact identities, bias and
variance under the test law against the ridge (the variance flip), shift size, aspect ratio
and inner-product function, spectra.

Modules: `config` (`Config`, presets `default` / `smoke`), `study` (`prepare`, `execute`,
`STUDY`, `run`; the parts `linearization` (E2.1), `identities` (E2.2), `bias_variance` (E2.3),
`exploration` (E2.4, E2.5), sharing `context`), `plots`, and the paper's model
`covariate_shift` (data, density ratio, inner-product kernels, the linearisation, `evaluate`).
Uses the KRR core `jaxlab.kernels` (`ridge`, `kernel_fns`, `spectral`, `learning_curve`) and
the skeleton `jaxlab.experiment` (`gates`, `Study`, `run_parts`).
"""

from jaxlab.papers.krr_covariate_shift.config import Config, default, smoke
from jaxlab.papers.krr_covariate_shift.study import STUDY, execute, prepare, run

__all__ = ["Config", "STUDY", "default", "execute", "prepare", "run", "smoke"]
