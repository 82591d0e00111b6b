"""Bundled datasets: shapes, labels, seeding and errors."""

from __future__ import annotations

import hashlib
from importlib import resources

import attrs
import numpy as np
import pytest

from nnfunc.datasets import Dataset, dataset_names, describe, load_dataset


def test_names_and_describe_cover_every_dataset():
    names = dataset_names()
    assert names == ("iris", "moons", "xor", "or", "sum", "arithmetic")
    rows = {row["name"]: row for row in describe()}
    assert set(rows) == set(names)
    assert rows["iris"]["n_samples"] == 150 and rows["iris"]["n_features"] == 4
    assert rows["arithmetic"]["task"] == "regress"
    assert all(row["description"] for row in rows.values())


def test_iris_has_150_rows_and_three_balanced_classes():
    data = load_dataset("iris")
    assert data.X.shape == (150, 4) and data.X.dtype == np.float64
    assert data.feature_names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert data.target_names == ("species",) and data.task == "classify"
    classes, counts = np.unique(data.y, return_counts=True)
    assert classes.tolist() == ["setosa", "versicolor", "virginica"]
    assert counts.tolist() == [50, 50, 50]
    np.testing.assert_allclose(data.X[0], [5.1, 3.5, 1.4, 0.2])


def test_iris_sha256_is_that_of_the_file_bytes():
    raw = (resources.files("nnfunc") / "data" / "iris.csv").read_bytes()
    assert load_dataset("iris").sha256 == hashlib.sha256(raw).hexdigest()


def test_iris_matches_scikit_learn():
    sk_datasets = pytest.importorskip("sklearn.datasets")
    sk = sk_datasets.load_iris()
    data = load_dataset("iris")
    np.testing.assert_array_equal(data.X, sk.data)
    np.testing.assert_array_equal(data.y, sk.target_names[sk.target])


def test_dataset_arrays_are_read_only():
    data = load_dataset("moons", n_samples=50)
    with pytest.raises(ValueError, match="read-only"):
        data.X[0, 0] = 1.0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        data.name = "other"


def test_same_seed_gives_identical_data_and_other_seed_differs():
    for name in ("moons", "sum", "arithmetic"):
        a, b = load_dataset(name, seed=3), load_dataset(name, seed=3)
        assert a == b and a.sha256 == b.sha256
        c = load_dataset(name, seed=4)
        assert not np.array_equal(a.X, c.X) and a.sha256 != c.sha256


def test_moons_is_balanced_noisy_and_two_moon_shaped():
    data = load_dataset("moons", seed=0)
    assert data.X.shape == (5000, 2) and data.y.dtype == np.int64
    assert np.bincount(data.y).tolist() == [2500, 2500]
    clean = load_dataset("moons", seed=0, noise=0.0)
    outer = clean.X[clean.y == 0]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    inner = clean.X[clean.y == 1]
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0)
    # Noise of 0.1 moves outer points off the unit circle by about that much.
    radial = np.hypot(*data.X[data.y == 0].T) - 1.0
    assert 0.05 < radial.std() < 0.15
    # Rows are shuffled, not all of one class first.
    assert 0 < data.y[:100].sum() < 100


def test_moons_options():
    assert load_dataset("moons", n_samples=101).X.shape == (101, 2)
    with pytest.raises(ValueError, match="noise"):
        load_dataset("moons", noise=-1.0)
    with pytest.raises(ValueError, match="n_samples"):
        load_dataset("moons", n_samples=0)


def test_truth_tables():
    xor, or_ = load_dataset("xor"), load_dataset("or")
    expected_X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    for data in (xor, or_):
        np.testing.assert_array_equal(data.X, expected_X)
        assert data.feature_names == ("a", "b") and data.task == "classify"
    assert xor.y.tolist() == [0, 1, 1, 0]
    assert or_.y.tolist() == [0, 1, 1, 1]


def test_sum_regression_targets():
    data = load_dataset("sum", seed=1)
    assert data.X.shape == (1000, 2) and data.y.shape == (1000, 1)
    assert data.task == "regress" and data.target_names == ("sum",)
    assert data.X.min() >= 0.0 and data.X.max() <= 1.0
    np.testing.assert_allclose(data.y[:, 0], data.X[:, 0] + data.X[:, 1])


