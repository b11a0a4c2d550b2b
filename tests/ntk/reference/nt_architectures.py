"""Architectures whose infinite-width kernels are checked against neural-tangents 0.6.5.

Each builder takes a `stax` module (neural-tangents' or `jaxlab.ntk.stax`) and returns the
same network in either library, so the reference script (run with neural-tangents) and the
tests (run with jaxlab) share one definition. An entry is `(kind, build)` or `(kind, build,
kernel_fn_kwargs)`; the kind says which inputs an architecture gets (`inputs_of`): 'flat'
`(N, d)`, 'tokens' `(N, T, d)`, 'images' `(N, H, W, C)`, or lists of them for networks with
several inputs ('pair', 'nested').
"""

import jax.numpy as jnp
import numpy as np


def inputs_of(kind, arrays):
  """(x1, x2) for an input kind from the stored arrays {"flat": (x1, x2), ...}."""
  if kind == "pair":
    (f1, f2), (t1, t2) = arrays["flat"], arrays["tokens"]
    return [f1, t1.reshape(t1.shape[0], -1)], [f2, t2.reshape(t2.shape[0], -1)]
  if kind == "nested":
    (f1, f2), (t1, t2) = arrays["flat"], arrays["tokens"]
    return [[f1, t1], 0.5 * f1], [[f2, t2], 0.5 * f2]
  return arrays[kind]


def _mlp(stax, nonlin, parameterization="ntk", b_std=0.1):
  return stax.serial(
      stax.Dense(48, W_std=1.5, b_std=b_std, parameterization=parameterization), nonlin(),
      stax.Dense(32, W_std=1.2, b_std=b_std, parameterization=parameterization), nonlin(),
      stax.Dense(1, W_std=0.9, b_std=b_std, parameterization=parameterization))


def _residual(stax, parameterization="ntk"):
  dense = lambda n, w, b: stax.Dense(n, W_std=w, b_std=b, parameterization=parameterization)
  block = stax.serial(stax.FanOut(2),
                      stax.parallel(stax.serial(stax.Relu(), dense(40, 1.3, 0.2)),
                                    stax.Identity()),
                      stax.FanInSum())
  return stax.serial(dense(40, 1.0, 0.1), block, block, stax.Erf(), dense(1, 1.1, 0.0))


def _attention(stax, mechanism="SOFTMAX", b_std=None, qk=1.0):
  return stax.GlobalSelfAttention(24, 16, 20, 3, linear_scaling=True, W_key_std=qk,
                                  W_query_std=0.8, W_value_std=1.3, W_out_std=0.7, b_std=b_std,
                                  attention_mechanism=mechanism)


def _transformer(stax, parameterization="ntk"):
  dense = lambda n, w, b: stax.Dense(n, W_std=w, b_std=b, parameterization=parameterization)
  attn = stax.serial(stax.FanOut(2), stax.parallel(_attention(stax, b_std=0.2), stax.Identity()),
                     stax.FanInSum(), stax.LayerNorm())
  mlp = stax.serial(stax.FanOut(2),
                    stax.parallel(stax.serial(dense(32, 1.4, 0.1), stax.Relu(),
                                              dense(24, 1.1, 0.1)), stax.Identity()),
                    stax.FanInSum(), stax.LayerNorm())
  return stax.serial(dense(24, 1.0, 0.3), attn, mlp, stax.GlobalAvgPool(), dense(1, 1.0, 0.0))


def _conv(stax, n, filt, **kw):
  return stax.Conv(n, filt, **kw)


def _erf_nngp(cov12, var1, var2):
  return 2 / jnp.pi * jnp.arcsin(2 * cov12 / jnp.sqrt((1 + 2 * var1) * (1 + 2 * var2)))


def _nonlinearity_mlp(stax, nonlin, w=1.2, b=0.2):
  return stax.serial(stax.Dense(32, W_std=w, b_std=b), nonlin,
                     stax.Dense(16, W_std=1.1, b_std=0.1), nonlin, stax.Dense(1, W_std=0.9))


