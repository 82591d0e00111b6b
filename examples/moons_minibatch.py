"""make_moons with minibatch SGD: a fresh shuffle each epoch from an explicit Generator."""

from __future__ import annotations

import numpy as np

import nnfunc as nf
from nnfunc.datasets import load_dataset
from nnfunc.preprocessing import train_test_split


def main(hidden: int = 64, epochs: int = 10, batch_size: int = 10, seed: int = 0) -> float:
    """Train a 2-hidden-2 network with minibatch SGD and return the test accuracy."""
    data = load_dataset("moons", seed=seed)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=0.2, rng=seed, stratify=True
    )
    spec = nf.mlp_spec([2, hidden, 2], activation="relu")
    params = nf.init_params(spec, seed)
    optimizer = nf.sgd(0.1)
    state = nf.init_optimizer(optimizer, params)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            grads = nf.grads(spec, params, X_train[batch], y_train[batch])
            params, state = nf.step(optimizer, params, state, grads)
        print(f"epoch {epoch + 1:3d}  loss {nf.loss(spec, params, X_train, y_train):.4f}")
    accuracy = float(np.mean(nf.predict(spec, params, X_test) == y_test))
    print(f"test accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
