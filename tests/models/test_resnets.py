"""PreActResNet and WideResNet: parameter counts equal to the reference definitions (full size
from shapes only, tiny size from a real init), the first-layer normalisation, and BatchNorm's
train / eval modes through the shared train step."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import models
from jaxlab.experiment.config import ConfigError
from jaxlab.models import preact_resnet, wide_resnet
from jaxlab.models.config import ModelConfig
from jaxlab.models.normalization import statistics
from jaxlab.training import steps


def _block(cin, c, stride):
  """Trainable parameters of a pre-activation basic block (BN, conv3x3, BN, conv3x3, and a
  bias-free 1x1 shortcut when the shape changes)."""
  shortcut = cin * c if (stride != 1 or cin != c) else 0
  return 2 * cin + 9 * cin * c + 2 * c + 9 * c * c + shortcut


def _expected_preact(blocks, width, classes, channels=3, final_bn=True):
  total, cin = 9 * channels * width, width
  for stage, n in enumerate(blocks):
    c = width * 2 ** stage
    for i in range(n):
      total += _block(cin, c, 2 if stage and i == 0 else 1)
      cin = c
  return total + (2 * cin if final_bn else 0) + cin * classes + classes


def _expected_wrn(depth, widen, classes, channels=3):
  n, total, cin = (depth - 4) // 6, 9 * channels * 16, 16
  for stage, c in enumerate((16 * widen, 32 * widen, 64 * widen)):
    for i in range(n):
      total += _block(cin, c, 2 if stage and i == 0 else 1)
      cin = c
  return total + 2 * cin + cin * classes + classes


def _shape_count(model, shape=(1, 32, 32, 3)):
  """Trainable parameters from shapes only (no memory is allocated)."""
  variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros(shape))
  return models.num_params(variables["params"])


def test_full_size_counts_are_the_reference_definitions():
  resnet18 = _shape_count(preact_resnet.preact_resnet(18))
  assert resnet18 == 11_172_170 == _expected_preact((2, 2, 2, 2), 64, 10)
  # the common CIFAR PreActResNet-18 without the final BatchNorm (512 scales + 512 shifts)
  assert resnet18 - 2 * 512 == 11_171_146 == _expected_preact((2, 2, 2, 2), 64, 10,
                                                               final_bn=False)
  assert _shape_count(preact_resnet.preact_resnet(34)) == 21_280_330
  assert _shape_count(wide_resnet.wide_resnet(28, widen=10)) == 36_479_194
  assert _shape_count(wide_resnet.wide_resnet(34, widen=10)) == 46_160_474 == _expected_wrn(
      34, 10, 10)


@pytest.mark.parametrize("name, width, depth", [("preact_resnet", 4, 10),
                                                ("preact_resnet", 2, 18),
                                                ("wide_resnet", 1, 10)])
def test_tiny_variants_have_the_counted_parameters(name, width, depth):
  model = models.build(name, outputs=7, width=width, depth=depth)
  if name == "preact_resnet":
    want = _expected_preact(preact_resnet.blocks_for_depth(depth), width, 7, channels=1)
  else:
    want = _expected_wrn(depth, width, 7, channels=1)
  assert _shape_count(model, (2, 8, 8, 1)) == want


def test_depth_and_normalization_errors_name_the_field():
  assert preact_resnet.blocks_for_depth(26) == (3, 3, 3, 3)
  with pytest.raises(ConfigError) as e:
    ModelConfig(name="preact_resnet", depth=12)
  assert e.value.field == "depth"
  with pytest.raises(ConfigError) as e:
    ModelConfig(name="wide_resnet", depth=12)
  assert e.value.field == "depth"
  with pytest.raises(ConfigError) as e:
    ModelConfig(name="mlp", normalization="cifar10")
  assert e.value.field == "normalization"
  with pytest.raises(ValueError, match="unknown normalization"):
    models.build("preact_resnet", outputs=10, normalization="imagenet")


def _numpy_variables(model, x):
  """Variables of `model` drawn with numpy from its shapes (`jax.eval_shape`): BatchNorm at
  scale 1, shift 0, mean 0, variance 1, kernels N(0, 1 / fan_in). Compiling `model.init`
  costs tens of seconds on a busy CPU; the tests need values, not PyTorch's init."""
  rng = np.random.default_rng(0)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)

  def draw(path, s):
    name = jax.tree_util.keystr(path)
    if "scale" in name or "var" in name:
      return jnp.ones(s.shape, s.dtype)
    if "bias" in name or "mean" in name:
      return jnp.zeros(s.shape, s.dtype)
    fan_in = int(np.prod(s.shape[:-1]))
    return jnp.asarray(rng.normal(size=s.shape) / np.sqrt(fan_in), s.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


@pytest.fixture(scope="module")
def tiny_resnet():
  """A PreActResNet-10 of width 4 on 8x8x3 images."""
  model = models.build("preact_resnet", outputs=10, width=4, depth=10)
  x = jax.random.uniform(jax.random.key(1), (16, 8, 8, 3))
  y = jnp.arange(16, dtype=jnp.int32) % 10
  return model, _numpy_variables(model, x), x, y


def _train_apply(model):
  return jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))