NONLINEARITIES = {
    "gelu": lambda stax: stax.Gelu(),
    "gelu_approximate": lambda stax: stax.Gelu(approximate=True),
    "sigmoid_like": lambda stax: stax.Sigmoid_like(),
    "exp": lambda stax: stax.Exp(a=0.7, b=0.4),
    "gaussian": lambda stax: stax.Gaussian(a=1.2, b=-0.8),
    "rbf": lambda stax: stax.Rbf(gamma=0.6),
    "sin": lambda stax: stax.Sin(a=1.1, b=0.9, c=0.3),
    "cos": lambda stax: stax.Cos(a=0.8, b=1.2, c=-0.2),
    "polynomial": lambda stax: stax.Polynomial([0.3, -0.5, 0.8, 0.2]),
    "monomial_2": lambda stax: stax.Monomial(2),
    "monomial_3": lambda stax: stax.Monomial(3),
    "rectified_monomial_0": lambda stax: stax.RectifiedMonomial(0),
    "rectified_monomial_2": lambda stax: stax.RectifiedMonomial(2),
    "rectified_monomial_3": lambda stax: stax.RectifiedMonomial(3),
    "gabor": lambda stax: stax.Gabor(),
    "sign": lambda stax: stax.Sign(),
    "relu_stabilized": lambda stax: stax.Relu(do_stabilize=True),
    "elementwise_erf": lambda stax: stax.Elementwise(jnp.tanh, _erf_nngp),
    "elementwise_numerical_tanh": lambda stax: stax.ElementwiseNumerical(jnp.tanh, deg=25),
}


def _myrtle(stax):
  conv = lambda: stax.Conv(16, (3, 3), padding="SAME", W_std=1.4, b_std=0.1)
  return stax.serial(conv(), stax.Relu(), conv(), stax.Relu(),
                     stax.AvgPool((2, 2), strides=(2, 2)), conv(), stax.Relu(),
                     stax.GlobalAvgPool(), stax.Dense(3, W_std=1.2, b_std=0.05))


def _concat_tokens(stax):
  return stax.serial(stax.FanOut(2), stax.parallel(stax.Dense(8, W_std=1.2, b_std=0.1),
                                                   stax.Dense(8, W_std=0.7)),
                     stax.FanInConcat(axis=1), stax.Relu(), stax.Dense(1))


