"""Kernel methods: the KRR core that the kernel papers (`jaxlab.papers.krr_inverse`,
`jaxlab.papers.krr_covariate_shift`) and outside users build on.

  from jaxlab.kernels import kernel_fns, ridge
  k = kernel_fns.rbf(1.0)
  preds = ridge.predictions(ridge.path(k(x)), k(x_test, x), y, lams)   # (L, m), one eigh

Modules: `spectral` (the shared eigendecomposition calculus), `kernel_fns` (kernels and the
neural-tangents `kernel_fn` adapter), `ridge` (ridge / ridgeless / importance-weighted paths,
exact bias and variance; the ridge enters as K + n lambda I), `equivalent` (deterministic
equivalent), `learning_curve` (grids, oracle ridges, slopes).
"""

from jaxlab.kernels import equivalent, kernel_fns, learning_curve, ridge, spectral

__all__ = ["equivalent", "kernel_fns", "learning_curve", "ridge", "spectral"]
