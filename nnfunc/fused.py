"""Fused optimizer kernels: the built-in transforms applied in place to one flat buffer.

The training loop keeps every parameter in one contiguous array and the gradients in another, so
an optimizer step is a few whole-buffer numpy operations instead of several per layer, and makes
no new arrays. Each kernel performs exactly the arithmetic of its pure transform in `optim`, in the
same order and with the same scalars, so both give bit-identical parameters; a chain holding any
transform not described in `optim.DESCRIPTIONS` is not fused (`compile_optimizer` returns None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnfunc.arrays import freeze
from nnfunc.optim import (
    DESCRIPTIONS,
    STATE_TYPES,
    ChainState,
    CountState,
    EmptyState,
    GradientTransformation,
    ScaleByAdamState,
    ScaleByRmsState,
    TraceState,
    adam_scalars,
    global_norm,
    state_mismatch,
)
from nnfunc.schedules import Constant


class Flat:
    """A flat buffer and its per-leaf views (w0, b0, w1, b1, ...)."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], dtype: np.dtype):
        self.shapes = tuple(tuple(s) for s in shapes)
        self.data = np.zeros(sum(math.prod(s) for s in self.shapes), dtype)
        self.views = []
        start = 0
        for shape in self.shapes:
            size = math.prod(shape)
            self.views.append(self.data[start : start + size].reshape(shape))
            start += size

    def load(self, leaves: Sequence[np.ndarray]) -> None:
        """Copy arrays of the right shapes in (refusing others)."""
        if tuple(np.shape(a) for a in leaves) != self.shapes:
            raise ValueError("the arrays do not match the parameters' shapes")
        for view, leaf in zip(self.views, leaves):
            view[...] = leaf

    def export(self) -> tuple[np.ndarray, ...]:
        """Read-only per-leaf copies."""
        return tuple(freeze(v.copy()) for v in self.views)


# How many parameter-sized buffers each kind of transform keeps.
_N_BUFFERS = {"clip": 0, "trace": 1, "adam": 2, "rms": 1, "decay": 0, "lr": 0}


class _Kernel:
    """One transform's in-place rewrite of the flat updates buffer (the gradients on entry).

    `prepare` works out the step's scalars (counts, clip scale) once; `apply` then rewrites any
    slice [lo, hi) of the buffers, so a large step can run slice by slice.
    """

    def __init__(self, description: tuple, flat: Flat):
        self.kind, *self.args = description
        self.count = 0
        self.scalars: tuple = ()
        self.buffers = [Flat(flat.shapes, flat.data.dtype) for _ in range(_N_BUFFERS[self.kind])]
        if self.kind == "lr" and type(self.args[0]) is Constant:
            self.rate = -float(self.args[0](0))  # the same at every step
        ends = np.cumsum([math.prod(s) for s in flat.shapes])
        self.weights = [(e - math.prod(s), e) for s, e in zip(flat.shapes, ends) if len(s) == 2]

    def load(self, state: Any) -> None:
        """Take over the pure transform's state record (refusing another transform's)."""
        expected = STATE_TYPES[self.kind]
        if not isinstance(state, expected):
            raise state_mismatch(expected.__name__, state)
        if self.kind == "trace":
            self.buffers[0].load(state.velocity)
        elif self.kind == "adam":
            self.count = state.count
            self.buffers[0].load(state.mu)
            self.buffers[1].load(state.nu)
        elif self.kind == "rms":
            self.buffers[0].load(state.nu)
        elif self.kind == "lr":
            self.count = state.count

    def state(self) -> Any:
        if self.kind == "trace":
            return TraceState(self.buffers[0].export())
        if self.kind == "adam":
            return ScaleByAdamState(self.count, self.buffers[0].export(), self.buffers[1].export())
        if self.kind == "rms":
            return ScaleByRmsState(self.buffers[0].export())
        if self.kind == "lr":
            return CountState(self.count)
        return EmptyState()

    def prepare(self, u: Flat) -> None:
        """The step's scalars, exactly as the pure transform computes them."""
        kind = self.kind
        if kind == "lr":
            schedule = self.args[0]
            rate = self.rate if type(schedule) is Constant else -float(schedule(self.count))
            self.scalars = (rate,)
            self.count += 1
        elif kind == "adam":
            self.count += 1
            self.scalars = adam_scalars(*self.args, self.count)
        elif kind == "clip":
            norm = global_norm(u.views)
            self.scalars = (self.args[0] / norm,) if norm > self.args[0] else ()

    def apply(self, g: np.ndarray, p: np.ndarray, tmp: np.ndarray, lo: int, hi: int) -> None:
        """Rewrite the updates g[lo:hi] (p: parameters, tmp: scratch) as the pure one does."""
        kind, whole = self.kind, lo == 0 and hi == g.size
        if not whole:
            g, p, tmp = g[lo:hi], p[lo:hi], tmp[lo:hi]
        state = [b.data if whole else b.data[lo:hi] for b in self.buffers]
        if kind == "lr":
            g *= self.scalars[0]
        elif kind == "adam":
            (b1, b2, _), (scale, shifted_eps), (m, v) = self.args, self.scalars, state
            m *= b1
            m += g  # b1 * m + g
            v *= b2
            np.multiply(g, g, out=tmp)
            v += tmp  # b2 * v + g * g
            np.sqrt(v, out=tmp)
            tmp += shifted_eps
            np.divide(m, tmp, out=g)
            g *= scale  # (m / (sqrt(v) + eps')) * scale
        elif kind == "trace":
            (decay, nesterov), (v,) = self.args, state
            v *= decay
            v += g  # g + decay * v
            if nesterov:
                np.multiply(v, decay, out=tmp)
                g += tmp  # g + decay * v_new
            else:
                g[...] = v
        elif kind == "rms":
            (decay, eps), (v,) = self.args, state
            v *= decay
            np.multiply(g, g, out=tmp)
            tmp *= 1 - decay
            v += tmp  # decay * v + (1 - decay) * (g * g)
            np.sqrt(v, out=tmp)
            tmp += eps
            g /= tmp  # g / (sqrt(v) + eps)
        elif kind == "clip":
            if self.scalars:
                g *= self.scalars[0]
        elif kind == "decay":
            for start, end in self.weights:  # g + weight_decay * p, on the weight matrices only
                a, b = max(start, lo) - lo, min(end, hi) - lo
                if a < b:
                    g[a:b] += p[a:b] * self.args[0]


