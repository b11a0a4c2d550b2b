r"""Robust overfitting from the approximation viewpoint (paper 8, arXiv 2401.13624): the
interpolating construction built as ReLU networks, attacked with PGD, measured exactly.

  python -m experiments.robust_overfitting \
      --flagfile=experiments/flags/robust_overfitting_smoke.flags --workdir=/tmp/ro_smoke
  python -m experiments.robust_overfitting \
      --flagfile=experiments/flags/robust_overfitting.flags --workdir=runs/robust_overfitting
  python -m experiments.robust_overfitting --config=smoke --parts=regression \
      --regression.fixed_w=1e-4 --workdir=/tmp/ro_regression

Writes config.json, parts.jsonl (each finished part; --resume skips them), metrics.jsonl (the
PGD-AT curve), results.json (`classification_1d`, `classification_2d`, `regression`,
`pgd_at_contrast`, `checks` with value / target / pass, `slopes`, `failed`) and plots/
(robust_gap, errors_vs_w, perturbation_level, regression, pgd_at_contrast, construction_1d,
construction_2d; PNG and PDF). The library function is
`jaxlab.papers.robust_overfitting.run(config, workdir)` with the presets
`robust_overfitting.default()` / `smoke()`.
"""

from experiments import common
from jaxlab.papers import robust_overfitting

main = common.make_main(robust_overfitting.STUDY)

if __name__ == "__main__":
  common.run(main)
