"""The tutorials' workloads reach their test-set floors with fixed seeds (the bundled recipes)."""

import numpy as np
import pytest

from nnfunc.datasets import load_dataset
from nnfunc.model import predict
from nnfunc.pipeline import RECIPES, train_model


@pytest.fixture(scope="module")
def models():
    return {name: train_model(load_dataset(name), RECIPES[name]) for name in RECIPES}


def test_iris_4_6_3_relu_softmax(models):
    model = models["iris"]
    assert model.spec.sizes == (4, 6, 3) and model.spec.activations == ("relu",)
    assert model.spec.output_activation == "softmax"
    assert model.metrics["test"]["accuracy"] >= 0.93


def test_moons_2_64_2(models):
    model = models["moons"]
    assert model.spec.sizes == (2, 64, 2)
    assert model.metrics["test"]["n_samples"] == 1000  # 5000 points, a 20% test split
    assert model.metrics["test"]["accuracy"] >= 0.97


@pytest.mark.parametrize("gate", ["xor", "or"])
def test_logic_gates_solved_exactly(models, gate):
    data = load_dataset(gate)
    model = models[gate]
    assert model.spec.output_activation == "sigmoid"
    assert model.spec.loss == "binary_cross_entropy"
    np.testing.assert_array_equal(predict(model, data.X), data.y)


def test_arithmetic_2_4_4_3(models):
    model = models["arithmetic"]
    assert model.spec.sizes == (2, 4, 4, 3)
    assert model.feature_scaler is not None and model.target_scaler is not None
    per_target = model.metrics["test"]["per_target"]
    assert per_target["sum"]["r2"] >= 0.99
    assert per_target["difference"]["r2"] >= 0.99
    assert per_target["absolute_difference"]["r2"] >= 0.95


def test_sum(models):
    assert models["sum"].metrics["test"]["r2"] >= 0.99
