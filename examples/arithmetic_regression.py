"""Learn a+b, a-b and |a-b| with standardized inputs and targets (scalers fitted on train only)."""

from __future__ import annotations

import nnfunc as nf
from nnfunc.datasets import load_dataset
from nnfunc.metrics import r2_score
from nnfunc.preprocessing import fit_scaler, scale, train_test_split, unscale


def main(epochs: int = 300, seed: int = 0) -> list[float]:
    """Train a 2-16-3 regressor with `fit`; return the test R2 of each target."""
    data = load_dataset("arithmetic", seed=seed)
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, test_size=0.2, rng=seed)
    x_scaler, y_scaler = fit_scaler(X_train), fit_scaler(y_train)
    spec = nf.mlp_spec([2, 16, 3], activation="relu", loss="mse")
    result = nf.fit(
        spec,
        nf.init_params(spec, seed),
        scale(x_scaler, X_train),
        scale(y_scaler, y_train),
        optimizer=nf.adam(0.01),
        epochs=epochs,
        batch_size=32,
        rng=seed,
    )
    predicted = unscale(y_scaler, nf.forward(spec, result.params, scale(x_scaler, X_test)))
    scores = [float(s) for s in r2_score(y_test, predicted, per_output=True)]
    for name, score in zip(data.target_names, scores):
        print(f"{name:>20s}  R2 {score:.4f}")
    return scores


if __name__ == "__main__":
    main()
