"""Iris with a 4-6-3 relu/softmax network, trained by a loop written with the five functions."""

from __future__ import annotations

import numpy as np

import nnfunc as nf
from nnfunc.datasets import load_dataset
from nnfunc.preprocessing import encode_labels, fit_labels, fit_scaler, scale, train_test_split


def main(epochs: int = 2000, seed: int = 0) -> float:
    """Train full-batch gradient descent and return the test accuracy."""
    data = load_dataset("iris")
    y = encode_labels(fit_labels(data.y), data.y)
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, y, test_size=0.2, rng=seed, stratify=True
    )
    scaler = fit_scaler(X_train)  # fitted on the training rows only
    X_train, X_test = scale(scaler, X_train), scale(scaler, X_test)

    spec = nf.mlp_spec([4, 6, 3], activation="relu")
    params = nf.init_params(spec, seed)
    optimizer = nf.sgd(0.1)
    state = nf.init_optimizer(optimizer, params)
    for epoch in range(epochs):
        value, grads = nf.value_and_grads(spec, params, X_train, y_train)
        params, state = nf.step(optimizer, params, state, grads)
        if epoch % 500 == 0:
            print(f"epoch {epoch:5d}  loss {value:.4f}")
    accuracy = float(np.mean(nf.predict(spec, params, X_test) == y_test))
    print(f"test accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
