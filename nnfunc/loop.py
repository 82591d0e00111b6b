"""The inner training loop: minibatch steps on buffers the loop owns, and per-epoch metrics.

`TrainLoop` keeps the parameters in one flat array (the layers are views of it), the gradients in
another, the optimizer state in fused buffers (`nnfunc.fused`) and the activations in a
`Workspace`, and updates them in place, so a step allocates nothing. Records (`Params`, optimizer
states) are made only when asked for, as read-only copies: nothing a caller holds ever changes.
An optimizer that cannot be fused runs through its pure transforms on read-only arrays instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from nnfunc.arrays import all_finite, freeze
from nnfunc.fused import Flat, compile_optimizer
from nnfunc.network import Workspace, _l2_penalty, _logits, _value_and_grads, plan
from nnfunc.optim import (
    GradientTransformation,
    apply_updates,
    check_state,
)
from nnfunc.params import Params
from nnfunc.spec import MLPSpec

# Up to this size the data is permuted as a whole each epoch (into a reused buffer); above it,
# each batch's rows are gathered on their own, so the loop never holds a second copy of big data.
PERMUTE_WHOLE_BYTES = 32 * 2**20


class Diverged(ArithmeticError):
    """The loss or the parameters stopped being finite (the caller names the epoch)."""

    def __init__(self, value: float):
        super().__init__(value)
        self.value = value


class TrainLoop:
    """Parameters, gradients, optimizer state and activation buffers of one training run."""

    def __init__(
        self,
        spec: MLPSpec,
        params: Params,
        optimizer: GradientTransformation,
        opt_state: Any,
        *,
        l2: float,
    ):
        self.spec, self.pl, self.l2 = spec, plan(spec), l2
        leaves = params.leaves()
        self.flat = Flat([a.shape for a in leaves], self.pl.dtype)
        self.flat.load(leaves)
        self.grads = Flat(self.flat.shapes, self.pl.dtype)
        self.fused = compile_optimizer(optimizer, self.flat)
        self.optimizer = optimizer
        if self.fused is not None:
            if opt_state is not None:
                self.fused.load(opt_state)  # a fresh kernel already holds the initial state
            self.leaves: tuple[np.ndarray, ...] | list[np.ndarray] = self.flat.views
        else:
            dtype = self.pl.dtype  # as the fused path, which copies into spec-typed buffers
            self.leaves = tuple(a if a.dtype == dtype else freeze(a.astype(dtype)) for a in leaves)
            if opt_state is not None:
                check_state(optimizer, opt_state, self.leaves)  # the fused load checks its own
            self.state = optimizer.init(self.leaves) if opt_state is None else opt_state
        self.ws = Workspace(self.pl, self.grads.views)

    def step(self, X: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
        """One update from one batch; returns the batch loss (before the update) and the logits."""
        value, grads, z = _value_and_grads(self.pl, self.leaves, X, targets, self.l2, self.ws)
        if not math.isfinite(value):
            raise Diverged(value)
        if self.fused is not None:
            self.fused.step(self.grads, self.flat)
        else:
            fresh = tuple(freeze(g.copy()) for g in grads)
            updates, self.state = self.optimizer.update(fresh, self.state, self.leaves)
            # as `nf.step`: shapes checked, and float64 updates keep float32 parameters float32
            self.leaves = apply_updates(self.leaves, updates)
        return value, z

    def release(self) -> None:
        """Drop the step buffers (gradients, activations, scratch) once no step follows."""
        self.grads = self.ws = None  # type: ignore[assignment]
        if self.fused is not None:
            self.fused.tmp = None  # type: ignore[assignment]

    def finite(self) -> bool:
        """True when every parameter is finite (`arrays.all_finite`: one vdot, never a warning)."""
        if self.fused is not None:
            return all_finite(self.flat.data)
        return all(all_finite(a) for a in self.leaves)

    def params(self) -> Params:
        """The current parameters as a record of read-only copies."""
        if self.fused is not None:
            return Params.from_leaves(self.flat.export())
        return Params.from_leaves(self.leaves)

    def opt_state(self) -> Any:
        """The current optimizer state, as the pure transforms' records."""
        return self.fused.state() if self.fused is not None else self.state


