"""The implementations being compared, each trained on the same `Problem` and timed alike.

Every runner takes a `Problem`, builds its model from the problem's initial weights outside the
timed region, trains through the problem's batch orders, and returns the wall time of training and
the final epoch's mean training loss (the loss of each batch before its update, weighted by rows:
nnfunc's `history.loss`, scikit-learn's `loss_curve_`), so equal losses prove equal work.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Iterator
from time import perf_counter

import attrs
import numpy as np

import nnfunc as nf
from benchmarks.workloads import Problem

# Above this, loops gather each batch's rows instead of copying the whole permuted data set.
PERMUTE_WHOLE_BYTES = 32 * 2**20


@attrs.frozen
class Outcome:
    """Seconds spent training and the last epoch's mean training loss."""

    seconds: float
    loss: float


def _batches(problem: Problem, epoch: int, X: np.ndarray, y: np.ndarray) -> Iterator[tuple]:
    """The epoch's (rows, labels) batches in the problem's order; works for numpy and torch."""
    bs = problem.workload.batch_size
    if problem.orders is None:
        yield X, y
        return
    order = problem.orders[epoch]
    n = len(order)
    if problem.X.nbytes <= PERMUTE_WHOLE_BYTES:
        Xs, ys = X[order], y[order]
        for i in range(0, n, bs):
            yield Xs[i : i + bs], ys[i : i + bs]
    else:
        for i in range(0, n, bs):
            idx = order[i : i + bs]
            yield X[idx], y[idx]


def run_nnfunc(problem: Problem) -> Outcome:
    """nnfunc's public `fit`."""
    w = problem.workload
    spec = w.spec()
    params = nf.Params.from_leaves(problem.leaves)
    optimizer = nf.make_optimizer(w.optimizer, w.lr)
    start = perf_counter()
    result = nf.fit(
        spec,
        params,
        problem.X,
        problem.y,
        optimizer=optimizer,
        epochs=w.epochs,
        rng=w.seed,
        batch_size=w.batch_size,
    )
    return Outcome(perf_counter() - start, result.history.loss[-1])


def run_numpy(problem: Problem) -> Outcome:
    """A careful hand-written numpy loop: ReLU MLP, softmax cross-entropy, in-place SGD or Adam."""
    w = problem.workload
    params = problem.initial_leaves()
    n_layers = len(params) // 2
    lr, b1, b2, eps = w.lr, 0.9, 0.999, 1e-8
    adam = w.optimizer == "adam"
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    X, y = problem.X, problem.y
    start = perf_counter()
    for epoch in range(w.epochs):
        total = 0.0
        for xb, yb in _batches(problem, epoch, X, y):
            acts = [xb]
            for k in range(n_layers):
                z = acts[-1] @ params[2 * k]
                z += params[2 * k + 1]
                if k < n_layers - 1:
                    acts.append(np.maximum(z, 0, out=z))
            rows = np.arange(len(yb))
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            s = e.sum(axis=1, keepdims=True)
            total += float(np.sum(np.log(s[:, 0]) - z[rows, yb]))
            e /= s
            e[rows, yb] -= 1.0
            delta = e / len(yb)
            grads = [None] * len(params)
            for k in range(n_layers - 1, -1, -1):
                grads[2 * k] = acts[k].T @ delta
                grads[2 * k + 1] = delta.sum(axis=0)
                if k:
                    delta = delta @ params[2 * k].T
                    delta *= acts[k] > 0
            if adam:
                t += 1
                c1, c2 = 1.0 / (1.0 - b1**t), 1.0 / (1.0 - b2**t)
                for p, g, mk, vk in zip(params, grads, m, v):
                    mk *= b1
                    mk += (1 - b1) * g
                    vk *= b2
                    vk += (1 - b2) * (g * g)
                    p -= lr * (mk * c1) / (np.sqrt(vk * c2) + eps)
            else:
                for p, g in zip(params, grads):
                    p -= lr * g
        loss = total / len(X)
    return Outcome(perf_counter() - start, loss)


def run_sklearn(problem: Problem) -> Outcome:
    """scikit-learn's MLPClassifier (one logistic output for two classes: W2 uses 2-64-1).

    The weights are set after a one-batch `partial_fit` creates the model; minibatch workloads
    then call `partial_fit` once per epoch on the rows in the problem's order (shuffle=False),
    the full-batch workload calls `fit` once with `warm_start`.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    w = problem.workload
    X, y = problem.X, problem.y
    full = problem.orders is None
    clf = MLPClassifier(
        hidden_layer_sizes=w.sizes[1:-1],
        activation="relu",
        solver=w.optimizer,
        alpha=0.0,
        batch_size=w.batch_size or len(X),
        learning_rate_init=w.lr,
        max_iter=1,
        shuffle=False,
        momentum=0.0,
        nesterovs_momentum=False,
        tol=0.0,
        n_iter_no_change=2**30,
        warm_start=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X[: clf.batch_size], y[: clf.batch_size], classes=np.unique(y))
    shapes = [c.shape for c in clf.coefs_]
    if shapes != [p.shape for p in problem.leaves[::2]]:
        raise ValueError(f"scikit-learn built layers {shapes}; the problem has other sizes")
    leaves = problem.initial_leaves()
    clf.coefs_, clf.intercepts_ = leaves[::2], leaves[1::2]
    del clf._optimizer  # private: makes the next call start a fresh optimizer on these weights
    clf.loss_curve_, clf.t_, clf.best_loss_, clf._no_improvement_count = [], 0, np.inf, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = perf_counter()
        if full:
            clf.set_params(max_iter=w.epochs)
            clf.fit(X, y)
        else:
            for order in problem.orders:
                clf.partial_fit(X[order], y[order])
        seconds = perf_counter() - start
    return Outcome(seconds, float(clf.loss_curve_[-1]))


def run_torch(problem: Problem) -> Outcome:
    """PyTorch eager on the CPU: nn.Sequential of Linear and ReLU, CrossEntropyLoss, SGD or Adam."""
    import torch

    w = problem.workload
    dtype = getattr(torch, w.dtype)
    layers: list = []
    n_layers = len(problem.leaves) // 2
    for k in range(n_layers):
        weight, bias = problem.leaves[2 * k], problem.leaves[2 * k + 1]
        linear = torch.nn.Linear(*weight.shape, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight.T.copy()))
            linear.bias.copy_(torch.from_numpy(bias.copy()))
        layers += [linear] if k == n_layers - 1 else [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers)
    if w.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=w.lr, betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=w.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    X, y = torch.from_numpy(problem.X), torch.from_numpy(problem.y)
    start = perf_counter()
    for epoch in range(w.epochs):
        total = 0.0
        for xb, yb in _batches(problem, epoch, X, y):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
    return Outcome(perf_counter() - start, total / len(problem.X))


RUNNERS: dict[str, Callable[[Problem], Outcome]] = {
    "nnfunc": run_nnfunc,
    "numpy": run_numpy,
    "sklearn": run_sklearn,
    "torch": run_torch,
}
MODULES = {"nnfunc": "nnfunc", "numpy": "numpy", "sklearn": "sklearn", "torch": "torch"}
PEERS = ("numpy", "sklearn", "torch")


def available(name: str) -> bool:
    """True when the implementation's package is installed (peers are optional)."""
    return importlib.util.find_spec(MODULES[name]) is not None
