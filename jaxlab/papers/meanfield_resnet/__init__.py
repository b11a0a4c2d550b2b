"""Paper 7: Chen, Liu, Lu, Chrysos, Cevher, *Generalization of Scaled Deep ResNets in the
Mean-Field Regime*, ICLR 2024 (arXiv 2403.09889).

  from jaxlab.papers import meanfield_resnet
  results = meanfield_resnet.run(meanfield_resnet.smoke(), "/tmp/mf_resnet")   # float64 inside
  results["checks"]                      # {name: {"value", "target", "pass"}}

Modules:
  resnet          the scaled ResNet (particles, particle GD, Gram matrices G1 / G2)
  divergence      KL proxies between particle clouds (moment-matched, k-NN)
  data            inputs on the unit sphere, y = sin(3 x_1) + x_2 x_3
  beta_sweep      P1-A / P1-C: Gram stability, rate against the bound, movement against beta
  limit           P1-B: approach to the mean-field limit over depth and width
  generalisation  P1-D: the generalisation gap against n
  config          `Config` and the presets `default()` / `smoke()`
  study           `prepare`, `execute`, `STUDY`, `run`
  plots           the figures

Uses the cores `jaxlab.ntk` (`empirical_ntk_fn`, for the Jacobian form of the Gram matrices),
`jaxlab.kernels.spectral` (eigenvalues), `jaxlab.data.synthetic` (sphere) and the skeleton
`jaxlab.experiment` (study, sweeps, gates, workdir).
"""

from jaxlab.papers.meanfield_resnet.config import (BetaSweepConfig, Config, GeneralisationConfig,
                                                   LimitConfig, default, smoke)
from jaxlab.papers.meanfield_resnet.study import STUDY, prepare, run

__all__ = ["BetaSweepConfig", "Config", "GeneralisationConfig", "LimitConfig", "STUDY",
           "default", "prepare", "run", "smoke"]
