"""Datasets as frozen records, and a table of the bundled ones.

A `Dataset` holds features, targets and enough metadata (column names, task, a sha256 of the data)
to train on it and to tell later which data a model saw. `load_dataset` builds a bundled dataset by
name; generated ones are seeded through `numpy.random.default_rng(seed)`, so one seed always gives
the same arrays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import attrs
import numpy as np

from nnfunc.arrays import array_field, freeze

TASKS = ("classify", "regress")
# A target column of at most this many distinct whole numbers is classified (more: regressed),
# for a CSV file and for your own arrays alike.
MAX_INTEGER_CLASSES = 20


@attrs.frozen
class Dataset:
    """Features `X` (n, d) float64, targets `y` (raw labels (n,) or float64 (n, k)) and metadata."""

    X: np.ndarray = array_field()
    y: np.ndarray = array_field()
    feature_names: tuple[str, ...] = attrs.field(converter=tuple)
    target_names: tuple[str, ...] = attrs.field(converter=tuple)
    task: str
    name: str
    sha256: str

    def __attrs_post_init__(self) -> None:
        """Refuse records whose arrays and metadata disagree."""
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.X.ndim != 2 or self.X.dtype != np.float64:
            raise ValueError(f"X must be a 2-D float64 array, got {self.X.ndim}-D {self.X.dtype}")
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.X.shape[1]} feature columns"
            )
        if len(self.y) != len(self.X):
            raise ValueError(f"X has {len(self.X)} rows but y has {len(self.y)}")
        if self.task == "classify" and (self.y.ndim != 1 or len(self.target_names) != 1):
            raise ValueError("a classification dataset needs 1-D labels and one target name")
        if self.task == "regress" and (
            self.y.ndim != 2
            or self.y.dtype != np.float64
            or self.y.shape[1] != len(self.target_names)
        ):
            raise ValueError("a regression dataset needs float64 y of shape (n, len(target_names))")

    @classmethod
    def from_arrays(
        cls,
        X: Any,
        y: Any,
        *,
        task: str | None = None,
        feature_names: Any = None,
        target_names: Any = None,
        name: str = "arrays",
    ) -> Dataset:
        """A dataset from your own arrays, for `pipeline.train_model`: X as float64 rows, y as
        labels (classify) or float64 columns (regress). Without `task`, text or boolean labels,
        or one column of at most 20 distinct whole numbers (below 2**53), are classified, as a
        CSV file's target is; names default to x0, x1, ... and y (or y0, y1, ...)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features), got shape {X.shape}")
        y = _plain_labels(np.asarray(y))
        task = _label_task(y) if task is None else task
        if task == "classify":
            y = _class_labels(y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y)
        elif y.dtype.kind not in "iuf":
            raise ValueError(f"a regression target must hold numbers, got dtype {y.dtype}")
        else:
            y = y.astype(np.float64).reshape(len(y), -1)
        width = 1 if y.ndim == 1 else y.shape[1]
        features = _names(feature_names, "feature_names", [f"x{i}" for i in range(X.shape[1])])
        default_targets = ["y"] if width == 1 else [f"y{i}" for i in range(width)]
        targets = _names(target_names, "target_names", default_targets)
        both = sorted(set(features) & set(targets))
        if both:
            raise ValueError(f"{both[0]!r} is both a feature and a target name")
        for values, what in ((X, features), (y if y.dtype.kind == "f" else None, targets)):
            if values is not None and not np.isfinite(values).all():
                column = int(np.argwhere(~np.isfinite(values))[0][-1]) if values.ndim == 2 else 0
                raise ValueError(f"column {what[column]!r} holds NaN or infinite values")
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        return cls(X, y, features, targets, task, name, array_digest(X, y))

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X.shape[1])


def _plain_labels(y: np.ndarray) -> np.ndarray:
    """An object array (as pandas gives) of all-str, all-bool or all-number values as a str,
    bool or number array; anything else as it is."""
    if y.dtype != object or not y.size:
        return y
    kinds = {type(value) for value in y.ravel().tolist()}
    if kinds == {str}:
        return y.astype(str)
    if kinds == {bool}:
        return y.astype(bool)
    if kinds <= {int, float}:
        return y.astype(np.float64 if float in kinds else np.int64)
    return y


def _whole(y: np.ndarray) -> bool:
    """Every value finite, whole and below 2**53 (where float64 still tells integers apart)."""
    finite = bool(np.isfinite(y).all())
    return finite and bool((np.abs(y) < 2.0**53).all()) and bool(np.array_equal(y, np.round(y)))


def _label_task(y: np.ndarray) -> str:
    """'classify' for text or boolean labels, or one column of at most 20 distinct whole
    numbers below 2**53; else 'regress' (the rule a CSV file's target column follows)."""
    if y.dtype.kind in "USb":
        return "classify"
    if y.dtype.kind not in "iuf" or y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1):
        return "regress"
    return "classify" if _whole(y) and len(np.unique(y)) <= MAX_INTEGER_CLASSES else "regress"


def _class_labels(y: np.ndarray) -> np.ndarray:
    """1-D class labels: text, booleans, or whole numbers as int64."""
    if y.ndim != 1:
        raise ValueError(f"class labels must be one column, got shape {y.shape}")
    if y.dtype.kind in "USb":
        return y
    if y.dtype.kind in "iuf" and _whole(y):
        return y.astype(np.int64)
    raise ValueError(
        "class labels must be text, booleans or whole numbers below 2**53 (for other numbers, "
        "task='regress')"
    )


def _names(given: Any, what: str, default: list[str]) -> list[str]:
    """Column names: the default, or a list of distinct strings (not one string)."""
    if given is None:
        return default
    if isinstance(given, str):
        raise TypeError(f"{what} is a list of names, got the string {given!r}")
    names = list(given)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"{what} must be strings, got {names!r}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what}: {repeated[0]!r} appears more than once")
    return names


