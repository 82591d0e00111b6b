"""Metrics, cross-checked against scikit-learn where it is installed."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from nnfunc.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_f1,
    r2_score,
    regression_report,
)

Y_TRUE = np.array([0, 1, 2, 2, 1, 0, 2, 1, 1, 0])
Y_PRED = np.array([0, 2, 2, 2, 1, 0, 1, 1, 0, 0])


def test_accuracy_and_confusion_matrix():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.7)
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == [[3, 0, 0], [1, 2, 1], [0, 1, 2]]
    assert cm.sum() == len(Y_TRUE)
    assert confusion_matrix([0], [0], 4).shape == (4, 4)


def test_classification_metrics_match_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    np.testing.assert_array_equal(confusion_matrix(t, p, 4), sk.confusion_matrix(t, p))
    ours = precision_recall_f1(t, p, 4)
    theirs = sk.precision_recall_fscore_support(t, p, labels=range(4), zero_division=0)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b)
    assert accuracy(t, p) == pytest.approx(sk.accuracy_score(t, p))


def test_zero_division_gives_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = precision_recall_f1([0, 0, 1], [0, 0, 0], 3)
    assert scores.precision.tolist() == [pytest.approx(2 / 3), 0.0, 0.0]
    assert scores.recall.tolist() == [1.0, 0.0, 0.0]
    assert scores.f1[1] == 0.0 and scores.f1[2] == 0.0
    assert scores.support.tolist() == [2, 1, 0]


def test_codes_are_validated():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="equal length"):
        accuracy([0, 1], [0])


def test_regression_metrics_match_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    t = rng.normal(size=(40, 3))
    p = t + rng.normal(scale=0.5, size=(40, 3))
    assert mean_squared_error(t, p) == pytest.approx(sk.mean_squared_error(t, p))
    assert mean_absolute_error(t, p) == pytest.approx(sk.mean_absolute_error(t, p))
    assert r2_score(t, p) == pytest.approx(sk.r2_score(t, p))
    np.testing.assert_allclose(
        r2_score(t, p, per_output=True), sk.r2_score(t, p, multioutput="raw_values")
    )
    np.testing.assert_allclose(
        mean_squared_error(t, p, per_output=True),
        sk.mean_squared_error(t, p, multioutput="raw_values"),
    )
    assert r2_score(t[:, 0], p[:, 0]) == pytest.approx(sk.r2_score(t[:, 0], p[:, 0]))


def test_r2_on_constant_target():
    t = np.column_stack([np.full(5, 2.0), np.arange(5.0)])
    assert r2_score(t, t, per_output=True).tolist() == [1.0, 1.0]
    p = t + np.array([0.5, 0.0])
    assert r2_score(p, p) == 1.0
    assert r2_score(t, p, per_output=True).tolist() == [0.0, 1.0]
    assert r2_score(t, p) == 0.5


def test_simple_regression_values():
    assert mean_squared_error([1.0, 2.0], [1.0, 4.0]) == 2.0
    assert mean_absolute_error([1.0, 2.0], [1.0, 4.0]) == 1.0
    assert isinstance(r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 2.0]), float)


def test_classification_report_is_json_ready():
    report = classification_report(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert json.loads(json.dumps(report)) == report
    assert report["accuracy"] == pytest.approx(0.7)
    assert report["per_class"]["a"] == {
        "precision": 0.75,
        "recall": 1.0,
        "f1": pytest.approx(6 / 7),
        "support": 3,
    }
    assert report["confusion_matrix"] == [[3, 0, 0], [1, 2, 1], [0, 1, 2]]
    assert report["n_samples"] == 10
    assert set(report["macro"]) == {"precision", "recall", "f1"}


def test_classification_report_averages_match_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    report = classification_report(Y_TRUE, Y_PRED, ["a", "b", "c"])
    theirs = sk.classification_report(Y_TRUE, Y_PRED, output_dict=True, zero_division=0)
    for ours_key, sk_key in (("macro", "macro avg"), ("weighted", "weighted avg")):
        assert report[ours_key]["precision"] == pytest.approx(theirs[sk_key]["precision"])
        assert report[ours_key]["recall"] == pytest.approx(theirs[sk_key]["recall"])
        assert report[ours_key]["f1"] == pytest.approx(theirs[sk_key]["f1-score"])


def test_regression_report():
    t = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    p = t + np.array([[0.0, 1.0], [0.0, -1.0], [0.0, 1.0]])
    report = regression_report(t, p, ["s", "d"])
    assert json.loads(json.dumps(report)) == report
    assert report["per_target"]["s"] == {"mse": 0.0, "rmse": 0.0, "mae": 0.0, "r2": 1.0}
    assert report["per_target"]["d"]["mse"] == pytest.approx(1.0)
    assert report["mse"] == pytest.approx(0.5)
    assert report["n_samples"] == 3
    assert set(regression_report(t[:, 0], p[:, 0])["per_target"]) == {"y0"}
    with pytest.raises(ValueError, match="target names"):
        regression_report(t, p, ["only"])


def test_macro_averages_take_the_classes_present_as_scikit_learn_does():
    sk = pytest.importorskip("sklearn.metrics")
    for y_true, y_pred in (([1, 1, 1], [1, 1, 1]), ([1, 1, 0], [1, 2, 0]), ([2, 2], [0, 0])):
        report = classification_report(y_true, y_pred, ["a", "b", "c", "d"])
        theirs = sk.classification_report(y_true, y_pred, output_dict=True, zero_division=0)
        assert report["macro"]["f1"] == pytest.approx(theirs["macro avg"]["f1-score"])
        assert report["macro"]["recall"] == pytest.approx(theirs["macro avg"]["recall"])
        assert set(report["per_class"]) == {"a", "b", "c", "d"}  # every model class is listed
    assert classification_report([1, 1], [1, 1], ["a", "b", "c"])["macro"]["f1"] == 1.0


def test_metrics_at_extremes_and_unsigned_codes():
    codes = np.array([0, 1, 1], np.uint64)
    assert confusion_matrix(codes, codes, 2).tolist() == [[1, 0], [0, 2]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mean_absolute_error([1.7e308], [-1.7e308]) == np.inf
        t, p = np.array([1e200, 2e200, 3e200]), np.array([1.1e200, 2e200, 2.9e200])
        assert r2_score(t, p) == pytest.approx(0.99)
        # values near 1e-300 square to 0 unscaled
        assert r2_score(t / 1e200 * 1e-300, p / 1e200 * 1e-300) == pytest.approx(0.99)


def test_one_target_as_n_or_n_by_1_compares():
    # a regressor predicts (n, 1) for one target; (n,) against it was refused
    y, p = np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.5], [2.5]])
    assert r2_score(y, p) == r2_score(y, p[:, 0])
    assert mean_squared_error(p, y) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="different numbers of outputs"):
        r2_score(np.ones((3, 2)), np.ones(3))
