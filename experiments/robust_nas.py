r"""Robust NAS (NAS-RobBench-201, paper 6): a mini benchmark of adversarially trained NB201
cells with robust-NTK scores, analytics and search; or analytics and search on a released
benchmark file.

  python -m experiments.robust_nas --flagfile=experiments/flags/robust_nas_smoke.flags \
      --workdir=/tmp/robust_nas
  python -m experiments.robust_nas --flagfile=experiments/flags/robust_nas.flags \
      --workdir=runs/robust_nas                              # 30 cells on digits, CPU
  python -m experiments.robust_nas --flagfile=experiments/flags/robust_nas_cifar10.flags \
      --data_dir=~/tensorflow_datasets --workdir=runs/rb201   # the benchmark's recipe, GPU
  python -m experiments.robust_nas --config=default \
      --benchmark_file=/data/NAS-RobBench-201_all.json --workdir=runs/rb201_analytics

Writes config.json, cells.jsonl (one record per trained cell; --resume skips them),
metrics.jsonl, benchmark/<dataset>.json + meta.json (the released format), results.json
(num_cells, per_cell, kendall, spearman, top_k, score_gap, search, timing, checks) and
plots/ (scores_vs_accuracy, tau_scores, tau_metrics, search_regret, accuracy_boxes). The
library function is `jaxlab.papers.robust_nas.run(config, workdir)`.
"""

from experiments import common
from jaxlab.papers import robust_nas

main = common.make_main(robust_nas.STUDY)

if __name__ == "__main__":
  common.run(main)
