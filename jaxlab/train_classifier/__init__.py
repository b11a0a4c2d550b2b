"""`train_classifier`: an MLP, CNN or ViT trained on one dataset with the shared supervised
pipeline; the foundation the paper studies build on (not a paper of its own).

  from jaxlab import train_classifier
  results = train_classifier.run(train_classifier.smoke(), "/tmp/clf")

Uses `jaxlab.data` (`DataConfig`), `jaxlab.models` (`ModelConfig`), `jaxlab.training`
(`OptimConfig`, `fit_classifier`) and the skeleton `jaxlab.experiment`.
"""

from jaxlab.train_classifier.config import Config, cifar10, default, smoke
from jaxlab.train_classifier.study import STUDY, prepare, run

__all__ = ["Config", "STUDY", "cifar10", "default", "prepare", "run", "smoke"]
