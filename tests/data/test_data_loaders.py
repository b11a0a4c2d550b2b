import collections
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import datasets as sk_datasets

from jaxlab import data
from jaxlab.data import augment, synthetic


def _rows(split):
  return sorted(map(bytes, np.ascontiguousarray(split.x.reshape(len(split), -1))))


def test_digits_sizes_ranges_and_partition():
  ds = data.load("digits", seed=0)
  assert (len(ds.train), len(ds.val), len(ds.test)) == (1077, 360, 360)
  assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
  for s in (ds.train, ds.val, ds.test):
    assert s.x.dtype == np.float32 and s.y.dtype == np.int32
    assert s.x.min() >= 0.0 and s.x.max() <= 1.0
  # The three splits are a partition of the 1,797 images (as a multiset of rows).
  raw = sk_datasets.load_digits()
  full = sorted(map(bytes, (raw.images / 16.0).astype(np.float32).reshape(1797, -1)))
  assert sorted(_rows(ds.train) + _rows(ds.val) + _rows(ds.test)) == full


def test_digits_split_is_stratified_and_seeded():
  a, b, c = data.load("digits", seed=3), data.load("digits", seed=3), data.load("digits", seed=4)
  np.testing.assert_array_equal(a.train.x, b.train.x)
  np.testing.assert_array_equal(a.test.y, b.test.y)
  assert not np.array_equal(a.train.y, c.train.y)
  overall = np.bincount(sk_datasets.load_digits().target) / 1797
  for split in (a.train, a.val, a.test):
    np.testing.assert_allclose(np.bincount(split.y, minlength=10) / len(split), overall,
                               atol=2.0 / len(split))


def test_digits_resize_keeps_range_and_mean():
  small, big = data.load("digits"), data.load("digits", image_size=16)
  assert big.input_shape == (16, 16, 1)
  assert 0.0 <= big.train.x.min() and big.train.x.max() <= 1.0
  # Bilinear upsampling keeps the average intensity of each image to within a few percent.
  np.testing.assert_allclose(big.train.x.mean(axis=(1, 2, 3)), small.train.x.mean(axis=(1, 2, 3)),
                             atol=0.03)


def test_digits_input_noise_is_fixed_seeded_and_clipped():
  clean, noisy = data.load("digits", seed=3), data.load("digits", seed=3, noise_std=0.4)
  np.testing.assert_array_equal(clean.train.y, noisy.train.y)  # same split
  assert 0.0 <= noisy.train.x.min() and noisy.train.x.max() <= 1.0
  diff = noisy.test.x - clean.test.x
  assert 0.2 < float(np.std(diff)) < 0.4  # clipping shrinks the 0.4 noise a little
  np.testing.assert_array_equal(noisy.test.x, data.load("digits", seed=3, noise_std=0.4).test.x)
  with pytest.raises(ValueError, match="noise_std"):
    data.load("digits", noise_std=-1.0)


def test_augmentations_are_identities_at_zero_strength_and_keyed():
  key = jax.random.key(0)
  x = jax.random.uniform(key, (4, 6, 6, 1))
  y = jnp.arange(4)
  np.testing.assert_array_equal(augment.random_shift(key, x, jnp.int32(0), pad=2), x)
  np.testing.assert_array_equal(augment.gaussian_noise(key, x, 0.0), x)
  mixed, y_mix, lam = augment.mixup(key, x, y, jnp.float32(0.0))
  assert float(lam) == 1.0
  np.testing.assert_array_equal(mixed, x)
  assert sorted(np.asarray(y_mix).tolist()) == [0, 1, 2, 3]
  # A single bright pixel in the middle moves by at most `max_shift` in each axis.
  img = jnp.zeros((64, 7, 7, 1)).at[:, 3, 3, 0].set(1.0)
  moved = augment.random_shift(jax.random.key(1), img, 2)
  rows, cols = np.nonzero(np.asarray(moved[..., 0]).reshape(64, 7, 7).sum(0))
  assert rows.min() >= 1 and rows.max() <= 5 and cols.min() >= 1 and cols.max() <= 5
  np.testing.assert_allclose(np.asarray(moved).sum(axis=(1, 2, 3)), 1.0)  # nothing falls off
  assert len({tuple(np.argwhere(np.asarray(m[..., 0]))[0]) for m in moved}) > 10
  # Mixup: lam in (0, 1), a convex combination of the batch and its permutation.
  mixed, y_mix, lam = jax.jit(augment.mixup)(jax.random.key(2), x, y, jnp.float32(0.4))
  assert 0.0 < float(lam) < 1.0
  perm = np.asarray(y_mix)
  np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[perm], rtol=1e-6)
  noisy = jax.jit(augment.gaussian_noise)(key, x, jnp.float32(0.1))
  assert 0.07 < float(jnp.std(noisy - x)) < 0.13


def test_tweets_binary_balanced_disjoint():
  ds = data.load("tweets", seed=0)
  assert ds.class_names == ("negative", "positive") and ds.num_classes == 2
  for split in (ds.train, ds.val, ds.test):
    assert split.x.dtype == object and isinstance(split.x[0], str)
    counts = np.bincount(split.y, minlength=2)
    assert abs(counts[0] - counts[1]) <= 1
  texts = [set(s.x) for s in (ds.train, ds.val, ds.test)]
  assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
  assert len(ds.train) > 5000


