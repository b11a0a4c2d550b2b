r"""Catastrophic overfitting of FGSM adversarial training and the ELLE / ELLE-A remedy
(paper 9) on digits resized to 32x32 with a small CNN: methods x eps x seeds.

  python -m experiments.elle --flagfile=experiments/flags/elle_smoke.flags --workdir=/tmp/elle
  python -m experiments.elle --flagfile=experiments/flags/elle.flags --workdir=runs/elle
  python -m experiments.elle --flagfile=experiments/flags/elle.flags --workdir=runs/elle \
      --resume                                   # finish an interrupted grid

Writes config.json, sweep.jsonl (one record per finished run), metrics.jsonl (one line per run
and epoch), results.json (eps, runs, summary, step_cost_ratio) and plots/pgd_acc_vs_eps.png,
plots/co_run.png. The library function is
`jaxlab.adversarial.catastrophic_overfitting.run(config, workdir)`.
"""

from experiments import common
from jaxlab.adversarial import catastrophic_overfitting

main = common.make_main(catastrophic_overfitting.Config, catastrophic_overfitting.run,
                        resumable=True)

if __name__ == "__main__":
  common.run(main)
