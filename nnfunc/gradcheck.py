"""Gradient checking: analytic gradients against central finite differences."""

from __future__ import annotations

import math

import attrs
import numpy as np

from nnfunc.checks import real
from nnfunc.network import grads as analytic_grads
from nnfunc.network import loss as loss_value
from nnfunc.params import Params
from nnfunc.spec import MLPSpec, require_spec


@attrs.frozen
class GradCheck:
    """The worst relative error over all parameters, and where it occurred."""

    max_rel_error: float
    layer: int
    name: str
    index: tuple[int, ...]

    @property
    def ok(self) -> bool:
        """True when the worst relative error is below 1e-6 (a property, so that `assert
        result.ok` tests it; as a method it was always truthy)."""
        return self.passes()

    def passes(self, tol: float = 1e-6) -> bool:
        """True when the worst relative error is below `tol`."""
        return self.max_rel_error < tol


def check_grads(
    spec: MLPSpec,
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    *,
    l2: float = 0.0,
    eps: float = 1e-5,
) -> GradCheck:
    """Compare `grads` with central differences (L(p + eps) - L(p - eps)) / 2 eps, entry by entry.

    The relative error is |a - n| / max(|a| + |n|, 1e-8), so entries whose gradient is (near) zero
    are judged on their absolute error. A float32 spec is checked in float64 (float32 cannot
    resolve eps, and the formulas are the same): its parameters and rows are widened first.
    """
    eps = real(eps, "eps")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite step, got {eps!r}")
    if require_spec(spec).dtype != "float64":
        spec = attrs.evolve(spec, dtype="float64")
        params = Params.from_leaves([np.asarray(a, np.float64) for a in params.leaves()])
        X = np.asarray(X, np.float64) if np.asarray(X).dtype.kind == "f" else X
        y = np.asarray(y, np.float64) if np.asarray(y).dtype.kind == "f" else y
    analytic = analytic_grads(spec, params, X, y, l2=l2).leaves()
    leaves = [np.array(a) for a in params.leaves()]
    worst = GradCheck(0.0, 0, "w", ())
    for k, (leaf, grad) in enumerate(zip(leaves, analytic)):
        for index in np.ndindex(leaf.shape):
            original = leaf[index]
            leaf[index] = original + eps
            plus = loss_value(spec, Params.from_leaves(leaves), X, y, l2=l2)
            leaf[index] = original - eps
            minus = loss_value(spec, Params.from_leaves(leaves), X, y, l2=l2)
            leaf[index] = original
            numeric = (plus - minus) / (2 * eps)
            error = abs(grad[index] - numeric) / max(abs(grad[index]) + abs(numeric), 1e-8)
            if error > worst.max_rel_error:
                worst = GradCheck(float(error), k // 2, "wb"[k % 2], tuple(int(i) for i in index))
    return worst