IMAGE_ARCHITECTURES = {
    "conv_valid": ("images", lambda stax: stax.serial(
        stax.Conv(8, (3, 2), W_std=1.3, b_std=0.2), stax.Relu(),
        stax.Conv(4, (2, 2), W_std=1.1))),
    "conv_one_layer_reversed": ("images", lambda stax: stax.Conv(
        8, (3, 2), padding="SAME", W_std=1.2, b_std=0.3)),
    "conv_one_layer_diagonal": ("images", lambda stax: stax.Conv(
        8, (3, 2), padding="SAME", W_std=1.2, b_std=0.3), dict(diagonal_spatial=True)),
    "conv_same_flatten": ("images", lambda stax: stax.serial(
        stax.Conv(8, (3, 3), padding="SAME", W_std=1.5, b_std=0.1), stax.Relu(),
        stax.Conv(8, (2, 3), padding="SAME", W_std=1.3), stax.Erf(), stax.Flatten(),
        stax.Dense(1, W_std=1.1, b_std=0.2))),
    "conv_circular_strided": ("images", lambda stax: stax.serial(
        stax.Conv(8, (3, 2), strides=(2, 1), padding="CIRCULAR", W_std=1.3, b_std=0.1),
        stax.Relu(), stax.Conv(4, (2, 2), padding="CIRCULAR", W_std=0.9, b_std=0.2),
        stax.Relu(), stax.Conv(2, (1, 2), strides=(1, 2), padding="SAME"))),
    "conv_standard": ("images", lambda stax: stax.serial(
        stax.Conv(8, (2, 2), padding="SAME", W_std=1.3, b_std=0.2, parameterization="standard",
                  s=(2, 3)), stax.Relu(),
        stax.Conv(4, (3, 2), W_std=1.1, b_std=0.1, parameterization="standard"), stax.Relu(),
        stax.Flatten(), stax.Dense(1, W_std=0.8, parameterization="standard"))),
    "conv_dimension_numbers": ("images", lambda stax: stax.serial(
        stax.Conv(6, (2, 2), padding="SAME", W_std=1.2, b_std=0.1,
                  dimension_numbers=("NCHW", "HWIO", "NWHC")), stax.Relu(),
        stax.Conv(4, (2, 1), W_std=1.3, b_std=0.2))),
    "conv_transpose": ("images", lambda stax: stax.serial(
        stax.ConvTranspose(6, (3, 2), strides=(2, 1), padding="SAME", W_std=1.3, b_std=0.1),
        stax.Relu(), stax.ConvTranspose(3, (2, 2), W_std=0.9, b_std=0.2))),
    "conv_transpose_circular": ("images", lambda stax: stax.serial(
        stax.ConvTranspose(6, (3, 2), strides=(2, 1), padding="CIRCULAR", W_std=1.3),
        stax.Relu(), stax.Flatten(), stax.Dense(1))),
    "conv_transpose_diagonal": ("images", lambda stax: stax.serial(
        stax.ConvTranspose(6, (3, 2), strides=(1, 2), padding="SAME", W_std=1.3, b_std=0.1),
        stax.Relu(), stax.ConvTranspose(3, (2, 2), W_std=0.9)), dict(diagonal_spatial=True)),
    "conv_local": ("images", lambda stax: stax.serial(
        stax.ConvLocal(6, (3, 2), padding="SAME", W_std=1.3, b_std=0.2), stax.Relu(),
        stax.ConvLocal(3, (2, 2), W_std=1.1, b_std=0.1, parameterization="standard"))),
    "conv_local_full": ("images", lambda stax: stax.serial(
        stax.ConvLocal(6, (3, 2), padding="SAME", W_std=1.3, b_std=0.2), stax.Relu(),
        stax.ConvLocal(3, (2, 2), W_std=1.1, b_std=0.1)), dict(diagonal_spatial=False)),
    "myrtle": ("images", _myrtle),
    "avg_pool_same_normalized": ("images", lambda stax: stax.serial(
        stax.Conv(8, (2, 2), W_std=1.3, b_std=0.1), stax.Relu(),
        stax.AvgPool((3, 2), padding="SAME", normalize_edges=True), stax.Flatten(),
        stax.Dense(1))),
    "avg_pool_same_strided": ("images", lambda stax: stax.serial(
        stax.Conv(8, (2, 2), padding="SAME", W_std=1.3),
        stax.AvgPool((2, 2), strides=(2, 1), padding="SAME"), stax.Relu(),
        stax.Dense(2))),
    "sum_pool_circular": ("images", lambda stax: stax.serial(
        stax.Conv(8, (2, 2), padding="CIRCULAR", W_std=1.3, b_std=0.1), stax.Erf(),
        stax.SumPool((2, 2), padding="CIRCULAR"), stax.GlobalSumPool(), stax.Dense(1))),
    "dense_images": ("images", lambda stax: stax.serial(
        stax.Dense(8, W_std=1.3, b_std=0.1), stax.Relu(), stax.Dense(2))),
    "images_nonlinearities_full": ("images", lambda stax: stax.serial(
        stax.Conv(8, (2, 2), padding="SAME", W_std=1.1, b_std=0.1), stax.Gabor(),
        stax.Conv(8, (2, 2), W_std=1.2), stax.Sin(1.1, 0.9, 0.3),
        stax.Conv(8, (2, 1), W_std=1.2), stax.Polynomial([0.1, 0.5, 0.3]),
        stax.AvgPool((2, 2)), stax.Flatten(), stax.Dense(1))),
    "images_nonlinearities_diagonal": ("images", lambda stax: stax.serial(
        stax.Conv(8, (2, 2), padding="SAME", W_std=1.1, b_std=0.1), stax.Gelu(),
        stax.Conv(8, (2, 2), W_std=1.2), stax.Exp(0.5, 0.3),
        stax.Conv(8, (2, 1), W_std=1.2), stax.Gaussian(1.0, -0.5),
        stax.Conv(8, (1, 1)), stax.ElementwiseNumerical(jnp.tanh, deg=20),
        stax.Conv(8, (1, 2)), stax.Sigmoid_like(), stax.Flatten(), stax.Dense(1))),
    "images_layernorm_dropout": ("images", lambda stax: stax.serial(
        stax.Conv(8, (2, 2), padding="SAME", W_std=1.2, b_std=0.3),
        stax.LayerNorm(axis=(1, 2, 3)), stax.Relu(), stax.Dropout(0.7),
        stax.Conv(4, (2, 2), W_std=1.1), stax.GlobalAvgPool(), stax.Dense(1))),
}