def array_digest(X: np.ndarray, y: np.ndarray) -> str:
    """sha256 hex digest over the dtype, shape and bytes of X, then of y (for generated data)."""
    digest = hashlib.sha256()
    for array in (X, y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _generated(
    X: np.ndarray,
    y: np.ndarray,
    *,
    name: str,
    features: tuple[str, ...],
    targets: tuple[str, ...],
    task: str,
) -> Dataset:
    """Wrap freshly generated arrays as a Dataset whose sha256 covers the arrays."""
    X, y = freeze(X), freeze(y)
    return Dataset(X, y, features, targets, task, name, array_digest(X, y))


def _check_n_samples(n_samples: Any) -> int:
    """Validate a row count option."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    return int(n_samples)


def _iris(seed: int) -> Dataset:
    """Fisher's iris: 150 flowers, 4 measurements, 3 species (50 each)."""
    del seed  # fixed data
    from nnfunc.csvdata import parse_csv  # csvdata imports Dataset from here

    data = (resources.files("nnfunc") / "data" / "iris.csv").read_bytes()
    return parse_csv(data, source="iris.csv", name="iris", target="species", task="classify")


def _moons(seed: int, n_samples: int = 5000, noise: float = 0.1) -> Dataset:
    """Two interleaving half circles with Gaussian noise (like sklearn's make_moons)."""
    n = _check_n_samples(n_samples)
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float, np.floating))
        or not 0 <= noise < np.inf
    ):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n_inner)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_outer), np.sin(t_outer)]),
            np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)]),
        ]
    )
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    order = rng.permutation(n)
    X = X[order] + rng.normal(0.0, noise, size=X.shape)
    return _generated(
        X, y[order], name="moons", features=("x1", "x2"), targets=("label",), task="classify"
    )


def _truth_table(name: str, op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Dataset:
    """The four rows of a two-input boolean function."""
    a = np.array([0, 0, 1, 1], np.int64)
    b = np.array([0, 1, 0, 1], np.int64)
    X = np.column_stack([a, b]).astype(np.float64)
    return _generated(
        X,
        op(a, b).astype(np.int64),
        name=name,
        features=("a", "b"),
        targets=(name,),
        task="classify",
    )


def _xor(seed: int) -> Dataset:
    """XOR truth table: 4 rows, not linearly separable."""
    del seed  # fixed data
    return _truth_table("xor", np.bitwise_xor)


def _or(seed: int) -> Dataset:
    """OR truth table: 4 rows, linearly separable."""
    del seed  # fixed data
    return _truth_table("or", np.bitwise_or)


def _sum(seed: int, n_samples: int = 1000) -> Dataset:
    """Regress y = a + b for a, b uniform on [0, 1]."""
    n = _check_n_samples(n_samples)
    X = np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, 2))
    y = X.sum(axis=1, keepdims=True)
    return _generated(X, y, name="sum", features=("a", "b"), targets=("sum",), task="regress")


def _arithmetic(seed: int, n_samples: int = 2000) -> Dataset:
    """Regress a + b, a - b and |a - b| for a, b uniform in [0, 100)."""
    n = _check_n_samples(n_samples)
    X = np.random.default_rng(seed).uniform(0.0, 100.0, size=(n, 2))
    a, b = X[:, 0], X[:, 1]
    y = np.column_stack([a + b, a - b, np.abs(a - b)])
    targets = ("sum", "difference", "absolute_difference")
    return _generated(X, y, name="arithmetic", features=("a", "b"), targets=targets, task="regress")


@attrs.frozen
class DatasetSpec:
    """One bundled dataset: its loader, a one-line description and its options with defaults."""

    name: str
    description: str
    loader: Callable[..., Dataset]
    options: Mapping[str, Any] = attrs.field(factory=dict)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("iris", "Fisher's iris flowers: 4 measurements, 3 species", _iris),
        DatasetSpec(
            "moons",
            "two interleaving noisy half circles, 2 classes",
            _moons,
            {"n_samples": 5000, "noise": 0.1},
        ),
        DatasetSpec("xor", "XOR truth table (4 rows), not linearly separable", _xor),
        DatasetSpec("or", "OR truth table (4 rows), linearly separable", _or),
        DatasetSpec("sum", "regress a + b for a, b uniform on [0, 1]", _sum, {"n_samples": 1000}),
        DatasetSpec(
            "arithmetic",
            "regress a+b, a-b and |a-b| for a, b uniform in [0, 100)",
            _arithmetic,
            {"n_samples": 2000},
        ),
    )
}


def dataset_names() -> tuple[str, ...]:
    """Names of the bundled datasets, in table order."""
    return tuple(DATASETS)


def load_dataset(name: str, *, seed: int = 0, **options: Any) -> Dataset:
    """Build the bundled dataset `name`; generated data is a pure function of `seed` and options."""
    spec = DATASETS.get(name)
    if spec is None:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        valid = ", ".join(spec.options) or "none"
        raise ValueError(
            f"dataset {name!r} takes no option(s) {', '.join(unknown)}; valid options: {valid}"
        )
    return spec.loader(seed, **options)


def describe(*, seed: int = 0) -> list[dict[str, Any]]:
    """One JSON-ready row per bundled dataset (name, description, task, shape, options)."""
    rows = []
    for spec in DATASETS.values():
        data = load_dataset(spec.name, seed=seed)
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "task": data.task,
                "n_samples": data.n_samples,
                "n_features": data.n_features,
                "targets": list(data.target_names),
                "options": dict(spec.options),
            }
        )
    return rows
