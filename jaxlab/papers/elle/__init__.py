"""Paper 9: E. Abad Rocamora, F. Liu, G. G. Chrysos, P. M. Olmos, V. Cevher, *Efficient local
linearity regularization to overcome catastrophic overfitting* (ELLE, ELLE-A), ICLR 2024,
arXiv 2401.11618.

  from jaxlab.papers import elle
  results = elle.run(elle.smoke(), "/tmp/elle")      # FGSM, ELLE-A, PGD-10 AT at eps 0.2, 8x8
  results = elle.run(elle.default(), "runs/elle")    # the 2-seed study (20 runs)
  results = elle.run(elle.co_study(), "runs/elle_study", resume=True)   # 5 seeds, APGD (40 runs)
  config = elle.co_study_resnet()                     # the same on the small PreActResNet
  config = elle.cifar10()                             # the reference recipe (GPU; data_dir)

Modules: `config` (`Config`, the presets `default` / `smoke` / `co_study` (preset `study`) /
`co_study_resnet` (`study_resnet`) / `cifar10`), `methods` (the methods as
typed records over the core's presets), `runs` (one run: train, per-epoch probes, final
evaluation), `summary` (per-cell summary, step-cost ratios, checks), `study` (`prepare`,
`execute`, `STUDY`, `run`), `plots`.

Uses the adversarial core `jaxlab.adversarial` (`attacks`, `linearity`, `lambda_schedule`,
`training`, `evaluation`), `jaxlab.training` (`loop.fit`, `OptimConfig`), `jaxlab.data`
(`DataConfig`), `jaxlab.models` (`ModelConfig`, the
PreActResNet with `model_state`) and the skeleton `jaxlab.experiment`.
"""

from jaxlab.papers.elle.config import Config, cifar10, co_study, co_study_resnet, default, smoke
from jaxlab.papers.elle.study import STUDY, prepare, run

__all__ = ["Config", "STUDY", "cifar10", "co_study", "co_study_resnet", "default", "prepare",
           "run", "smoke"]