TOPOLOGY_ARCHITECTURES = {
    "fan_in_concat_channels": ("flat", lambda stax: stax.serial(
        stax.Dense(16, W_std=1.2, b_std=0.1), stax.FanOut(3),
        stax.parallel(stax.Dense(8, W_std=0.8), stax.serial(stax.Erf(), stax.Dense(24)),
                      stax.Relu()),
        stax.FanInConcat(), stax.Dense(1, W_std=1.3, b_std=0.2))),
    "fan_in_concat_tokens": ("tokens", _concat_tokens),
    "fan_in_prod": ("flat", lambda stax: stax.serial(
        stax.Dense(16, W_std=1.2, b_std=0.1), stax.FanOut(2),
        stax.parallel(stax.Dense(8, W_std=0.8, b_std=0.3), stax.serial(
            stax.Relu(), stax.Dense(8, W_std=1.5))),
        stax.FanInProd(), stax.Dense(4, W_std=1.1), stax.Relu(), stax.Dense(1))),
    "parallel_list_inputs": ("pair", lambda stax: stax.serial(
        stax.parallel(stax.Dense(8, W_std=1.1, b_std=0.2),
                      stax.serial(stax.Dense(8, W_std=1.3), stax.Relu(), stax.Dense(8))),
        stax.FanInSum(), stax.Erf(), stax.Dense(1))),
    "parallel_list_outputs": ("pair", lambda stax: stax.parallel(
        stax.serial(stax.Dense(8, b_std=0.3), stax.Relu()), stax.Dense(4, W_std=0.7))),
    "parallel_nested": ("nested", lambda stax: stax.serial(
        stax.parallel(stax.parallel(stax.Dense(8, W_std=1.2),
                                    stax.serial(stax.Dense(8), stax.Relu(),
                                                stax.GlobalAvgPool(), stax.Dense(8))),
                      stax.Dense(8, W_std=0.9, b_std=0.1)),
        stax.parallel(stax.FanInSum(), stax.Identity()), stax.FanInSum(), stax.Relu(),
        stax.Dense(1))),
    "repeat": ("flat", lambda stax: stax.serial(
        stax.Dense(16, W_std=1.2, b_std=0.1),
        stax.repeat(stax.serial(stax.Relu(), stax.Dense(16, W_std=1.4, b_std=0.1)), 3),
        stax.Erf(), stax.Dense(1))),
    "repeat_conv_pairs": ("images", lambda stax: stax.serial(
        stax.Conv(4, (2, 2), padding="SAME"),
        stax.repeat(stax.serial(stax.Relu(), stax.Conv(4, (2, 2), padding="SAME", W_std=1.3),
                                stax.Relu(), stax.Conv(4, (3, 3), padding="SAME")), 2),
        stax.GlobalAvgPool(), stax.Dense(1))),
    "dropout": ("flat", lambda stax: stax.serial(
        stax.Dense(16, W_std=1.2, b_std=0.1), stax.Relu(), stax.Dropout(0.8),
        stax.Dense(16), stax.Dropout(0.6, mode="test"), stax.Relu(), stax.Dense(1))),
    "dot_general_positions": ("tokens", lambda stax: stax.serial(
        stax.Dense(8, W_std=1.2, b_std=0.1),
        stax.DotGeneral(rhs=np.linspace(-1.0, 1.0, 6).reshape(3, 2),
                        dimension_numbers=(((1,), (0,)), ((), ()))),
        stax.Relu(), stax.Flatten(), stax.Dense(1))),
    "dot_general_lhs_scale": ("tokens", lambda stax: stax.serial(
        stax.Dense(8, W_std=1.2),
        stax.DotGeneral(lhs=np.array([0.5, -1.5, 2.0]),
                        dimension_numbers=(((), ()), ((0,), (1,)))), stax.Erf())),
    "index_slices": ("tokens", lambda stax: stax.serial(
        stax.Dense(8, W_std=1.2, b_std=0.1), stax.Relu(),
        stax.Index(stax.Slice[:, ::2]), stax.Dense(4), stax.Index(stax.Slice[:, 1]),
        stax.Relu(), stax.Dense(1))),
    "index_images": ("images", lambda stax: stax.serial(
        stax.Conv(4, (2, 2), padding="SAME"), stax.Index(stax.Slice[:, 1:, ::2]),
        stax.Relu(), stax.Flatten(), stax.Dense(1))),
    "global_sum_pool_tokens": ("tokens", lambda stax: stax.serial(
        stax.Dense(8, W_std=1.2, b_std=0.1), stax.Relu(), stax.GlobalSumPool(),
        stax.Dense(1))),
    "flat_channel_axis_1": ("flat", lambda stax: stax.serial(
        stax.Dense(8, W_std=1.2, b_std=0.1, channel_axis=1), stax.Relu(),
        stax.Dense(1, channel_axis=1))),
    "flatten_batch_out_1": ("tokens", lambda stax: stax.serial(
        stax.Dense(8, W_std=1.2), stax.Relu(), stax.Flatten(batch_axis_out=1),
        stax.Dense(1, batch_axis=1, channel_axis=0))),
}


