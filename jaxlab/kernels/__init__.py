"""Kernel methods: the KRR core that the kernel papers (`jaxlab.papers.krr_inverse`,
`jaxlab.papers.krr_covariate_shift`) and outside users build on.

  from jaxlab.kernels import kernel_fns, ridge
  k = kernel_fns.rbf(1.0)
  preds = ridge.predictions(ridge.path(k(x)), k(x_test, x), y, lams)   # (L, m), one eigh

Modules: `spectral` (the shared eigendecomposition calculus), `kernel_fns` (kernels and the
neural-tangents `kernel_fn` adapter), `ridge` (ridge / ridgeless / importance-weighted paths,
exact bias and variance; the ridge enters as K + n lambda I), `equivalent` (deterministic
equivalent), `learning_curve` (grids, oracle ridges, slopes).

Beyond one eigendecomposition (n in the tens of thousands): `tiled` (kernel matrices and
kernel-vector products in row tiles, sharded over a device mesh), `cg` (preconditioned
conjugate gradients), `nystrom` (Nystrom approximation and preconditioner), `ridge_cg`
(matrix-free kernel ridge: one ridge or a warm-started ridge path).
"""

from jaxlab.kernels import (cg, equivalent, kernel_fns, learning_curve, nystrom, ridge, ridge_cg,
                           spectral, tiled)

__all__ = ["cg", "equivalent", "kernel_fns", "learning_curve", "nystrom", "ridge", "ridge_cg",
           "spectral", "tiled"]
