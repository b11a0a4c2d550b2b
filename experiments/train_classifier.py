r"""Train a classifier (MLP, CNN or ViT) on one dataset.

  python -m experiments.train_classifier \
      --flagfile=experiments/flags/train_classifier_smoke.flags --workdir=/tmp/clf

Writes config.json, metrics.jsonl (one line per epoch), results.json (test_acc, val_acc,
train_loss, num_params, wall_s) and plots/curves.png. The library function is
`jaxlab.training.classifier.run(config, workdir)`.
"""

from experiments import common
from jaxlab.training import classifier

main = common.make_main(classifier.Config, classifier.run, resumable=True)

if __name__ == "__main__":
  common.run(main)
