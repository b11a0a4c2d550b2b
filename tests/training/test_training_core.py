
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxlab import data, models
from jaxlab.training import loop, optim, steps


@pytest.fixture(scope="module")
def digits():
  return data.load("digits", seed=0)


def _mlp(ds, width=32):
  model = models.build("mlp", outputs=10, width=width, depth=1)
  return model, models.init(model, jax.random.key(0), ds.train.x[:1])


def _tree_allclose(a, b, **kw):
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(x, y, **kw)


def test_train_step_is_one_sgd_update(digits):
  model, params = _mlp(digits)
  tx = optax.sgd(0.1)
  loss_fn = steps.classification_loss(model.apply)
  batch = {"x": digits.train.x[:32], "y": digits.train.y[:32]}
  expected_grads = jax.grad(lambda p: loss_fn(p, batch, None)[0])(params)
  expected = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, expected_grads)
  state = steps.TrainState.create(params, tx)
  new_state, metrics = steps.make_train_step(loss_fn, tx)(state, batch, jax.random.key(0))
  assert int(new_state.step) == 1
  _tree_allclose(new_state.params, expected, rtol=1e-5, atol=1e-7)
  logits = model.apply(params, batch["x"])
  np.testing.assert_allclose(
      metrics["loss"], optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean(),
      rtol=1e-5)


def test_label_smoothing_matches_closed_form():
  logits = jnp.array([[2.0, 0.0, -1.0]])
  logp = jax.nn.log_softmax(logits)[0]
  smoothed = -(0.9 + 0.1 / 3) * logp[0] - (0.1 / 3) * (logp[1] + logp[2])
  np.testing.assert_allclose(steps.cross_entropy(logits, jnp.array([0]), 0.1)[0], smoothed,
                             rtol=1e-6)


def test_label_smoothing_may_be_traced():
  logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 1.0, 0.0]])
  labels = jnp.array([0, 2])
  traced = jax.jit(lambda ls: steps.cross_entropy(logits, labels, ls))
  for ls in (0.0, 0.1):
    np.testing.assert_allclose(traced(jnp.float32(ls)), steps.cross_entropy(logits, labels, ls),
                               rtol=1e-6)


def test_checkpoint_metadata_round_trip(tmp_path):
  from jaxlab.training import checkpoint  # pylint: disable=g-import-not-at-top
  tree = {"w": np.arange(3.0, dtype=np.float32)}
  checkpoint.save_pytree(str(tmp_path / "a"), tree, metadata={"lr": 0.01, "epochs": 3})
  assert checkpoint.restore_metadata(str(tmp_path / "a")) == {"lr": 0.01, "epochs": 3}
  np.testing.assert_array_equal(checkpoint.restore_pytree(str(tmp_path / "a"), like=tree)["w"],
                                tree["w"])
  checkpoint.save_pytree(str(tmp_path / "b"), tree)
  assert checkpoint.restore_metadata(str(tmp_path / "b")) == {}
  with pytest.raises(FileNotFoundError):
    checkpoint.restore_metadata(str(tmp_path / "c"))


def test_evaluate_pads_the_last_batch_exactly(digits):
  model, params = _mlp(digits)
  eval_step = steps.make_eval_step(model.apply)
  logits = model.apply(params, digits.val.x)
  expected_acc = np.mean(np.argmax(np.asarray(logits), -1) == digits.val.y)
  expected_loss = float(steps.cross_entropy(logits, digits.val.y).mean())
  for batch_size in (7, 100, 360, 1000):
    out = loop.evaluate(eval_step, params, digits.val, batch_size)
    assert out["acc"] == pytest.approx(expected_acc, abs=1e-9)
    assert out["loss"] == pytest.approx(expected_loss, rel=1e-5)


