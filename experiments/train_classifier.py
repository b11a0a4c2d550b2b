r"""Train a classifier (MLP, CNN or ViT) on one dataset.

  python -m experiments.train_classifier \
      --flagfile=experiments/flags/train_classifier_smoke.flags --workdir=/tmp/clf
  python -m experiments.train_classifier --config=smoke --model=cnn --workdir=/tmp/clf_cnn

Writes config.json, metrics.jsonl (one line per epoch), results.json (test_acc, val_acc,
train_loss, num_params, wall_s), plots/curves.{png,pdf}, checkpoints/ and params/; --resume
continues a killed run from its last epoch. The library function is
`jaxlab.train_classifier.run(config, workdir)`, with the presets
`jaxlab.train_classifier.default()` / `smoke()` / `cifar10()`.
"""

from experiments import common
from jaxlab import train_classifier

main = common.make_main(train_classifier.STUDY)

if __name__ == "__main__":
  common.run(main)
