"""Property tests (hypothesis): the invariants the NTK engine promises, on random
architectures and inputs."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlab import ntk
from jaxlab.ntk import stax

NONLINEARITIES = {"relu": stax.Relu, "erf": stax.Erf, "abs": stax.Abs,
                  "leaky_relu": lambda: stax.LeakyRelu(0.1), "identity": stax.Identity}


@st.composite
def architectures(draw):
  layers = []
  for _ in range(draw(st.integers(1, 3))):
    layers.append(stax.Dense(8, W_std=draw(st.floats(0.5, 2.0)), b_std=draw(st.floats(0.0, 1.0))))
    layers.append(NONLINEARITIES[draw(st.sampled_from(sorted(NONLINEARITIES)))]())
  layers.append(stax.Dense(1, W_std=draw(st.floats(0.5, 2.0)), b_std=draw(st.floats(0.0, 1.0))))
  return stax.serial(*layers)


@settings(max_examples=12)  # each example runs a new architecture op by op
@given(architectures(), st.integers(2, 6), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_infinite_width_kernels_are_symmetric_psd(net, n, d, seed):
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.key(seed), (n, d), jnp.float64)
    _, _, kernel_fn = net
    for k in kernel_fn(x, None, ("nngp", "ntk")):
      k = np.asarray(k)
      np.testing.assert_allclose(k, k.T, rtol=1e-12, atol=1e-12)
      eigenvalues = np.linalg.eigvalsh(k)
      assert eigenvalues.min() >= -1e-10 * max(1.0, eigenvalues.max())


@settings(max_examples=6)  # every example compiles anew (new shapes), three implementations
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_ntk_of_a_linear_model_is_the_input_gram(n, d, outputs, seed):
  """f(x) = x W: the Jacobian of every output is x, so the NTK (averaged over outputs) is
  x x^T, for every implementation."""
  with jax.enable_x64(True):
    kx, kw = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (n, d), jnp.float64)
    params = jax.random.normal(kw, (d, outputs), jnp.float64)
    for impl in (ntk.NtkImplementation.JACOBIAN_CONTRACTION,
                 ntk.NtkImplementation.NTK_VECTOR_PRODUCTS, ntk.NtkImplementation.AUTO):
      theta = ntk.empirical_ntk_fn(lambda w, x: x @ w, vmap_axes=0, implementation=impl)(
          x, None, params)
      np.testing.assert_allclose(theta, x @ x.T, rtol=1e-12, atol=1e-12)
