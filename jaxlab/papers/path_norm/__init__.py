"""Paper 5: F. Liu, L. Dadi, V. Cevher, *Learning with Norm Constrained, Over-parameterized,
Two-layer Neural Networks*, JMLR 25(138), 2024 (arXiv 2404.18769).

  from jaxlab.papers import path_norm
  results = path_norm.run(path_norm.smoke(), "/tmp/path_norm")   # float64 inside
  results["checks"]                      # {name: {"value", "target", "pass"}}

The paper has no code and no experiments; this study is a first runnable check of its
mechanism: the Rademacher complexity of the path-norm ball is width-free (E3.1), the
generalisation gap at a fixed path-norm budget does not grow with the width (E3.2), the
network's excess risk decays at least as fast as n^-(d+2)/(2d+2) (E3.3), and a kernel method
(the arc-cosine KRR) on the same teachers (E3.4).

Modules:
  rademacher        the single-atom estimator of the empirical Rademacher complexity (vmapped
                    over sign draws and n), the sanity networks, the ascent diagnostic
  training          full-batch training of many networks in one compiled step (vmapped over
                    seeds, weight decays and radii), with the path-norm constraint
  data              teachers of path norm 1, nested designs, test sets, keys
  rademacher_sweep  E3.1;  width_sweep  E3.2;  learning_curve  E3.3;  krr_baseline  E3.4
  records           finished points (points.jsonl) for --resume
  config            `Config` and the presets `default()` / `smoke()`
  study             `prepare`, `execute`, `STUDY`, `run`
  plots             the figures

Uses the cores `jaxlab.models.two_layer` (the network, pure and Flax), `jaxlab.models.
path_norm` (path norm, balancing, the weight-decay equivalence, the optax constraint),
`jaxlab.kernels.arccos` and `jaxlab.kernels.ridge` (KRR), `jaxlab.data.synthetic` (sphere,
ReLU teachers), `jaxlab.training.optim` (`OptimConfig`) and the skeleton `jaxlab.experiment`.
"""

from jaxlab.papers.path_norm.config import (Config, KRRConfig, LearningCurveConfig,
                                            RademacherConfig, WidthSweepConfig, default, smoke)
from jaxlab.papers.path_norm.study import STUDY, prepare, run

__all__ = ["Config", "KRRConfig", "LearningCurveConfig", "RademacherConfig", "STUDY",
           "WidthSweepConfig", "default", "prepare", "run", "smoke"]
