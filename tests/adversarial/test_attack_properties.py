"""Property test (hypothesis): every attack's output stays in the eps-ball around x (N-FGSM:
its documented 3 eps) and in the data range."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from jaxlab.adversarial import attacks


def _linear(params, x):
  return x.reshape(x.shape[0], -1) @ params


def _run(name, params, x, y, key, eps, norm):
  if name == "fgsm":
    return attacks.fgsm(_linear, params, x, y, eps, norm=norm)
  if name == "rs_fgsm":
    return attacks.rs_fgsm(_linear, params, x, y, key, eps, norm=norm)
  if name == "n_fgsm":
    return attacks.n_fgsm(_linear, params, x, y, key, eps, norm=norm)
  if name == "pgd":
    return attacks.pgd(_linear, params, x, y, key, eps, eps / 4, steps=3, restarts=2,
                       norm=norm)
  if name == "margin_pgd":
    return attacks.margin_pgd(_linear, params, x, y, key, eps, eps / 4, steps=3, norm=norm)
  return attacks.uniform_noise(x, key, eps, norm=norm)


@given(st.sampled_from(["fgsm", "rs_fgsm", "n_fgsm", "pgd", "margin_pgd", "uniform_noise"]),
       st.sampled_from(["linf", "l2"]), st.floats(0.01, 0.5), st.integers(0, 2**31 - 1))
def test_attacks_stay_in_the_ball_and_the_data_range(name, norm, eps, seed):
  kx, kp, ky, ka = jax.random.split(jax.random.key(seed), 4)
  x = jax.random.uniform(kx, (5, 2, 2, 1))
  params = jax.random.normal(kp, (4, 3))
  y = jax.random.randint(ky, (5,), 0, 3)
  x_adv = _run(name, params, x, y, ka, eps, norm)
  delta = np.asarray(x_adv - x).reshape(5, -1)
  size = np.abs(delta).max(1) if norm == "linf" else np.linalg.norm(delta, axis=1)
  radius = 3 * eps if name == "n_fgsm" else eps
  assert np.all(size <= radius * (1 + 1e-5) + 1e-7)
  assert float(jnp.min(x_adv)) >= 0.0 and float(jnp.max(x_adv)) <= 1.0
