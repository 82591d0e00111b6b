"""The training loop: reproducibility, minibatches, validation, early stopping, divergence."""

import warnings

import numpy as np
import pytest

import nnfunc as nf


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    y = rng.integers(0, 3, 300)
    return centers[y] + rng.normal(size=(300, 2)), y


def _fit(blobs, seed=0, **kw):
    spec = nf.mlp_spec([2, 8, 3], dtype=kw.pop("dtype", "float64"))
    options = {"optimizer": nf.sgd(0.1), "epochs": 20, "rng": seed, "batch_size": 32, **kw}
    return spec, nf.fit(spec, nf.init_params(spec, seed), *blobs, **options)


def test_same_seed_gives_bit_identical_parameters(blobs):
    _, first = _fit(blobs, seed=3)
    _, second = _fit(blobs, seed=3)
    _, other = _fit(blobs, seed=4)
    assert all(
        a.tobytes() == b.tobytes() for a, b in zip(first.params.leaves(), second.params.leaves())
    )
    assert first.history == second.history
    assert first.params != other.params


def test_learns_and_records_history(blobs):
    spec, result = _fit(blobs, validation_split=0.2)
    history = result.history
    assert history.epochs == 20 and len(history.val_loss) == 20
    assert history.metric_name == "accuracy"
    assert history.loss[-1] < history.loss[0] / 3
    assert history.val_metric[-1] > 0.95
    assert (nf.predict(spec, result.params, blobs[0]) == blobs[1]).mean() > 0.95


def test_minibatch_order_changes_every_epoch_but_full_batch_needs_no_rng(blobs):
    spec = nf.mlp_spec([2, 8, 3])
    params = nf.init_params(spec, 0)
    rng = np.random.default_rng(5)
    nf.fit(spec, params, *blobs, optimizer=nf.sgd(0.1), epochs=2, rng=rng, batch_size=50)
    assert rng.bit_generator.state != np.random.default_rng(5).bit_generator.state
    full = [
        nf.fit(spec, params, *blobs, optimizer=nf.sgd(0.1), epochs=3, rng=s).params for s in (1, 2)
    ]
    assert full[0] == full[1]


def test_float32_kept_end_to_end(blobs):
    _, result = _fit(blobs, dtype="float32", validation_split=0.2)
    assert all(a.dtype == np.float32 for a in result.params.leaves())


def test_early_stopping_returns_the_best_parameters(blobs):
    X, y = blobs
    flipped = (y + 1) % 3  # validation labels the network cannot fit: val loss rises quickly
    spec = nf.mlp_spec([2, 8, 3])
    seen = []
    result = nf.fit(
        spec,
        nf.init_params(spec, 0),
        X,
        y,
        optimizer=nf.sgd(0.2),
        epochs=200,
        rng=0,
        batch_size=32,
        validation_data=(X[:50], flipped[:50]),
        early_stopping=True,
        patience=3,
        callback=lambda report: seen.append(report) and False,
    )
    assert result.stopped_early
    assert result.history.epochs == result.best_epoch + 3 < 200
    best = seen[result.best_epoch - 1]
    assert result.params == best.params
    assert min(result.history.val_loss) == result.history.val_loss[result.best_epoch - 1]


def test_callback_can_stop_training(blobs):
    _, result = _fit(blobs, epochs=50, callback=lambda report: report.epoch == 4)
    assert result.history.epochs == 4 and result.stopped_early


def test_fit_epochs_is_an_iterator(blobs):
    spec = nf.mlp_spec([2, 8, 3])
    reports = nf.fit_epochs(
        spec, nf.init_params(spec, 0), *blobs, optimizer=nf.adam(0.01), epochs=5, rng=0
    )
    epochs = [r.epoch for r in reports]
    assert epochs == [1, 2, 3, 4, 5]


def test_divergence_raises_naming_the_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)) * 100
    y = X @ np.array([1.0, 2.0, 3.0])
    spec = nf.mlp_spec([3, 16, 1], loss="mse")
    with (
        warnings.catch_warnings(),
        pytest.raises(nf.TrainingDiverged, match=r"epoch \d+.*smaller learning rate") as info,
    ):
        warnings.simplefilter("error", RuntimeWarning)  # no overflow noise before the error
        nf.fit(spec, nf.init_params(spec, 0), X, y, optimizer=nf.sgd(10.0), epochs=100, rng=0)
    assert info.value.epoch >= 1


def test_regression_history_uses_r2():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(200, 2))
    y = X.sum(axis=1)
    spec = nf.mlp_spec([2, 8, 1], loss="mse")
    result = nf.fit(
        spec,
        nf.init_params(spec, 0),
        X,
        y,
        optimizer=nf.adam(0.02),
        epochs=100,
        rng=0,
        batch_size=20,
    )
    assert result.history.metric_name == "r2"
    assert result.history.metric[-1] > 0.98


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"l2": -1.0}, "l2"),
        ({"validation_split": 1.5}, "validation_split"),
    ],
)
def test_bad_arguments_are_refused(blobs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _fit(blobs, **kwargs)
