"""One package per paper: its config and presets, its study, its plots and the model or
simulator code only that paper uses.

  from jaxlab.papers import meanfield_resnet
  results = meanfield_resnet.run(meanfield_resnet.smoke(), "/tmp/mf_resnet")

Packages: `mehl_soup` (paper 1), `krr_inverse` (2), `krr_covariate_shift` (3), `charmer` (4),
`path_norm` (5), `robust_nas` (6), `meanfield_resnet` (7), `robust_overfitting` (8), `elle` (9)
and `shallow_transformer` (10). Each builds on the shared cores (`jaxlab.ntk`, `kernels`,
`soups`, `adversarial`, `text`, `training`, `data`, `models`) and the experiment skeleton
`jaxlab.experiment`; `experiments/<slug>.py` is its command-line entry point.
"""
