"""The four training workloads (W1 to W4) and the exact problem every implementation is given.

A `Problem` fixes everything that decides the arithmetic: the training rows, the integer labels,
the initial weights (nnfunc's initialiser, copied into each peer) and the row order of every epoch
(the permutations `nnfunc.fit` draws from the same seed), so final losses can be compared.
"""

from __future__ import annotations

import attrs
import numpy as np

import nnfunc as nf
from nnfunc.datasets import load_dataset
from nnfunc.preprocessing import encode_labels, fit_labels, fit_scaler, scale, train_test_split


@attrs.frozen
class Workload:
    """One benchmark: data, architecture (ReLU hidden layers, softmax output) and optimizer."""

    name: str
    dataset: str  # iris, moons, digits or random
    sizes: tuple[int, ...]
    optimizer: str  # sgd or adam
    lr: float
    batch_size: int | None  # None: full batch
    epochs: int
    dtype: str = "float64"
    n_rows: int | None = None  # rows of random data, or a cap on a real dataset's training rows
    seed: int = 0

    @property
    def title(self) -> str:
        """A one-line description for tables."""
        arch = "-".join(map(str, self.sizes))
        batch = "full batch" if self.batch_size is None else f"batch {self.batch_size}"
        return (
            f"{self.dataset} {arch}, {self.optimizer} lr {self.lr:g}, {batch}, "
            f"{self.epochs} epoch(s), {self.dtype}"
        )

    def spec(self, sizes: tuple[int, ...] | None = None) -> nf.MLPSpec:
        """The nnfunc architecture (softmax cross-entropy; sigmoid for a single output)."""
        sizes = sizes or self.sizes
        out = "sigmoid" if sizes[-1] == 1 else None
        return nf.mlp_spec(sizes, activation="relu", output_activation=out, dtype=self.dtype)


WORKLOADS: dict[str, Workload] = {
    "W1": Workload("W1", "iris", (4, 6, 3), "sgd", 0.01, None, 2000),
    "W2": Workload("W2", "moons", (2, 64, 2), "sgd", 0.1, 10, 10),
    "W3": Workload("W3", "digits", (64, 256, 256, 10), "adam", 1e-3, 64, 50),
    "W4": Workload(
        "W4", "random", (784, 1024, 1024, 10), "adam", 1e-3, 512, 1, "float32", n_rows=60000
    ),
}

# The same shapes on less data: seconds in total, for the smoke test.
QUICK: dict[str, Workload] = {
    "W1": attrs.evolve(WORKLOADS["W1"], epochs=100),
    "W2": attrs.evolve(WORKLOADS["W2"], epochs=1, n_rows=500),
    "W3": attrs.evolve(WORKLOADS["W3"], epochs=2, n_rows=256),
    "W4": attrs.evolve(WORKLOADS["W4"], n_rows=1024),
}


@attrs.frozen(eq=False)
class Problem:
    """The exact training problem: float rows, int64 labels, initial leaves, epoch row orders."""

    workload: Workload
    X: np.ndarray
    y: np.ndarray
    leaves: tuple[np.ndarray, ...]  # w0, b0, w1, b1, ... in the workload's dtype
    orders: tuple[np.ndarray, ...] | None  # one permutation per epoch; None for full batch

    @property
    def n_steps(self) -> int:
        """Optimizer steps in the whole run."""
        w = self.workload
        if w.batch_size is None:
            return w.epochs
        return w.epochs * -(-len(self.X) // w.batch_size)

    def initial_leaves(self) -> list[np.ndarray]:
        """Fresh writable copies of the initial weights (for peers that update in place)."""
        return [np.array(a) for a in self.leaves]


def _labelled(name: str, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A bundled classification dataset's training split, standardised, with int64 labels."""
    if name == "digits":
        X, labels = _digits()
    else:
        data = load_dataset(name)
        X, labels = data.X, data.y
    y = encode_labels(fit_labels(labels), labels)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=test_size, rng=seed, stratify=True)
    return scale(fit_scaler(X_train), X_train), y_train


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits; random rows of the same shape without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(64)
        return rng.uniform(0, 16, size=(1797, 64)).round(), rng.integers(0, 10, 1797)
    digits = load_digits()
    return digits.data.astype(np.float64), digits.target.astype(np.int64)


def training_rows(workload: Workload) -> tuple[np.ndarray, np.ndarray]:
    """Training features (in the workload's dtype) and int64 labels."""
    w = workload
    if w.dataset == "random":
        rng = np.random.default_rng(w.seed + 4)
        n = w.n_rows or 60000
        X = rng.standard_normal((n, w.sizes[0]), dtype=np.float32).astype(w.dtype, copy=False)
        return X, rng.integers(0, w.sizes[-1], n)
    test_size = {"iris": 0.2, "moons": 0.25, "digits": 0.2}[w.dataset]
    X, y = _labelled(w.dataset, test_size, w.seed)
    if w.n_rows is not None:
        X, y = X[: w.n_rows], y[: w.n_rows]
    return np.ascontiguousarray(X, dtype=w.dtype), y


def make_problem(workload: Workload, sizes: tuple[int, ...] | None = None) -> Problem:
    """Data, initial weights and batch orders; `sizes` overrides the architecture (same data)."""
    X, y = training_rows(workload)
    spec = workload.spec(sizes)
    leaves = nf.init_params(
        spec, workload.seed
    ).leaves()  # read-only: records take them as they are
    orders = None
    if workload.batch_size is not None and workload.batch_size < len(X):
        rng = np.random.default_rng(workload.seed)  # what nnfunc.fit draws with rng=seed
        orders = tuple(rng.permutation(len(X)) for _ in range(workload.epochs))
    return Problem(attrs.evolve(workload, sizes=spec.sizes), X, y, leaves, orders)