def test_init_holds_the_counted_parameters_and_one_mean_and_variance_per_bn_channel(
    tiny_resnet):
  model, variables, x, _ = tiny_resnet
  assert models.num_params(variables["params"]) == _expected_preact((1, 1, 1, 1), 4, 10)
  stats = jax.tree_util.tree_leaves(variables["batch_stats"])
  bn_params = [p for k, p in jax.tree_util.tree_leaves_with_path(variables["params"])
               if "bn" in jax.tree_util.keystr(k)]
  assert sum(s.size for s in stats) == sum(p.size for p in bn_params)
  assert model.apply(variables, x).shape == (16, 10)


def test_normalization_layer_is_per_channel_standardisation(tiny_resnet):
  model, variables, x, _ = tiny_resnet
  mean, std = statistics("cifar10")
  normed = models.build("preact_resnet", outputs=10, width=4, depth=10,
                        normalization="cifar10")
  standardised = (x - jnp.reshape(jnp.asarray(mean), (1, 1, 1, 3))) / jnp.reshape(
      jnp.asarray(std), (1, 1, 1, 3))
  np.testing.assert_allclose(normed.apply(variables, x), model.apply(variables, standardised),
                             rtol=1e-4, atol=1e-5)
  assert float(jnp.max(jnp.abs(normed.apply(variables, x) - model.apply(variables, x)))) > 1e-3


def test_batchnorm_eval_mode_is_per_example_and_train_mode_updates_the_statistics(tiny_resnet):
  model, variables, x, _ = tiny_resnet
  # eval mode: each row is its own (running statistics); train mode: rows see the batch
  eval_apply, train_apply = jax.jit(model.apply), _train_apply(model)
  eval_logits = eval_apply(variables, x)
  np.testing.assert_allclose(eval_apply(variables, x[:4]), eval_logits[:4], rtol=1e-5,
                             atol=1e-6)
  train_logits, updates = train_apply(variables, x)
  train_few, _ = train_apply(variables, x[:4])
  assert float(jnp.max(jnp.abs(train_few - train_logits[:4]))) > 1e-4
  # running averages as PyTorch's BatchNorm2d (momentum 0.1): the first block's BN sees the
  # stem convolution's output
  stem = preact_resnet.conv(4, 3, 1).apply({"params": variables["params"]["stem"]}, x)
  new = updates["batch_stats"]["stage0_block0"]["bn1"]
  np.testing.assert_allclose(new["mean"], 0.1 * jnp.mean(stem, (0, 1, 2)), rtol=1e-4,
                             atol=1e-7)
  np.testing.assert_allclose(new["var"], 0.9 + 0.1 * jnp.var(stem, (0, 1, 2)), rtol=1e-4)
  assert float(jnp.max(jnp.abs(train_logits - eval_logits))) > 1e-3


def test_batchnorm_model_trains_through_the_shared_stateful_step(tiny_resnet):
  model, variables, x, y = tiny_resnet
  tx = optax.adam(1e-2)

  def loss_fn(params, batch, key, batch_stats):
    del key
    logits, updates = model.apply({"params": params, "batch_stats": batch_stats}, batch["x"],
                                  train=True, mutable=["batch_stats"])
    return jnp.mean(steps.cross_entropy(logits, batch["y"])), ({}, updates["batch_stats"])

  state = steps.TrainState.create(variables["params"], tx,
                                  loss_state=variables["batch_stats"])
  step = steps.make_train_step(loss_fn, tx, stateful=True)
  batch = {"x": x, "y": y}
  first = None
  for i in range(15):
    state, metrics = step(state, batch, jax.random.key(i))
    first = float(metrics["loss"]) if first is None else first
  assert int(state.step) == 15
  assert float(metrics["loss"]) < 0.5 * first
  eval_apply = jax.jit(model.apply)

  def eval_loss(batch_stats):
    logits = eval_apply({"params": state.params, "batch_stats": batch_stats}, x)
    return float(jnp.mean(steps.cross_entropy(logits, y)))

  # the running statistics moved towards the batch's: eval mode with them fits the batch
  # better than with the initial ones
  assert eval_loss(state.loss_state) < eval_loss(variables["batch_stats"])
  assert not np.allclose(state.loss_state["bn"]["mean"], variables["batch_stats"]["bn"]["mean"])

