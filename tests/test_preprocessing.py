"""Scaling, label encoding, one-hot codes and seeded (stratified) splits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nnfunc.preprocessing import (
    LabelEncoder,
    StandardScaler,
    check_scaler,
    decode_labels,
    encode_labels,
    fit_labels,
    fit_scaler,
    input_limit,
    one_hot,
    output_limit,
    scale,
    train_test_split,
    unscale,
)


def test_scaler_standardises_and_inverts():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(200, 3))
    scaler = fit_scaler(X)
    Z = scale(scaler, X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)
    np.testing.assert_allclose(unscale(scaler, Z), X)


def test_scaler_matches_scikit_learn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    X = np.random.default_rng(1).uniform(-4, 9, size=(50, 4))
    sk = preprocessing.StandardScaler().fit(X)
    ours = fit_scaler(X)
    np.testing.assert_allclose(ours.mean, sk.mean_)
    np.testing.assert_allclose(ours.scale, sk.scale_)
    np.testing.assert_allclose(scale(ours, X), sk.transform(X))


def test_constant_column_gets_scale_one():
    X = np.column_stack([np.full(10, 0.1), np.arange(10.0)])
    scaler = fit_scaler(X)
    assert scaler.scale[0] == 1.0
    Z = scale(scaler, X)
    np.testing.assert_allclose(Z[:, 0], 0.0, atol=1e-15)
    assert np.isfinite(Z).all()


def test_a_column_constant_to_within_rounding_gets_scale_one():
    # 0.1 + 0.2 among 0.3s had scale 4.8e-17: one ulp became a full feature, and 0.31 mapped to 2e14
    scaler = fit_scaler([[0.1 + 0.2], [0.3], [0.3], [0.3]])
    assert scaler.scale.tolist() == [1.0]
    assert abs(scale(scaler, [[0.31]])[0, 0]) < 0.1


def test_huge_columns_get_their_true_spread_without_warnings():
    X = np.array([[1e300], [-1e300], [5e299]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = fit_scaler(X)
    assert scaler.scale[0] == pytest.approx(np.std(X / 1e300) * 1e300, rel=1e-12)
    assert scaler.mean[0] == pytest.approx(5e299 / 3, rel=1e-12)


def test_float32_stays_float32():
    X = np.random.default_rng(2).normal(size=(20, 2)).astype(np.float32)
    scaler = fit_scaler(X)
    Z = scale(scaler, X)
    assert Z.dtype == np.float32
    assert unscale(scaler, Z).dtype == np.float32
    assert scale(scaler, X.astype(np.float64)).dtype == np.float64


def test_scaler_is_a_read_only_value():
    scaler = fit_scaler([[1.0, 2.0], [3.0, 5.0]])
    assert scaler == fit_scaler([[1.0, 2.0], [3.0, 5.0]])
    assert scaler != fit_scaler([[1.0, 2.0], [3.0, 6.0]])
    with pytest.raises(ValueError, match="read-only"):
        scaler.mean[0] = 0.0
    assert isinstance(scaler, StandardScaler)


def test_scaler_errors():
    scaler = fit_scaler(np.ones((3, 2)))
    with pytest.raises(ValueError, match="fitted on 2 features, got 3"):
        scale(scaler, np.ones((3, 3)))
    with pytest.raises(ValueError, match="2-D"):
        fit_scaler(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        fit_scaler([[1.0], [np.nan]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("magnitude", [1e-30, 1e-3, 1.0, 1e6, 1e15])
def test_scalers_fitted_on_data_pass_the_bounds_and_keep_their_promise(dtype, magnitude):
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(magnitude, magnitude / 7, 30), np.full(30, -magnitude)])
    scaler = fit_scaler(X.astype(dtype))
    check_scaler(scaler, dtype)
    limit = input_limit(scaler, dtype)
    assert limit >= np.abs(X).max()  # the training data's magnitude is always covered
    edge = np.array([[limit, -limit], [-limit, limit]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning at the promised edge
        assert np.isfinite(scale(scaler, edge)).all()
        z = output_limit(scaler, dtype)
        assert np.isfinite(unscale(scaler, np.array([[z, -z]], dtype))).all()


@pytest.mark.parametrize(
    ("mean", "scale_", "dtype", "message"),
    [
        (0.0, 1e-320, np.float64, r"scale\[1\]: 9.99989e-321 is not a normal float64"),
        (0.0, 1e-39, np.float32, r"scale\[1\]: 1e-39 is not a normal float32"),
        (0.0, 1e39, np.float32, r"scale\[1\]: 1e\+39 is not a normal float32"),
        (-1.7e308, 1.0, np.float64, r"mean\[1\]: -1.7e\+308 is too large for scale 1 "),
        (5.0, 1e-307, np.float64, r"mean\[1\]: 5 is too large for scale 1e-307"),
    ],
)
def test_scalers_whose_scaling_overflows_ordinary_inputs_are_refused(mean, scale_, dtype, message):
    scaler = StandardScaler(np.array([0.0, mean]), np.array([1.0, scale_]))
    with pytest.raises(ValueError, match=message):
        check_scaler(scaler, dtype)


def test_labels_round_trip_strings_and_ints():
    y = np.array(["b", "a", "c", "a"])
    encoder = fit_labels(y)
    assert encoder.classes == ("a", "b", "c")
    assert all(type(c) is str for c in encoder.classes)
    codes = encode_labels(encoder, y)
    assert codes.dtype == np.int64 and codes.tolist() == [1, 0, 2, 0]
    assert decode_labels(encoder, codes).tolist() == y.tolist()
    ints = fit_labels(np.array([3, 1, 3, 7]))
    assert ints.classes == (1, 3, 7) and all(type(c) is int for c in ints.classes)
    assert encode_labels(ints, [7, 1]).tolist() == [2, 0]
    assert decode_labels(ints, [2, 0]).tolist() == [7, 1]
    assert ints == LabelEncoder((1, 3, 7))


def test_unknown_labels_are_named():
    encoder = fit_labels(["cat", "dog"])
    with pytest.raises(ValueError, match="unknown label.*'emu'.*'fox'"):
        encode_labels(encoder, ["cat", "fox", "emu"])
    with pytest.raises(ValueError, match="unknown label.*5"):
        encode_labels(encoder, [5])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        decode_labels(encoder, [2])


def test_one_hot():
    out = one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert out.dtype == np.float64
    assert one_hot(np.array([1]), 2, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError):
        one_hot(np.array([3]), 3)


def test_split_is_seeded_and_partitions_rows():
    X = np.arange(100.0).reshape(50, 2)
    y = np.arange(50)
    a = train_test_split(X, y, test_size=0.2, rng=7)
    b = train_test_split(X, y, test_size=0.2, rng=np.random.default_rng(7))
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)
    X_train, X_test, y_train, y_test = a
    assert len(X_test) == 10 and len(X_train) == 40
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(50))
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)
    c = train_test_split(X, y, test_size=0.2, rng=8)
    assert not np.array_equal(a[3], c[3])


def test_stratified_split_keeps_proportions():
    y = np.repeat(np.array(["a", "b", "c"]), [60, 30, 10])
    X = np.arange(100.0)[:, None]
    _, _, y_train, y_test = train_test_split(X, y, test_size=0.3, rng=0, stratify=True)
    counts = dict(zip(*np.unique(y_test, return_counts=True), strict=True))
    assert counts == {"a": 18, "b": 9, "c": 3}
    assert len(y_train) == 70
    # Test rows are shuffled, not grouped by class.
    assert len(set(y_test[:10].tolist())) > 1


def test_stratified_split_keeps_its_size_and_the_class_mix():
    # one test row forced in for every class of two rows had grown this 10% split to 125 rows,
    # half of them from those classes; now, as scikit-learn's, each class has its share
    y = np.concatenate(
        [np.repeat([0, 1, 2, 3], [300, 200, 100, 50]), np.repeat(np.arange(4, 64), 2)]
    )
    X = np.zeros((len(y), 1))
    _, _, y_train, y_test = train_test_split(X, y, test_size=0.1, rng=0, stratify=True)
    assert len(y_test) == 77 and np.bincount(y_test)[:4].tolist() == [30, 20, 10, 5]
    assert np.bincount(y_train, minlength=64).min() >= 1  # every class keeps a training row
    small = np.array([0] * 20 + [1] * 2 + [2] * 3 + [3])
    _, _, y_train, y_test = train_test_split(
        small[:, None], small, test_size=0.1, rng=1, stratify=True
    )
    assert len(y_test) == 3 and 3 in y_train.tolist()  # the singleton class stays in train


def test_split_validation():
    X, y = np.zeros((10, 1)), np.zeros(10)
    for bad in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="test_size"):
            train_test_split(X, y, test_size=bad, rng=0)
    with pytest.raises(ValueError, match="both must be non-empty"):
        train_test_split(X[:1], y[:1], test_size=0.5, rng=0)
    with pytest.raises(ValueError, match="rows"):
        train_test_split(X, y[:5], test_size=0.5, rng=0)


def test_labels_from_object_arrays_and_bytes():
    # pandas gives object arrays of str; they were called "not strings or integers"
    encoder = fit_labels(np.array(["b", "a", "b"], dtype=object))
    assert encoder.classes == ("a", "b")
    assert encode_labels(encoder, np.array(["a", "b"], dtype=object)).tolist() == [0, 1]
    assert fit_labels(np.array([3, 1], dtype=object)).classes == (1, 3)
    with pytest.raises(ValueError, match="strings, integers or booleans"):
        fit_labels(np.array([b"no", b"yes"]))  # a model file could not store bytes labels


def test_train_test_split_takes_no_global_generator_and_a_number_for_test_size():
    X, y = np.ones((10, 2)), np.zeros(10)
    with pytest.raises(TypeError, match="there is no global RNG"):
        train_test_split(X, y, test_size=0.2, rng=None)
    with pytest.raises(TypeError, match="test_size must be a number, got str"):
        train_test_split(X, y, test_size="0.2", rng=0)
