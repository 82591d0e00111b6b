"""The Model record: consistency checks and predictions on raw, unscaled rows."""

import attrs
import numpy as np
import pytest

from nnfunc.datasets import load_dataset
from nnfunc.model import (
    Model,
    predict,
    predict_codes,
    predict_proba,
    predict_values,
    predict_with_proba,
)
from nnfunc.network import forward
from nnfunc.pipeline import RECIPES, train_model
from nnfunc.preprocessing import LabelEncoder, scale, unscale


@pytest.fixture(scope="module")
def iris():
    return train_model(load_dataset("iris"), RECIPES["iris"])


@pytest.fixture(scope="module")
def arithmetic():
    return train_model(load_dataset("arithmetic"), attrs.evolve(RECIPES["arithmetic"], epochs=20))


def test_classifier_predicts_labels_from_raw_rows(iris):
    data = load_dataset("iris")
    labels = predict(iris, data.X)
    assert set(labels) <= {"setosa", "versicolor", "virginica"}
    assert np.mean(labels == data.y) > 0.9
    p = predict_proba(iris, data.X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.asarray(iris.classes)[p.argmax(axis=1)], labels)
    manual = forward(iris.spec, iris.params, scale(iris.feature_scaler, data.X))
    np.testing.assert_array_equal(p, manual)
    assert predict(iris, data.X[0]).shape == (1,)


def test_regressor_answers_in_original_units(arithmetic):
    X = np.array([[10.0, 20.0], [90.0, 5.0]])
    values = predict_values(arithmetic, X)
    assert values.shape == (2, 3)
    net = forward(arithmetic.spec, arithmetic.params, scale(arithmetic.feature_scaler, X))
    np.testing.assert_array_equal(values, unscale(arithmetic.target_scaler, net))
    np.testing.assert_allclose(values[:, 0], X.sum(axis=1), rtol=0.2)
    with pytest.raises(ValueError, match="needs a classifier"):
        predict_proba(arithmetic, X)


def test_wrong_width_is_a_clear_error(iris):
    with pytest.raises(ValueError, match="rows of 4 feature"):
        predict(iris, np.ones((2, 3)))
    with pytest.raises(ValueError, match="needs a regressor"):
        predict_values(iris, np.ones((1, 4)))


def test_inconsistent_models_are_refused(iris):
    with pytest.raises(ValueError, match="feature names"):
        attrs.evolve(iris, feature_names=("a", "b"))
    with pytest.raises(ValueError, match="class labels"):
        attrs.evolve(iris, labels=None)
    with pytest.raises(ValueError, match="task"):
        attrs.evolve(iris, task="cluster")


def test_a_sigmoid_classifier_needs_exactly_two_classes():
    xor = train_model(load_dataset("xor"), RECIPES["xor"])
    with pytest.raises(ValueError, match="3 class labels do not fit 1 output"):
        attrs.evolve(xor, labels=LabelEncoder((0, 1, 2)))


def test_labels_with_probabilities_in_one_pass(iris):
    X = load_dataset("iris").X
    labels, p = predict_with_proba(iris, X)
    np.testing.assert_array_equal(labels, predict(iris, X))
    np.testing.assert_array_equal(p, predict_proba(iris, X))


def test_binary_sigmoid_classifier_gives_two_probability_columns():
    model = train_model(load_dataset("xor"), RECIPES["xor"])
    p = predict_proba(model, load_dataset("xor").X)
    assert p.shape == (4, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(predict_codes(model, load_dataset("xor").X), [0, 1, 1, 0])
    assert isinstance(model, Model)
