r"""Catastrophic overfitting of FGSM adversarial training and the ELLE / ELLE-A remedy
(paper 9) on digits with a small CNN or a small PreActResNet: methods x eps x seeds.

  python -m experiments.elle --flagfile=experiments/flags/elle_smoke.flags --workdir=/tmp/elle
  python -m experiments.elle --flagfile=experiments/flags/elle.flags --workdir=runs/elle
  python -m experiments.elle --flagfile=experiments/flags/elle.flags --workdir=runs/elle \
      --resume                                   # finish an interrupted grid
  python -m experiments.elle --flagfile=experiments/flags/elle_study.flags \
      --workdir=runs/elle_study                  # 5 seeds, APGD (40 runs; also elle_study_resnet)
  python -m experiments.elle --config=default --eps=0.3,0.2,0.1 --seeds=0,1,2,3,4 \
      --workdir=runs/elle_5seeds                 # any config field is a flag

Writes config.json, sweep.jsonl (one record per finished run), metrics.jsonl (one line per run
and epoch), results.json (eps, runs, summary, step_cost_ratio, co_example, checks) and
plots/pgd_acc_vs_eps.png, plots/co_run.png. The library function is
`jaxlab.papers.elle.run(config, workdir)`, with the presets `jaxlab.papers.elle.default()`,
`smoke()`, `co_study()`, `co_study_resnet()` and `cifar10()` (`--config=` default, smoke,
study, study_resnet, cifar10).
"""

from experiments import common
from jaxlab.papers import elle

main = common.make_main(elle.STUDY)

if __name__ == "__main__":
  common.run(main)
