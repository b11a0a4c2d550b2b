"""Paper 10: Wu, Liu, Chrysos, Cevher, *On the Convergence of Encoder-only Shallow
Transformers*, NeurIPS 2023 (arXiv 2311.01575). A lazy (NTK-regime) result: the empirical NTK
of one softmax attention layer at initialisation, and GD that stays close to it.

  from jaxlab.papers import shallow_transformer
  results = shallow_transformer.run(shallow_transformer.smoke(), "/tmp/st")  # float64 inside
  results["checks"]                      # {name: {"value", "target", "pass"}}

Modules:
  transformer   the model: attention, ReLU layer, mean pooling, linear output; LeCun / He /
                NTK initialisation and the logit scaling tau0 as data (`scaling`); its NTK
  data          N(0, 1) token sequences with random labels +-1
  ntk_init      P2-A / P2-B: the NTK and the attention at init against width
  dynamics      P2-C / P2-E: GD against the linearised bound; initialisations at one gamma
  width_needed  P2-D: the smallest width reaching a loss, against N
  config        `Config` and the presets `default()` / `smoke()`
  study         `prepare`, `execute`, `STUDY`, `run`
  plots         the figures

Uses the cores `jaxlab.ntk` (`empirical_ntk_fn`), `jaxlab.kernels.spectral` (eigenvalues) and
the skeleton `jaxlab.experiment` (study, sweeps, gates, workdir).
"""

from jaxlab.papers.shallow_transformer.config import (Config, GdConfig, InitComparisonConfig,
                                                      NtkInitConfig, WidthNeededConfig,
                                                      default, smoke)
from jaxlab.papers.shallow_transformer.study import STUDY, prepare, run

__all__ = ["Config", "GdConfig", "InitComparisonConfig", "NtkInitConfig", "STUDY",
           "WidthNeededConfig", "default", "prepare", "run", "smoke"]