class Batches:
    """An epoch's (rows, targets, labels) batches, in buffers reused from epoch to epoch."""

    def __init__(self, X: np.ndarray, targets: np.ndarray, labels: np.ndarray | None, size: int):
        self.arrays = [a for a in (X, targets, labels) if a is not None]
        self.n, self.size = len(X), size
        self.has_labels = labels is not None
        whole = sum(a.nbytes for a in self.arrays) <= PERMUTE_WHOLE_BYTES
        rows = 0 if size >= self.n else self.n if whole else size  # no copies for a full batch
        self.buffers = [np.empty((rows, *a.shape[1:]), a.dtype) for a in self.arrays]
        self.whole = whole
        self.all_rows = self._split(self.arrays)
        # The whole-permutation buffers are reused, so their batch views can be made once.
        starts = range(0, self.n, size) if whole and rows else ()
        self.views = [self._split([b[i : i + size] for b in self.buffers]) for i in starts]

    def epoch(self, order: np.ndarray | None) -> Iterator[tuple[Any, ...]]:
        """The batches in `order` (None: all rows at once, unshuffled)."""
        if order is None:
            yield self.all_rows
            return
        if self.whole:
            for a, buf in zip(self.arrays, self.buffers):
                np.take(a, order, axis=0, out=buf, mode="clip")
            yield from self.views
            return
        for i in range(0, self.n, self.size):
            idx = order[i : i + self.size]
            parts = [buf[: len(idx)] for buf in self.buffers]
            for a, part in zip(self.arrays, parts):
                np.take(a, idx, axis=0, out=part, mode="clip")
            yield self._split(parts)

    def _split(self, parts: list[np.ndarray]) -> tuple[Any, ...]:
        return (parts[0], parts[1], parts[2] if self.has_labels else None)


class Metric:
    """Accumulates accuracy or R2 over the batches of one epoch from logits already computed."""

    def __init__(self, spec: MLPSpec):
        self.loss = spec.loss
        self.sums: list[Any] = [0.0, 0.0, 0.0, 0.0]
        self.shift: np.ndarray | None = None

    def add(self, z: np.ndarray, y: np.ndarray) -> None:
        if self.loss == "softmax_cross_entropy":
            labels = y if y.ndim == 1 else y.argmax(axis=1)
            self.sums[0] += int(np.count_nonzero(z.argmax(axis=1) == labels))
            self.sums[1] += z.shape[0]
        elif self.loss == "binary_cross_entropy":
            self.sums[0] += int(np.count_nonzero((z >= 0) == (y.reshape(z.shape) >= 0.5)))
            self.sums[1] += z.size
        else:
            # R2 from running sums: the residual sum of squares, and the targets' sums shifted
            # by the first batch's mean K (sum(y - K), sum((y - K)**2)): unshifted sums of y and
            # y**2 would lose every digit for targets far from zero (1e8 + noise).
            if self.shift is None:
                self.shift = np.mean(y, axis=0, dtype=np.float64)
            d = y - self.shift
            self.sums[0] += np.sum((z - y) ** 2, axis=0, dtype=np.float64)
            self.sums[1] += y.shape[0]
            self.sums[2] += np.sum(d, axis=0, dtype=np.float64)
            self.sums[3] += np.sum(np.square(d, dtype=np.float64), axis=0)

    def value(self) -> float:
        if self.loss != "mse":
            return self.sums[0] / max(self.sums[1], 1)
        sse, n, s, ss = self.sums
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged run's inf: no warning
            sst = ss - s * s / n
            r2 = np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), (sse == 0) * 1.0)
        return float(np.mean(r2))


def regression_output(spec: MLPSpec, z: np.ndarray) -> np.ndarray:
    """A regressor's outputs from its logits (the output activation applied)."""
    act, alpha = plan(spec).output
    return z if act.name == "linear" else act.fn(z, alpha)


def loss_and_logits(
    spec: MLPSpec, leaves: tuple, X: np.ndarray, y: np.ndarray, l2: float
) -> tuple[float, np.ndarray]:
    """The loss of the parameters `leaves` on rows X (with the L2 penalty, as `nf.loss`)."""
    pl = plan(spec)
    z = _logits(pl, leaves, X)
    act, alpha = pl.output
    value, _ = pl.loss(z, y, act, alpha)
    if l2:
        value += _l2_penalty(leaves, l2)
    return value, z


def evaluate(
    spec: MLPSpec, leaves: tuple, X: np.ndarray, y: np.ndarray, l2: float
) -> tuple[float, float]:
    """Loss and metric of the parameters `leaves` on held-out rows (validation)."""
    value, z = loss_and_logits(spec, leaves, X, y, l2)
    metric = Metric(spec)
    metric.add(regression_output(spec, z) if spec.loss == "mse" else z, y)
    return value, metric.value()
