"""Kernel methods: the KRR core and the kernel-theory experiments built on it.

  from jaxlab.kernels import kernel_fns, ridge
  k = kernel_fns.rbf(1.0)
  preds = ridge.predictions(ridge.path(k(x)), k(x_test, x), y, lams)   # (L, m), one eigh

Core: `spectral` (the shared eigendecomposition calculus), `kernel_fns` (kernels and the
neural-tangents `kernel_fn` adapter), `ridge` (ridge / ridgeless / importance-weighted paths,
exact bias and variance; the ridge enters as K + n lambda I), `equivalent` (deterministic
equivalent), `learning_curve` (grids, oracle ridges, slopes). Papers: `torus` and `inverse`
(Wong et al. 2024), `covariate_shift` (Chen et al. 2024); experiments `krr_inverse` and
`krr_covariate_shift` (import them explicitly).
"""

from jaxlab.kernels import (covariate_shift, equivalent, inverse, kernel_fns, learning_curve,
                            ridge, spectral, torus)

__all__ = ["covariate_shift", "equivalent", "inverse", "kernel_fns", "learning_curve", "ridge",
           "spectral", "torus"]
