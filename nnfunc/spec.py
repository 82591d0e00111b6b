"""The architecture record: layer sizes, activations, output activation, loss and dtype."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs
import numpy as np

from nnfunc.activations import OUTPUT_ONLY, canonical_activation, parse_activation
from nnfunc.losses import LOSSES, check_pairing, default_loss

DTYPES = ("float32", "float64")


def _check_sizes(spec: MLPSpec, attribute: attrs.Attribute, sizes: tuple[int, ...]) -> None:
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {sizes}")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"layer sizes must be positive integers, got {sizes}")


def require_spec(value: object) -> MLPSpec:
    """`value` if it is an MLPSpec, else a TypeError that says what was given (often the
    arguments in the wrong order: every function takes the spec first, then the params)."""
    if isinstance(value, MLPSpec):
        return value
    given = type(value).__name__
    hint = " (the arguments go spec first, then params: f(spec, params, X, ...))"
    raise TypeError(
        f"spec must be an MLPSpec, as nf.mlp_spec([4, 8, 3]) makes, got {given}"
        + (hint if given == "Params" else "")
    )


def dtype_name(dtype: object) -> str:
    """ "float32" or "float64" from that name or any numpy spelling of it (np.float32, "f4")."""
    try:
        name = np.dtype(dtype).name if dtype is not None else None  # np.dtype(None) is float64
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return name


def _activation_names(names: object) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError(f"activations must be a sequence of names, one per hidden layer: {names!r}")
    return tuple(canonical_activation(name) for name in names)  # type: ignore[attr-defined]


def _to_ints(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, str) or not isinstance(sizes, Iterable):
        raise TypeError(
            f"sizes are a sequence of layer widths, inputs first, outputs last, such as "
            f"[4, 16, 3]; got {sizes!r}"
        )
    return tuple(int(s) if hasattr(s, "__index__") else s for s in sizes)


@attrs.frozen
class MLPSpec:
    """What a network is: `sizes` = (inputs, hidden..., outputs), one activation per hidden layer.

    The loss is part of the architecture because the output layer's gradient depends on the
    (output activation, loss) pair; incompatible pairs are refused here, at construction.
    """

    sizes: tuple[int, ...] = attrs.field(converter=_to_ints, validator=_check_sizes)
    activations: tuple[str, ...] = attrs.field(converter=_activation_names)
    output_activation: str = attrs.field(converter=canonical_activation)
    loss: str
    dtype: str = attrs.field(default="float64", converter=dtype_name)

    def __attrs_post_init__(self) -> None:
        n_hidden = len(self.sizes) - 2
        if len(self.activations) != n_hidden:
            raise ValueError(
                f"{n_hidden} hidden layer(s) need {n_hidden} activation(s), "
                f"got {len(self.activations)}"
            )
        for name in self.activations:
            act, _ = parse_activation(name)
            if act.name in OUTPUT_ONLY:
                raise ValueError(f"{act.name} can only be the output activation")
        out, _ = parse_activation(self.output_activation)
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of: {', '.join(LOSSES)}")
        check_pairing(out.name, self.loss, self.sizes[-1])

    @property
    def n_inputs(self) -> int:
        """Number of input features."""
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        """Number of output units."""
        return self.sizes[-1]

    @property
    def n_layers(self) -> int:
        """Number of dense layers (hidden layers plus the output layer)."""
        return len(self.sizes) - 1

    @property
    def is_classifier(self) -> bool:
        """True when the loss is a cross-entropy (outputs are class probabilities)."""
        return self.loss != "mse"


def mlp_spec(
    sizes: Sequence[int],
    *,
    activation: str | Sequence[str] = "relu",
    output_activation: str | None = None,
    loss: str | None = None,
    dtype: str = "float64",
) -> MLPSpec:
    """Build a spec with one activation for every hidden layer (or one each) and matching loss.

    With neither `output_activation` nor `loss`, a single output gives a regressor (linear, MSE)
    and several outputs a softmax classifier.
    """
    sizes = _to_ints(sizes)
    n_hidden = max(len(sizes) - 2, 0)
    activations = (activation,) * n_hidden if isinstance(activation, str) else tuple(activation)
    if output_activation is None:
        if loss == "binary_cross_entropy":
            output_activation = "sigmoid"
        elif loss == "softmax_cross_entropy" or (loss is None and sizes and sizes[-1] > 1):
            output_activation = "softmax"
        else:
            output_activation = "linear"
    if loss is None:
        loss = default_loss(parse_activation(output_activation)[0].name)
    return MLPSpec(sizes, activations, output_activation, loss, dtype)
