"""Initialisers: distributions, per-activation defaults, dtypes and seeds."""

import numpy as np
import pytest

from nnfunc.params import INITIALIZERS, Params, default_init, init_params, tree_map
from nnfunc.spec import mlp_spec


def test_shapes_zero_biases_and_read_only():
    params = init_params(mlp_spec([4, 6, 3]), 0)
    assert [layer.w.shape for layer in params.layers] == [(4, 6), (6, 3)]
    assert all(not layer.b.any() for layer in params.layers)
    assert params.n_params == 4 * 6 + 6 + 6 * 3 + 3
    with pytest.raises(ValueError):
        params.layers[0].w[0, 0] = 1.0


def test_same_seed_same_params_and_generator_accepted():
    spec = mlp_spec([4, 6, 3])
    assert init_params(spec, 7) == init_params(spec, 7)
    assert init_params(spec, 7) != init_params(spec, 8)
    assert init_params(spec, np.random.default_rng(7)) == init_params(spec, 7)
    with pytest.raises(TypeError, match="no global RNG"):
        init_params(spec, None)
    assert init_params(spec, np.int64(7)) == init_params(spec, 7)


@pytest.mark.parametrize("seed", [1.5, 1.0, True, "1", np.float64(2.0)])
def test_a_seed_must_be_an_integer_or_a_generator(seed):
    with pytest.raises(TypeError, match="seed must be an integer or a numpy Generator"):
        init_params(mlp_spec([4, 6, 3]), seed)


def test_float32_is_the_rounded_float64_draw():
    p64 = init_params(mlp_spec([4, 6, 3]), 1)
    p32 = init_params(mlp_spec([4, 6, 3], dtype="float32"), 1)
    assert p32.dtype == np.float32
    np.testing.assert_array_equal(p32.layers[0].w, p64.layers[0].w.astype(np.float32))


def test_defaults_follow_the_activation():
    assert default_init("relu") == "he_uniform"
    assert default_init("elu") == "he_uniform"
    assert default_init("tanh") == "glorot_uniform"
    assert default_init("sigmoid") == "glorot_uniform"


@pytest.mark.parametrize(
    ("name", "std"),
    [
        ("uniform", np.sqrt(1 / 3)),
        ("normal", 0.01),
        ("he_normal", np.sqrt(2 / 400)),
        ("he_uniform", np.sqrt(2 / 400)),
        ("glorot_normal", np.sqrt(2 / 800)),
        ("glorot_uniform", np.sqrt(2 / 800)),
    ],
)
def test_initializer_scales(name, std):
    w = init_params(mlp_spec([400, 400], loss="mse", output_activation="linear"), 0, init=name)
    assert abs(w.layers[0].w.std() / std - 1) < 0.02
    assert abs(w.layers[0].w.mean()) < 0.05 * std


def test_unknown_initializer_lists_the_valid_ones():
    with pytest.raises(ValueError, match="glorot_uniform"):
        init_params(mlp_spec([2, 2]), 0, init="lecun")
    assert "zeros" in INITIALIZERS


def test_tree_map_and_leaves_round_trip():
    params = init_params(mlp_spec([3, 2, 2]), 0)
    doubled = tree_map(lambda a: a * 2, params)
    assert Params.from_leaves(params.leaves()) == params
    np.testing.assert_array_equal(doubled.layers[1].w, params.layers[1].w * 2)


def test_a_negative_seed_is_refused_by_name():
    with pytest.raises(ValueError, match="the seed must be a non-negative integer, got -1"):
        init_params(mlp_spec([2, 3, 2]), -1)


def test_tree_map_refuses_records_or_results_of_other_shapes():
    from nnfunc.params import tree_map

    a = init_params(mlp_spec([2, 3, 2]), 0)
    deeper = init_params(mlp_spec([2, 3, 3, 2]), 0)
    with pytest.raises(ValueError, match="tree_map needs records of one shape"):
        tree_map(np.add, a, deeper)  # zip cut the deeper one short
    with pytest.raises(ValueError, match=r"fn turned leaf 0 of shape \(2, 3\) into shape \(\)"):
        tree_map(np.sum, a)
    assert tree_map(lambda x, y: x + y, a, a) == tree_map(lambda x: 2 * x, a)