def test_epoch_order_is_a_seeded_permutation():
  key = jax.random.key(3)
  a = loop.epoch_permutation(key, 0, 50)
  assert sorted(a.tolist()) == list(range(50))
  np.testing.assert_array_equal(a, loop.epoch_permutation(key, 0, 50))
  assert not np.array_equal(a, loop.epoch_permutation(key, 1, 50))
  batches = list(loop.batch_indices(50, 16, a))
  assert [len(b) for b in batches] == [16, 16, 16]  # the remainder is dropped


class _Stop(Exception):
  pass


def _fit(ds, params, tx, loss_fn, checkpoint_dir=None, log_fn=None, mesh=None, epochs=4):
  state = steps.TrainState.create(params, tx)
  return loop.fit(state, steps.make_train_step(loss_fn, tx), ds.train, key=jax.random.key(7),
                  num_epochs=epochs, batch_size=64, checkpoint_dir=checkpoint_dir, log_fn=log_fn,
                  mesh=mesh)


def test_fit_resumes_exactly_after_an_interruption(digits, tmp_path):
  model, params = _mlp(digits)
  tx = optax.adam(1e-3)
  loss_fn = steps.classification_loss(model.apply)
  reference, history = _fit(digits, params, tx, loss_fn)
  assert history[-1]["train_loss"] < history[0]["train_loss"]

  def interrupt(epoch, metrics):
    if epoch == 2:
      raise _Stop()

  with pytest.raises(_Stop):
    _fit(digits, params, tx, loss_fn, str(tmp_path), interrupt)
  resumed, rest = _fit(digits, params, tx, loss_fn, str(tmp_path))
  # The interruption came while epoch 2 was logged, before its checkpoint (the log is written
  # first, so a checkpoint never runs ahead of the metrics): epoch 1 is not run again, 2 is.
  assert [h["epoch"] for h in rest] == [2, 3, 4]
  assert int(resumed.step) == int(reference.step)
  _tree_allclose(resumed.params, reference.params, rtol=0, atol=0)


def test_data_parallel_fit_matches_single_device(digits):
  assert jax.device_count() == 8, "conftest sets 8 CPU devices"
  model, params = _mlp(digits)
  tx = optax.sgd(0.05, momentum=0.9)
  loss_fn = steps.classification_loss(model.apply)
  single, _ = _fit(digits, params, tx, loss_fn, epochs=2)
  mesh = loop.data_parallel_mesh()
  sharded, _ = _fit(digits, params, tx, loss_fn, mesh=mesh, epochs=2)
  leaf = jax.tree_util.tree_leaves(sharded.params)[0]
  assert len(leaf.sharding.device_set) == 8
  _tree_allclose(sharded.params, single.params, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match="multiple of the 8 devices"):
    loop.fit(steps.TrainState.create(params, tx), None, digits.train, key=jax.random.key(0),
             num_epochs=1, batch_size=60, mesh=mesh)


def test_schedules():
  tri = optim.make_schedule("triangular", 1.0, 100)
  assert float(tri(0)) == 0.0 and float(tri(50)) == pytest.approx(1.0)
  assert float(tri(75)) == pytest.approx(0.5) and float(tri(100)) == pytest.approx(0.0)
  wc = optim.make_schedule("warmup_cosine", 2.0, 100, warmup_fraction=0.1)
  assert float(wc(0)) == 0.0 and float(wc(10)) == pytest.approx(2.0)
  assert float(optim.make_schedule("cosine", 1.0, 10)(10)) == pytest.approx(0.0)
  with pytest.raises(ValueError, match="valid schedules"):
    optim.make_schedule("step", 1.0, 10)
  with pytest.raises(ValueError, match="valid optimizers"):
    optim.make_optimizer("lion", 1.0)


def test_sgd_weight_decay_is_l2_on_the_gradient():
  params = {"w": jnp.array([1.0, -2.0])}
  tx = optim.make_optimizer("sgd", 0.1, weight_decay=0.5, momentum=0.0)
  updates, _ = tx.update({"w": jnp.zeros(2)}, tx.init(params), params)
  np.testing.assert_allclose(updates["w"], -0.1 * 0.5 * params["w"])