ARCHITECTURES = {
    # (N, d) inputs.
    "dense": ("flat", lambda stax: stax.Dense(16, W_std=1.3, b_std=0.2)),
    "dense_standard": ("flat", lambda stax: stax.Dense(16, W_std=1.3, b_std=0.2,
                                                       parameterization="standard")),
    "identity": ("flat", lambda stax: stax.serial(stax.Identity(), stax.Dense(8))),
    "relu_mlp": ("flat", lambda stax: _mlp(stax, stax.Relu)),
    "relu_mlp_standard": ("flat", lambda stax: _mlp(stax, stax.Relu, "standard")),
    "relu_mlp_no_bias": ("flat", lambda stax: _mlp(stax, stax.Relu, b_std=None)),
    "relu_mlp_standard_no_bias": ("flat", lambda stax: _mlp(stax, stax.Relu, "standard", None)),
    "erf_mlp": ("flat", lambda stax: _mlp(stax, stax.Erf)),
    "erf_abc_mlp": ("flat", lambda stax: _mlp(stax, lambda: stax.Erf(a=1.3, b=0.7, c=0.2),
                                              "standard")),
    "leaky_abs": ("flat", lambda stax: stax.serial(
        stax.Dense(32, W_std=1.4, b_std=0.3), stax.LeakyRelu(0.2), stax.Dense(32, W_std=1.1),
        stax.Abs(), stax.Dense(1, b_std=0.5))),
    "relu_identity_flatten": ("flat", lambda stax: stax.serial(
        stax.Dense(32, W_std=2.0, b_std=0.1), stax.Identity(), stax.Relu(), stax.Flatten(),
        stax.Dense(1, W_std=1.0, b_std=0.2))),
    "layernorm_mlp": ("flat", lambda stax: stax.serial(
        stax.Dense(32, W_std=1.7, b_std=0.4), stax.LayerNorm(), stax.Relu(),
        stax.Dense(32, W_std=1.2, b_std=0.1), stax.LayerNorm(), stax.Erf(), stax.Dense(1))),
    "residual": ("flat", _residual),
    "residual_standard": ("flat", lambda stax: _residual(stax, "standard")),
    "three_branches": ("flat", lambda stax: stax.serial(
        stax.Dense(32, W_std=1.2, b_std=0.1), stax.FanOut(3),
        stax.parallel(stax.Dense(32, W_std=0.8, b_std=0.2),
                      stax.serial(stax.Erf(), stax.Dense(32, W_std=1.5)), stax.Identity()),
        stax.FanInSum(), stax.Relu(), stax.Dense(1, W_std=1.3, b_std=0.1))),
    "parallel_outputs": ("flat", lambda stax: stax.serial(
        stax.FanOut(2),
        stax.parallel(stax.Dense(8, W_std=1.1, b_std=0.3),
                      stax.serial(stax.Dense(32, W_std=1.4), stax.Relu(),
                                  stax.Dense(8, W_std=0.9, b_std=0.1, parameterization="ntk"))))),
    # (N, T, d) inputs.
    "tokens_relu_mlp": ("tokens", lambda stax: _mlp(stax, stax.Relu)),
    "tokens_erf_standard": ("tokens", lambda stax: _mlp(stax, stax.Erf, "standard")),
    "tokens_gap": ("tokens", lambda stax: stax.serial(
        stax.Dense(32, W_std=1.5, b_std=0.1), stax.Relu(), stax.GlobalAvgPool(),
        stax.Dense(1, W_std=1.0, b_std=0.2))),
    "tokens_flatten": ("tokens", lambda stax: stax.serial(
        stax.Dense(32, W_std=1.5, b_std=0.1), stax.Relu(), stax.Flatten(),
        stax.Dense(1, W_std=1.0, b_std=0.2))),
    "tokens_flatten_standard": ("tokens", lambda stax: stax.serial(
        stax.Dense(32, W_std=1.5, b_std=0.1, parameterization="standard"), stax.Relu(),
        stax.Flatten(), stax.Dense(1, W_std=1.0, b_std=0.2, parameterization="standard"))),
    "attention_inputs": ("tokens", lambda stax: _attention(stax)),
    "attention_softmax": ("tokens", lambda stax: stax.serial(
        stax.Dense(24, W_std=1.2, b_std=0.1), _attention(stax, qk=1.5), stax.Relu(),
        stax.GlobalAvgPool(), stax.Dense(1))),
    "attention_bias": ("tokens", lambda stax: stax.serial(
        stax.Dense(24, W_std=1.2), _attention(stax, b_std=0.3), stax.Erf(), stax.Dense(2))),
    "attention_identity": ("tokens", lambda stax: stax.serial(
        stax.Dense(24), _attention(stax, "IDENTITY", qk=0.6), stax.Relu(), stax.Dense(1))),
    "attention_relu": ("tokens", lambda stax: stax.serial(
        stax.Dense(24), _attention(stax, "RELU", b_std=0.1), stax.Relu(), stax.Flatten(),
        stax.Dense(1))),
    "attention_abs": ("tokens", lambda stax: stax.serial(
        stax.Dense(24, b_std=0.2), _attention(stax, "ABS"), stax.GlobalAvgPool())),
    "layernorm_tokens_channels": ("tokens", lambda stax: stax.serial(
        stax.Dense(24, W_std=1.3, b_std=0.2), stax.LayerNorm(axis=(1, 2)), stax.Relu(),
        stax.Dense(1))),
    "layernorm_batch_channels": ("tokens", lambda stax: stax.serial(
        stax.Dense(24, W_std=1.3, b_std=0.2), stax.LayerNorm(axis=(0, 2)), stax.Relu(),
        stax.Dense(1))),
    "transformer": ("tokens", _transformer),
    "transformer_standard": ("tokens", lambda stax: _transformer(stax, "standard")),
}
ARCHITECTURES.update({f"nonlinearity_{k}": ("flat", lambda stax, f=f: _nonlinearity_mlp(
    stax, f(stax))) for k, f in NONLINEARITIES.items() if not k.startswith("rectified")})