def test_arithmetic_targets():
    data = load_dataset("arithmetic", n_samples=300)
    a, b = data.X.T
    assert data.y.shape == (300, 3)
    assert data.target_names == ("sum", "difference", "absolute_difference")
    assert data.X.min() >= 0.0 and data.X.max() < 100.0
    np.testing.assert_allclose(data.y, np.column_stack([a + b, a - b, np.abs(a - b)]))
    assert load_dataset("arithmetic").n_samples == 2000


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*iris, moons, xor, or, sum"):
        load_dataset("mnist")


def test_unknown_option_is_refused():
    with pytest.raises(ValueError, match="noise.*valid options: none"):
        load_dataset("iris", noise=0.2)
    with pytest.raises(ValueError, match="noize.*valid options: n_samples, noise"):
        load_dataset("moons", noize=0.2)


def test_dataset_record_refuses_inconsistent_fields():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="task"):
        Dataset(X, np.zeros(3, np.int64), ("a", "b"), ("y",), "cluster", "d", "0")
    with pytest.raises(ValueError, match="rows"):
        Dataset(X, np.zeros(4, np.int64), ("a", "b"), ("y",), "classify", "d", "0")
    with pytest.raises(ValueError, match="feature names"):
        Dataset(X, np.zeros(3, np.int64), ("a",), ("y",), "classify", "d", "0")
    with pytest.raises(ValueError, match="regression"):
        Dataset(X, np.zeros(3), ("a", "b"), ("y",), "regress", "d", "0")


def test_a_dataset_from_your_own_arrays():
    from nnfunc.datasets import Dataset

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    labels = Dataset.from_arrays(X, np.array(["b", "a"] * 20, dtype=object))
    assert labels.task == "classify" and labels.y.dtype.kind == "U"
    assert labels.X.dtype == np.float64 and labels.feature_names == ("x0", "x1", "x2")
    assert Dataset.from_arrays(X, np.arange(40) % 3 * 1.0).y.dtype == np.int64  # whole: labels
    values = Dataset.from_arrays(X, rng.normal(size=40))
    assert values.task == "regress" and values.y.shape == (40, 1) and values.target_names == ("y",)
    two = Dataset.from_arrays(X, rng.normal(size=(40, 2)), feature_names=["a", "b", "c"])
    assert two.target_names == ("y0", "y1") and two.feature_names == ("a", "b", "c")
    assert two.sha256 == Dataset.from_arrays(X, two.y, feature_names=["a", "b", "c"]).sha256
    with pytest.raises(ValueError, match="X must be 2-D"):
        Dataset.from_arrays(X[:, 0], values.y)


def test_from_arrays_reads_labels_and_names_as_a_csv_file_would():
    from nnfunc.datasets import Dataset

    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    # whole numbers past 2**53 are values, not labels (1e19 overflowed int64 as a label)
    assert Dataset.from_arrays(X, np.array([0.0, 1e19] * 20)).task == "regress"
    assert Dataset.from_arrays(X, np.arange(40).astype(object)).task == "regress"  # 40 values
    assert Dataset.from_arrays(X, (np.arange(40) % 2).reshape(-1, 1)).y.shape == (40,)
    refusals = [
        ({"feature_names": ["a", "a"]}, "'a' appears more than once"),
        ({"feature_names": "ab"}, "a list of names"),
        ({"feature_names": [1, 2]}, "must be strings"),
        ({"feature_names": ["a", "b"], "target_names": ["a"]}, "both a feature and a target"),
    ]
    for options, message in refusals:
        with pytest.raises((TypeError, ValueError), match=message):
            Dataset.from_arrays(X, np.arange(40) % 2, **options)
    holed = X.copy()
    holed[3, 1] = np.nan
    with pytest.raises(ValueError, match="column 'x1' holds NaN"):
        Dataset.from_arrays(holed, np.arange(40) % 2)
    with pytest.raises(ValueError, match="whole numbers below 2"):
        Dataset.from_arrays(X, np.full(40, 0.5), task="classify")
