"""The tutorials' workloads reach their test-set floors with fixed seeds (the bundled recipes)."""

import attrs
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


def test_arithmetic_2_16_3(models):
    model = models["arithmetic"]
    assert model.spec.sizes == (2, 16, 3)
    assert model.feature_scaler is not None and model.target_scaler is not None
    per_target = model.metrics["test"]["per_target"]
    assert all(per_target[name]["r2"] >= 0.999 for name in per_target)
    grid = np.stack(np.meshgrid(np.arange(0, 101, 5.0), np.arange(0, 101, 5.0)), -1).reshape(-1, 2)
    a, b = grid.T
    worst = np.abs(predict(model, grid) - np.column_stack([a + b, a - b, np.abs(a - b)])).max()
    assert worst < 1.0  # also in the corners of [0, 100)^2, where (4, 4) was off by 4.7


# Seeds on which the earlier recipes failed: xor (4 hidden units) stalled at accuracy 0.5,
# arithmetic (4, 4) lost units to dead ReLUs (R2 0.55 on a - b).
@pytest.mark.parametrize("seed", [9, 34, 40, 71, 91, 108])
def test_the_xor_recipe_holds_on_other_seeds(seed):
    data = load_dataset("xor")
    model = train_model(data, attrs.evolve(RECIPES["xor"], seed=seed))
    np.testing.assert_array_equal(predict(model, data.X), data.y)


@pytest.mark.parametrize("seed", [7, 10, 12, 15])
def test_the_arithmetic_recipe_holds_on_other_seeds(seed):
    model = train_model(
        load_dataset("arithmetic", seed=seed), attrs.evolve(RECIPES["arithmetic"], seed=seed)
    )
    assert min(t["r2"] for t in model.metrics["test"]["per_target"].values()) >= 0.999


def test_sum(models):
    assert models["sum"].metrics["test"]["r2"] >= 0.99