# One hidden layer: NT 0.6.5's RectifiedMonomial gives NaN per-example variances (theta = 0),
# which a second layer would spread; the tests compare the finite entries.
ARCHITECTURES.update({f"nonlinearity_{k}": ("flat", lambda stax, f=f: stax.serial(
    stax.Dense(32, W_std=1.2, b_std=0.2), f(stax), stax.Dense(1, W_std=0.9, b_std=0.1)))
                      for k, f in NONLINEARITIES.items() if k.startswith("rectified")})
ARCHITECTURES.update(IMAGE_ARCHITECTURES)
ARCHITECTURES.update(TOPOLOGY_ARCHITECTURES)
# NT 0.6.5 evaluates these kernels at coincident points (theta = 0: the diagonal of
# kernel_fn(x, None) and the per-example variances cov1 / cov2) through an arccos / sqrt that
# is singular there: RectifiedMonomial gives NaN (or, for the NTK, drops the derivative term),
# Sign amplifies the previous layer's rounding through sqrt to ~1e-4. The tests compare those
# entries with closed forms and every other entry with NT.
SINGULAR_AT_COINCIDENT_POINTS = ("nonlinearity_rectified_monomial_0",
                                 "nonlinearity_rectified_monomial_2",
                                 "nonlinearity_rectified_monomial_3", "nonlinearity_sign")
