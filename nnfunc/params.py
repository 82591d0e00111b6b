"""Parameter records (one `Dense` per layer) and their initialisers.

Gradients use the same record type as parameters, so optimizers and users can treat both alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import numpy as np

from nnfunc.activations import parse_activation
from nnfunc.arrays import array_field, freeze, frozen_array, rebuilt_by_constructor
from nnfunc.spec import MLPSpec, require_spec

RngOrSeed = np.random.Generator | int  # None is refused: there is no global generator


@attrs.frozen
class Dense:
    """One dense layer: `out = x @ w + b`, with `w` of shape (fan_in, fan_out)."""

    __reduce__ = rebuilt_by_constructor

    w: np.ndarray = array_field()
    b: np.ndarray = array_field()

    def __attrs_post_init__(self) -> None:
        if self.w.dtype.kind != "f" or self.b.dtype.kind != "f":
            # an int weight would take int updates and never train; complex ones would truncate
            name, array = ("w", self.w) if self.w.dtype.kind != "f" else ("b", self.b)
            raise TypeError(
                f"a dense layer's {name} must hold floating-point numbers, got {array.dtype}"
                " (cast it with .astype(float))"
            )
        if self.w.ndim != 2 or self.b.shape != (self.w.shape[1],):
            raise ValueError(
                f"a dense layer needs w of shape (in, out) and b of shape (out,), "
                f"got {self.w.shape} and {self.b.shape}"
            )


@attrs.frozen
class Params:
    """The parameters (or gradients) of an MLP: one `Dense` per layer, input to output."""

    layers: tuple[Dense, ...] = attrs.field(converter=tuple)

    @layers.validator
    def _check_layers(self, attribute: attrs.Attribute, layers: tuple[Dense, ...]) -> None:
        if not layers:
            raise ValueError("params need at least one layer")
        for k, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(
                    f"layer {k} must be a Dense(w, b), got {type(layer).__name__} "
                    "(Params.from_leaves([w0, b0, w1, b1, ...]) takes bare arrays)"
                )

    def leaves(self) -> tuple[np.ndarray, ...]:
        """The arrays in a fixed order (w0, b0, w1, b1, ...), as optimizers see them."""
        return tuple(a for layer in self.layers for a in (layer.w, layer.b))

    @classmethod
    def from_leaves(cls, leaves: Sequence[np.ndarray]) -> Params:
        """Inverse of `leaves()`: (w0, b0, w1, b1, ...)."""
        if len(leaves) % 2:
            raise ValueError(f"leaves come in (w, b) pairs, got {len(leaves)} arrays")
        return cls(tuple(Dense(leaves[i], leaves[i + 1]) for i in range(0, len(leaves), 2)))

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(a.size for a in self.leaves())

    @property
    def dtype(self) -> np.dtype:
        """The floating-point type of the weights."""
        return self.layers[0].w.dtype


def tree_map(fn: Callable[..., np.ndarray], *trees: Params) -> Params:
    """Apply `fn` leaf by leaf across parameter-shaped records, returning a new record.

    The records must have the same shapes, and `fn` must keep each leaf's shape: zip would
    otherwise cut a deeper record short, and numpy broadcast mismatched leaves.
    """
    shapes = [tuple(a.shape for a in t.leaves()) for t in trees]
    if any(s != shapes[0] for s in shapes[1:]):
        raise ValueError(
            f"tree_map needs records of one shape, got {' and '.join(map(str, shapes))}"
        )
    leaves = []
    for k, arrays in enumerate(zip(*(t.leaves() for t in trees))):
        leaf = np.asarray(fn(*arrays))
        if leaf.shape != arrays[0].shape:
            raise ValueError(
                f"tree_map: fn turned leaf {k} of shape {arrays[0].shape} into shape {leaf.shape}"
            )
        leaves.append(frozen_array(leaf))  # fn may hand back an array of the caller's
    return Params.from_leaves(leaves)


# --- initialisers: (rng, fan_in, fan_out) -> float64 array of shape (fan_in, fan_out) -----------

Initializer = Callable[[np.random.Generator, int, int], np.ndarray]


def _uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=(fan_in, fan_out))


def _normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return rng.standard_normal((fan_in, fan_out)) * 0.01


def _he_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)


def _he_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def _glorot_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))


def _glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def _zeros(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return np.zeros((fan_in, fan_out))


INITIALIZERS: dict[str, Initializer] = {
    "uniform": _uniform,
    "normal": _normal,
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "glorot_normal": _glorot_normal,
    "glorot_uniform": _glorot_uniform,
    "zeros": _zeros,
}
ALIASES = {"xavier_normal": "glorot_normal", "xavier_uniform": "glorot_uniform"}


def as_rng(rng_or_seed: RngOrSeed) -> np.random.Generator:
    """An explicit Generator from a Generator or an integer seed (None is refused on purpose)."""
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if rng_or_seed is None:
        raise TypeError("pass a numpy Generator or an integer seed; there is no global RNG")
    # int(1.5) would quietly be seed 1, and True seed 1: refuse anything but a true integer.
    if isinstance(rng_or_seed, bool) or not isinstance(rng_or_seed, (int, np.integer)):
        raise TypeError(
            f"the seed must be an integer or a numpy Generator, got {type(rng_or_seed).__name__} "
            f"{rng_or_seed!r}"
        )
    if rng_or_seed < 0:
        raise ValueError(f"the seed must be a non-negative integer, got {rng_or_seed}")
    return np.random.default_rng(int(rng_or_seed))


def default_init(activation: str) -> str:
    """He for the ReLU family, Glorot for everything else (tanh, sigmoid, linear, softmax)."""
    return "he_uniform" if parse_activation(activation)[0].relu_like else "glorot_uniform"


def _lookup(name: str) -> Initializer:
    key = ALIASES.get(name, name)
    if key not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; choose one of: {', '.join(INITIALIZERS)}")
    return INITIALIZERS[key]


def init_params(
    spec: MLPSpec,
    rng_or_seed: RngOrSeed,
    *,
    init: str | None = None,
    bias_init: str = "zeros",
) -> Params:
    """Fresh parameters for `spec`; each layer's default initialiser suits the activation after it.

    Values are drawn in float64 and then cast, so a float32 network starts from the rounded
    float64 weights of the same seed.
    """
    require_spec(spec)
    rng = as_rng(rng_or_seed)
    follow = (*spec.activations, spec.output_activation)
    layers = []
    for fan_in, fan_out, act in zip(spec.sizes[:-1], spec.sizes[1:], follow):
        w = _lookup(init or default_init(act))(rng, fan_in, fan_out)
        b = _lookup(bias_init)(rng, 1, fan_out)[0]
        layers.append(Dense(freeze(w.astype(spec.dtype)), freeze(b.astype(spec.dtype))))
    return Params(tuple(layers))
