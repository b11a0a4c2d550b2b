"""Architectures whose infinite-width kernels are checked against neural-tangents 0.6.5.

Each builder takes a `stax` module (neural-tangents' or `jaxlab.ntk.stax`) and returns the
same network in either library, so the reference script (run with neural-tangents) and the
tests (run with jaxlab) share one definition. `KIND` says which inputs an architecture gets:
'flat' `(N, d)` or 'tokens' `(N, T, d)`.
"""


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
