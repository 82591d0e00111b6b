"""Prediction latency: one row and 1000 rows, through nnfunc's APIs and the peers.

The model is the Iris recipe (4-6-3) trained by `nnfunc.pipeline.train_model`. nnfunc is timed
three ways: the functional API on already scaled rows (`nnfunc.predict`), the `Model` API on raw
rows (scaling and label decoding included) in memory, and the same after a save/load round trip
through a model file. The peers get the same weights and the scaled rows.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

import numpy as np

import nnfunc as nf
from benchmarks.peers import available
from nnfunc.datasets import load_dataset
from nnfunc.model import Model
from nnfunc.model import predict as model_predict
from nnfunc.pipeline import RECIPES, train_model
from nnfunc.preprocessing import scale


def per_call(fn: Callable[[], object], number: int) -> float:
    """Mean seconds per call of `number` calls."""
    start = perf_counter()
    for _ in range(number):
        fn()
    return (perf_counter() - start) / number


def _loaded(model: Model) -> tuple[Model | None, str]:
    """The model after a save/load round trip, or None when there is no model file module."""
    try:
        from nnfunc.modelfile import load_model, save_model
    except ImportError:
        return None, "nnfunc.modelfile is not available"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "iris.msgpack"
        save_model(model, path)
        return load_model(path), f"{path.stat().st_size} byte model file"


def _sklearn_predictor(model: Model) -> Callable[[np.ndarray], np.ndarray]:
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=model.spec.sizes[1:-1], max_iter=1)
    X = np.zeros((3, model.spec.n_inputs))
    clf.partial_fit(X, np.arange(3), classes=np.arange(3))
    leaves = [np.array(a) for a in model.params.leaves()]
    clf.coefs_, clf.intercepts_ = leaves[::2], leaves[1::2]
    return clf.predict


def _torch_predictor(model: Model) -> Callable[[np.ndarray], object]:
    import torch

    layers: list = []
    leaves = model.params.leaves()
    for k in range(0, len(leaves), 2):
        linear = torch.nn.Linear(*leaves[k].shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(leaves[k].T.copy()))
            linear.bias.copy_(torch.from_numpy(leaves[k + 1].copy()))
        layers += [linear, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).eval()

    def predict(rows: np.ndarray) -> object:
        with torch.inference_mode():
            return net(torch.from_numpy(rows)).argmax(dim=1).numpy()

    return predict


def measure(quick: bool = False) -> dict:
    """Seconds per call for each way of predicting, one row and 1000 rows."""
    data = load_dataset("iris")
    model = train_model(data, RECIPES["iris"])
    loaded, how = _loaded(model)
    rng = np.random.default_rng(0)
    raw = data.X[rng.integers(0, len(data.X), 1000)]
    scaled = scale(model.feature_scaler, raw) if model.feature_scaler is not None else raw
    calls = {
        "nnfunc.predict (functional API, scaled rows)": lambda X: nf.predict(
            model.spec, model.params, X
        ),
        "nnfunc Model in memory (raw rows, labels out)": lambda X: model_predict(model, X),
    }
    if loaded is not None:
        calls["nnfunc Model from a model file (raw rows, labels out)"] = lambda X: model_predict(
            loaded, X
        )
    if available("sklearn"):
        calls["scikit-learn MLPClassifier.predict (scaled rows)"] = _sklearn_predictor(model)
    if available("torch"):
        calls["PyTorch eager, inference_mode (scaled rows)"] = _torch_predictor(model)
    number, rounds = (50, 3) if quick else (5000, 9)
    # The rounds take turns over all the ways (about 15 s in all), so that a slow spell of the
    # machine (its speed drifts up to 2x over seconds) hits them alike; the median over rounds
    # is the figure, the fastest round shows what the code does on a quiet machine.
    inputs = {}
    for name, fn in calls.items():
        rows = raw if "raw rows" in name else scaled
        inputs[name] = (rows[:1].copy(), rows.copy())
        for _ in range(100):  # warm-up
            fn(inputs[name][0])
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            one, many = inputs[name]
            samples[name][0].append(per_call(lambda fn=fn, one=one: fn(one), number))
            samples[name][1].append(
                per_call(lambda fn=fn, many=many: fn(many), max(number // 50, 10))
            )
    results = {
        name: {
            "one_row_s": statistics.median(one),
            "one_row_fastest_s": min(one),
            "1000_rows_s": statistics.median(many),
            "1000_rows_fastest_s": min(many),
        }
        for name, (one, many) in samples.items()
    }
    agree = (model_predict(loaded or model, raw) == model_predict(model, raw)).all()
    return {"model_file": how, "calls": results, "loaded_model_agrees": bool(agree)}