def test_tweets_three_class_counts():
  ds = data.load("tweets", task="three_class", balance=False, seed=1)
  counts = collections.Counter(np.concatenate([ds.train.y, ds.val.y, ds.test.y]).tolist())
  # After merging duplicates and dropping conflicting labels (see jaxlab.data.tweets).
  assert counts[0] > counts[1] > counts[2] > 6000
  with pytest.raises(ValueError, match="task"):
    data.load("tweets", task="five_class")


def test_sphere_and_teacher():
  x = synthetic.sphere(jax.random.key(0), 100, 7)
  np.testing.assert_allclose(jnp.linalg.norm(x, axis=-1), 1.0, rtol=1e-6)
  teacher = synthetic.relu_teacher(jax.random.key(1), 7, units=3)
  np.testing.assert_allclose(jnp.linalg.norm(teacher.w, axis=-1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(jnp.sum(jnp.abs(teacher.a)), 1.0, rtol=1e-6)
  reg = synthetic.teacher_student(jax.random.key(2), 5000, teacher, noise_std=0.5)
  np.testing.assert_allclose(reg.y_clean, synthetic.relu_teacher_apply(teacher, reg.x))
  assert abs(float(jnp.std(reg.y - reg.y_clean)) - 0.5) < 0.02


def test_generators_jit_and_vmap_over_keys():
  keys = jax.random.split(jax.random.key(0), 4)
  xs = jax.jit(jax.vmap(lambda k: synthetic.sphere(k, 16, 3)))(keys)
  assert xs.shape == (4, 16, 3)
  assert not np.allclose(xs[0], xs[1])
  x, y = jax.vmap(lambda k: synthetic.gaussian_mixture(k, 32, 5))(keys)
  assert x.shape == (4, 32, 5) and y.shape == (4, 32) and y.dtype == jnp.int32


def test_gaussian_mixture_labels_follow_clusters():
  x, y = synthetic.gaussian_mixture(jax.random.key(0), 4000, 10, num_classes=2, num_clusters=4,
                                    separation=10.0, noise_std=0.1)
  centres = 10.0 * synthetic.sphere(jax.random.fold_in(jax.random.key(0), 0), 4, 10)
  nearest = jnp.argmin(jnp.linalg.norm(x[:, None, :] - centres[None], axis=-1), axis=1)
  np.testing.assert_array_equal(nearest % 2, y)
  assert set(np.unique(np.asarray(nearest)).tolist()) == {0, 1, 2, 3}


def test_synthetic_datasets_through_load():
  reg = data.load("teacher_student", n=500, d=4, seed=0)
  assert reg.num_classes is None and reg.input_shape == (4,)
  assert len(reg.train) + len(reg.val) + len(reg.test) == 500
  clf = data.load("gaussian_mixture", n=300, d=6, seed=0)
  assert clf.num_classes == 2 and clf.train.y.dtype == np.int32


def test_bad_names_and_options_are_explained():
  with pytest.raises(ValueError, match="valid datasets: digits"):
    data.load("cifar11")
  with pytest.raises(TypeError, match="image_size"):
    data.load("tweets", image_size=4)
  with pytest.raises(ValueError, match="data_dir is only used"):
    data.load("digits", data_dir="/tmp")


def test_tfds_needs_an_existing_prepared_data_dir(tmp_path):
  with pytest.raises(ValueError, match="needs data_dir"):
    data.load("tfds:mnist")
  missing = str(tmp_path / "nope")
  with pytest.raises(FileNotFoundError, match="does not exist.*tfds build mnist"):
    data.load("tfds:mnist", data_dir=missing)
  with pytest.raises(FileNotFoundError, match="is empty"):
    data.load("tfds:mnist", data_dir=str(tmp_path))
  (tmp_path / "something_else").mkdir()
  with pytest.raises(FileNotFoundError, match="not prepared in data_dir"):
    data.load("tfds:mnist", data_dir=str(tmp_path))


def test_tfds_mock_data_source(tmp_path):
  tfds = pytest.importorskip("tensorflow_datasets")
  (tmp_path / "mnist").mkdir()
  with tfds.testing.mock_data(num_examples=50, policy=tfds.testing.MockPolicy.USE_CODE):
    ds = data.load("tfds:mnist", data_dir=str(tmp_path), seed=0, val_fraction=0.2)
    again = data.load("tfds:mnist", data_dir=str(tmp_path), seed=0, val_fraction=0.2)
  assert ds.name == "tfds:mnist" and ds.num_classes == 10
  assert ds.input_shape == (28, 28, 1) and ds.train.x.dtype == np.float32
  assert (len(ds.train), len(ds.val), len(ds.test)) == (40, 10, 50)
  assert 0.0 <= ds.train.x.min() and ds.train.x.max() <= 1.0
  np.testing.assert_array_equal(ds.train.x, again.train.x)
  assert "tensorflow" not in sys.modules  # the data_source path needs no TensorFlow
