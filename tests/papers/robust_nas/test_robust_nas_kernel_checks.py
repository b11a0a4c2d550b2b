"""The P3-B check values of the study (`cells.kernel_checks`) on kernels built from explicit
tangent features, and on kernels with a planted defect (the checks can fail)."""

import numpy as np
import pytest

from jaxlab.nas import robust_ntk
from jaxlab.papers.robust_nas import cells

BETAS = (0.0, 0.5, 1.0)


def _kernels(seed=0, n=5, p=7):
  """`robust_ntk.Kernels` of random features J, J~, J~~ `(n, p)`, with K_all(beta) and
  K~_all(beta) as Gram matrices of the mixed features (what `robust_kernels` computes)."""
  rng = np.random.default_rng(seed)
  j, jt, jtt = (rng.normal(size=(n, p)) for _ in range(3))
  gram = lambda a, b: a @ b.T  # noqa: E731
  mix = lambda a, b, beta: (1 - beta) * a + beta * b  # noqa: E731
  return robust_ntk.Kernels(
      gram(j, j), gram(j, jt), gram(jt, jt), gram(jt, jtt), gram(jtt, jtt),
      {b: gram(mix(j, jt, b), mix(j, jt, b)) for b in BETAS},
      {b: gram(mix(jt, jtt, b), mix(jt, jtt, b)) for b in BETAS})


def test_checks_of_consistent_kernels():
  k = _kernels()
  checks = cells.kernel_checks(k)
  assert checks["asymmetry"] == 0.0
  assert checks["k_all0_minus_k"] == checks["kt_all0_minus_k_tilde"] == 0.0
  assert checks["k_all1_minus_k_tilde"] == 0.0
  assert 0.0 <= checks["expanded_rel"] <= 1e-14
  eig = np.linalg.eigvalsh(k.k_tilde2)
  assert 0.0 < checks["min_eig_ratio"] <= eig[0] / eig[-1]     # n < p: full rank, PSD


def test_checks_see_a_planted_defect():
  k = _kernels()
  wrong = k._replace(k_all={**k.k_all, 0.5: 0.25 * k.k + 0.25 * k.k_tilde},   # no cross term
                     kt_all={**k.kt_all, 1.0: k.k_tilde2 + 1e-3})
  checks = cells.kernel_checks(wrong)
  true = k.k_all[0.5]              # = the expanded formula of the unchanged K, K_bar, K~
  assert checks["expanded_rel"] == pytest.approx(
      np.max(np.abs(wrong.k_all[0.5] - true)) / np.max(np.abs(true)), rel=1e-12)
  assert checks["expanded_rel"] > 0.01
  skew = k._replace(k_tilde=k.k_tilde + np.triu(np.ones_like(k.k_tilde), 1))
  assert cells.kernel_checks(skew)["asymmetry"] > 0.0
  assert cells.kernel_checks(skew)["k_all1_minus_k_tilde"] == pytest.approx(1.0)
  eig = np.linalg.eigvalsh(k.k)
  indefinite = k._replace(k=k.k - (eig[0] + eig[1]) / 2 * np.eye(len(k.k)))  # one eig < 0
  assert cells.kernel_checks(indefinite)["min_eig_ratio"] < 0
