"""Robust-NTK kernels (float64): symmetric PSD, K_all(0) = K and K_all(1) = K~ bit for bit,
the mixed-feature Gram equal to the expanded formula and to a brute-force Gram of explicit
Jacobians, eval-mode BatchNorm making each example's features independent of the batch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlab.nas import networks, robust_ntk as rk, search_space as ss


def _mlp(p, x):
  h = jnp.tanh(x.reshape(x.shape[0], -1) @ p["w1"] + p["b1"][None])
  return h @ p["w2"]


def _setup(n=6):
  k1, k2, k3, k4 = jax.random.split(jax.random.key(0), 4)
  params = {"w1": jax.random.normal(k1, (16, 12), jnp.float64) / 4,
            "b1": jax.random.normal(k2, (12,), jnp.float64) / 4,
            "w2": jax.random.normal(k3, (12, 3), jnp.float64) / 3.5}
  x = jax.random.uniform(k4, (n, 4, 4, 1), jnp.float64)
  y = jnp.arange(n) % 3
  return params, x, y


def _jacobian(params, x):
  """Explicit per-example Jacobians `(n, 3, P)` of the MLP."""
  def flat(p, xi):
    jac = jax.jacrev(lambda q: _mlp(q, xi[None])[0])(p)
    return jnp.concatenate([jac[k].reshape(3, -1) for k in sorted(jac)], axis=1)
  return jax.vmap(lambda xi: flat(params, xi))(x)


def test_kernels_exact_identities_and_expanded_formula(x64):
  params, x, y = _setup()
  x_adv, x_adv2 = rk.perturbed_inputs(_mlp, params, x, y, 8 / 255)
  assert float(jnp.max(jnp.abs(x_adv - x))) <= 8 / 255 + 1e-15
  assert float(jnp.max(jnp.abs(x_adv2 - x_adv))) <= 8 / 255 + 1e-15
  assert float(jnp.max(jnp.abs(x_adv - x))) == pytest.approx(8 / 255)  # FGSM uses the ball
  k = rk.robust_kernels(_mlp, params, x, x_adv, x_adv2, betas=(0.0, 0.3, 0.5, 1.0))
  np.testing.assert_array_equal(k.k_all[0.0], k.k)
  np.testing.assert_array_equal(k.k_all[1.0], k.k_tilde)         # different rows, same bits
  np.testing.assert_array_equal(k.kt_all[0.0], k.k_tilde)
  np.testing.assert_array_equal(k.kt_all[1.0], k.k_tilde2)
  for beta in (0.3, 0.5):
    for robust, got in ((False, k.k_all[beta]), (True, k.kt_all[beta])):
      want = rk.expanded(k, beta, robust=robust)
      assert float(jnp.max(jnp.abs(got - want)) / jnp.max(jnp.abs(want))) <= 1e-12
  kernels = [k.k, k.k_tilde, k.k_tilde2, *k.k_all.values(), *k.kt_all.values()]
  for a in kernels:
    np.testing.assert_allclose(a, a.T, rtol=1e-13, atol=0)
    eig = np.linalg.eigvalsh(np.asarray(a))
    assert eig[0] >= -1e-10 * eig[-1]
  assert not np.allclose(k.k_bar, k.k_bar.T)       # the cross kernel is not symmetric


def test_mixed_gram_equals_brute_force_gram_of_mixed_features(x64):
  params, x, y = _setup()
  x_adv, x_adv2 = rk.perturbed_inputs(_mlp, params, x, y, 0.1)
  j, j_adv, j_adv2 = (_jacobian(params, z) for z in (x, x_adv, x_adv2))
  k = rk.robust_kernels(_mlp, params, x, x_adv, x_adv2, betas=(0.5, 0.8))
  for beta in (0.5, 0.8):
    phi = (1 - beta) * j + beta * j_adv
    np.testing.assert_allclose(k.k_all[beta], jnp.einsum("ioP,joP->ij", phi, phi) / 3,
                               rtol=1e-11)
    phi = (1 - beta) * j_adv + beta * j_adv2
    np.testing.assert_allclose(k.kt_all[beta], jnp.einsum("ioP,joP->ij", phi, phi) / 3,
                               rtol=1e-11)
  np.testing.assert_allclose(k.k_bar, jnp.einsum("ioP,joP->ij", j, j_adv) / 3, rtol=1e-11)
  np.testing.assert_allclose(k.k_bar2, jnp.einsum("ioP,joP->ij", j_adv, j_adv2) / 3,
                             rtol=1e-11)


def test_spectrum_and_scores(x64):
  a = jnp.asarray(np.diag([4.0, 1.0, 0.5]))
  s = rk.spectrum(a)
  assert float(s["lambda_min"]) == 0.5
  assert float(s["lambda_min_over_trace"]) == pytest.approx(0.5 / 5.5)
  assert float(s["inverse_condition"]) == pytest.approx(0.125)
  params, x, y = _setup(4)
  x_adv, x_adv2 = rk.perturbed_inputs(_mlp, params, x, y, 0.05)
  k = rk.robust_kernels(_mlp, params, x, x_adv, x_adv2)
  scores = rk.scores(k)
  assert len(scores) == 2 * 3 * 3
  assert scores["K_all_b0_lambda_min"] == pytest.approx(float(np.linalg.eigvalsh(k.k)[0]))
  assert scores["K_all_b1_lambda_min"] == scores["Kt_all_b0_lambda_min"]
  with pytest.raises(ValueError, match="beta must be in"):
    rk.robust_kernels(_mlp, params, x, x_adv, x_adv2, betas=(1.5,))


@pytest.mark.slow  # compiles a float64 conv-net Jacobian (minutes on a loaded CPU); the MLP
# tests above cover robust_kernels, and the slow smoke study runs it on TinyNetwork too.
def test_eval_mode_batchnorm_makes_the_kernel_batch_independent(x64):
  model = networks.TinyNetwork(ss.parse(
      "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"),
      channels=1, cells_per_stage=1, num_classes=3)
  x = jax.random.uniform(jax.random.key(1), (4, 4, 4, 1), jnp.float64)
  variables = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64),
                                     model.init(jax.random.key(2), x.astype(jnp.float32)))
  state = {"batch_stats": variables["batch_stats"]}
  f = lambda p, z: model.apply({"params": p, **state}, z)  # noqa: E731
  y = jnp.arange(4) % 3
  x_adv, x_adv2 = rk.perturbed_inputs(f, variables["params"], x, y, 8 / 255)
  full = rk.robust_kernels(f, variables["params"], x, x_adv, x_adv2, betas=(0.5,))
  part = rk.robust_kernels(f, variables["params"], x[:2], x_adv[:2], x_adv2[:2], betas=(0.5,))
  np.testing.assert_allclose(full.k[:2, :2], part.k, rtol=1e-12)
  np.testing.assert_allclose(full.k_all[0.5][:2, :2], part.k_all[0.5], rtol=1e-12)
  np.testing.assert_allclose(full.kt_all[0.5][:2, :2], part.kt_all[0.5], rtol=1e-12)
