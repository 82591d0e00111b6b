"""The architecture record refuses what it cannot train correctly."""

import numpy as np
import pytest

from nnfunc.spec import MLPSpec, mlp_spec


def test_defaults_pick_output_and_loss_from_the_output_size():
    classifier = mlp_spec([4, 6, 3])
    assert (classifier.output_activation, classifier.loss) == ("softmax", "softmax_cross_entropy")
    regressor = mlp_spec([2, 8, 1])
    assert (regressor.output_activation, regressor.loss) == ("linear", "mse")
    binary = mlp_spec([2, 4, 1], loss="binary_cross_entropy")
    assert binary.output_activation == "sigmoid"
    assert mlp_spec([2, 3, 4, 1], activation=["tanh", "relu"]).activations == ("tanh", "relu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": (4,)}, "at least an input and an output"),
        ({"sizes": (4, 0, 3)}, "positive integers"),
        ({"activation": "nope"}, "unknown activation"),
        ({"activation": "softmax"}, "only be the output"),
        ({"output_activation": "linear", "loss": "softmax_cross_entropy"}, "needs the softmax"),
        ({"output_activation": "softmax", "loss": "mse"}, "not supported"),
        ({"output_activation": "tanh", "loss": "binary_cross_entropy"}, "needs the sigmoid"),
        ({"loss": "hinge"}, "unknown loss"),
        ({"dtype": "float16"}, "dtype"),
    ],
)
def test_invalid_specs_are_refused_with_a_reason(kwargs, message):
    args = {"sizes": (4, 6, 3), **kwargs}
    with pytest.raises(ValueError, match=message):
        mlp_spec(args.pop("sizes"), **args)


def test_softmax_needs_two_outputs():
    with pytest.raises(ValueError, match="at least 2 outputs"):
        mlp_spec([2, 1], loss="softmax_cross_entropy")


def test_activation_count_must_match_hidden_layers():
    with pytest.raises(ValueError, match="2 hidden layer"):
        MLPSpec((2, 3, 3, 1), ("relu",), "linear", "mse")


def test_spec_is_frozen_and_hashable():
    spec = mlp_spec([4, 6, 3])
    assert spec == mlp_spec([4, 6, 3]) and hash(spec) == hash(mlp_spec([4, 6, 3]))
    with pytest.raises(AttributeError):
        spec.loss = "mse"
    assert (spec.n_inputs, spec.n_outputs, spec.n_layers, spec.is_classifier) == (4, 3, 2, True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"activation": "relu:0.1"},
        {"activation": "tanh:5"},
        {"output_activation": "linear:2"},
        {"output_activation": "sigmoid:1", "loss": "binary_cross_entropy"},
    ],
)
def test_a_parameter_on_an_activation_that_takes_none_is_refused(kwargs):
    with pytest.raises(ValueError, match="takes no parameter"):
        mlp_spec([2, 4, 1], **kwargs)
    assert mlp_spec([2, 4, 1], activation="leaky_relu:0.1").activations == ("leaky_relu:0.1",)


@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32"), "f4"])
def test_dtype_takes_any_numpy_spelling_of_float32(dtype):
    assert mlp_spec([2, 3, 2], dtype=dtype).dtype == "float32"


@pytest.mark.parametrize("dtype", ["float16", np.int32, None, "x"])
def test_other_dtypes_are_refused_in_one_readable_line(dtype):
    with pytest.raises(ValueError) as info:
        mlp_spec([2, 3, 2], dtype=dtype)
    message = str(info.value)
    assert (
        message.startswith("dtype must be float32 or float64, got") and "Attribute(" not in message
    )


def test_train_config_choices_are_refused_in_one_readable_line():
    from nnfunc.train_config import TrainConfig

    with pytest.raises(ValueError) as info:
        TrainConfig(optimizer="lbfgs")
    assert str(info.value) == (
        "optimizer must be one of sgd, momentum, nesterov, adam, adamw, rmsprop; got 'lbfgs'"
    )
    assert TrainConfig(dtype=np.float32).dtype == "float32"
