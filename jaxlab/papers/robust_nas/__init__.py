"""Paper 6: Wu, Liu, Simon-Gabriel, Chrysos, Cevher, *Robust NAS under adversarial training:
benchmark, theory, and beyond* (NAS-RobBench-201), ICLR 2024, arXiv 2403.13134.

  from jaxlab.papers import robust_nas
  results = robust_nas.run(robust_nas.smoke(), "/tmp/robust_nas")
  results["kendall"]["scores"]                 # tau of every NTK score vs every accuracy
  results["search"]["local_search"]["robust"]  # regret curves
  results = robust_nas.run(dataclasses.replace(robust_nas.default(),
                           benchmark_file="/data/NAS-RobBench-201_all.json"), "/tmp/rb201")

A mini NAS-RobBench-201 on CPU (random non-isomorphic NB201 cells adversarially trained on
digits, written in the released format), the robust-NTK scores of each cell, and the
benchmark's analytics and search; or the analytics and search on the released file.

Uses `jaxlab.nas` (search space, networks, robust-NTK scores, benchmark files, analytics,
search), `jaxlab.ntk` (the empirical NTK), `jaxlab.adversarial` (PGD training and attacks),
`jaxlab.training` (`fit_classifier`, OneCycle), `jaxlab.data` and `jaxlab.experiment`.
Modules: `config` (Config, presets), `cells` (one cell's training, evaluation and scores),
`analysis` (analytics and search on a benchmark), `study`, `plots`.
"""

from jaxlab.papers.robust_nas.config import Config, SearchConfig, cifar10, default, smoke
from jaxlab.papers.robust_nas.study import STUDY, prepare, run

__all__ = ["Config", "STUDY", "SearchConfig", "cifar10", "default", "prepare", "run", "smoke"]