def _flatten(transform: GradientTransformation) -> Any:
    """A description tuple, a list of children for a chain, or None if any part is unknown."""
    description = DESCRIPTIONS.get(transform.update)
    if description is None or description[0] != "chain":
        return description
    children = [_flatten(t) for t in description[1]]
    return None if any(child is None for child in children) else children


# A step over more parameters than this runs slice by slice, so that all of a slice's passes
# find its arrays still in the cache (the same arithmetic, element by element).
SLICE_SIZE = 2**18


class FusedOptimizer:
    """An optimizer chain run in place on flat buffers; `state()` gives the pure state records."""

    def __init__(self, tree: Any, params: Flat):
        self.tree = self._build(tree, params)
        self.kernels = list(self._leaves(self.tree))
        self.tmp = np.empty_like(params.data)
        size = params.data.size
        # Only a clip at the very front sees the raw gradients before any slice is rewritten.
        sliced = all(k.kind != "clip" for k in self.kernels[1:]) and size > SLICE_SIZE
        bounds = [*range(0, size, SLICE_SIZE if sliced else size or 1), size]
        self.slices = list(zip(bounds[:-1], bounds[1:]))

    def _build(self, node: Any, params: Flat) -> Any:
        if isinstance(node, list):
            return [self._build(child, params) for child in node]
        return _Kernel(node, params)

    def _leaves(self, node: Any) -> Any:
        if isinstance(node, list):
            for child in node:
                yield from self._leaves(child)
        else:
            yield node

    def load(self, state: Any, node: Any = None) -> None:
        """Take over a pure state record (as `init_optimizer` or an earlier fit returns it)."""
        node = self.tree if node is None else node
        if isinstance(node, list):
            if not isinstance(state, ChainState) or len(state.states) != len(node):
                raise state_mismatch(f"a ChainState of {len(node)} states", state)
            for child, child_state in zip(node, state.states):
                self.load(child_state, child)
        else:
            node.load(state)

    def state(self, node: Any = None) -> Any:
        """The current state as the pure transforms' records (fresh read-only copies)."""
        node = self.tree if node is None else node
        if isinstance(node, list):
            return ChainState(tuple(self.state(child) for child in node))
        return node.state()

    def step(self, grads: Flat, params: Flat) -> None:
        """Turn the gradients in `grads` into updates and add them to `params`, in place."""
        g, p, tmp = grads.data, params.data, self.tmp
        if len(self.slices) == 1:
            for kernel in self.kernels:
                kernel.prepare(grads)
                kernel.apply(g, p, tmp, 0, g.size)
            p += g
            return
        for kernel in self.kernels:
            kernel.prepare(grads)
        for lo, hi in self.slices:
            for kernel in self.kernels:
                kernel.apply(g, p, tmp, lo, hi)
            p[lo:hi] += g[lo:hi]


def compile_optimizer(optimizer: GradientTransformation, params: Flat) -> FusedOptimizer | None:
    """A fused equivalent of `optimizer` for parameters laid out as `params`, if one exists."""
    tree = _flatten(optimizer)
    return None if tree is None else FusedOptimizer(tree, params)
