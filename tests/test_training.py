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


def _regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=60)


def test_early_stopping_without_validation_keeps_the_parameters_of_the_lowest_loss():
    X, y = _regression()
    spec = nf.mlp_spec([3, 1])
    seen = []
    result = nf.fit(
        spec,
        nf.init_params(spec, 0),
        X,
        y,
        optimizer=nf.sgd(0.1),
        epochs=40,
        rng=0,
        batch_size=10,
        l2=0.01,
        early_stopping=True,
        patience=3,
        callback=lambda report: seen.append(report) and False,
    )
    # The loss each epoch's parameters have on the training rows, as early stopping judges them.
    ends = [nf.loss(spec, report.params, X, y, l2=0.01) for report in seen]
    best = int(np.argmin(ends)) + 1
    assert result.stopped_early and result.best_epoch == best
    assert nf.loss(spec, result.params, X, y, l2=0.01) == min(ends)
    assert all(report.best_epoch == int(np.argmin(ends[: report.epoch])) + 1 for report in seen)
    # history.loss keeps its meaning: the mean batch loss, each batch taken before its update.
    assert result.history.loss != tuple(ends)


def test_history_loss_is_the_loss_before_each_full_batch_update():
    X, y = _regression()
    spec = nf.mlp_spec([3, 1])
    params = nf.init_params(spec, 0)
    result = nf.fit(spec, params, X, y, optimizer=nf.sgd(0.1), epochs=2, rng=0, early_stopping=True)
    assert result.history.loss[0] == nf.loss(spec, params, X, y)


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        (lambda X, y: (X[:3], y[:1]), "validation X has 3 rows but y has 1"),
        (lambda X, y: (X[:0], y[:0]), "validation data has no rows"),
        (lambda X, y: (X[:5], y[:5] + 3), r"class labels must lie in \[0, 2\]"),
        (lambda X, y: (X[:5],), "pair"),
    ],
)
def test_validation_data_is_checked(blobs, validation, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=message):
            _fit(blobs, validation_data=validation(*blobs))


def test_empty_regression_validation_data_is_refused_without_warnings():
    X, y = _regression()
    spec = nf.mlp_spec([3, 1])
    with warnings.catch_warnings(), pytest.raises(ValueError, match="no rows"):
        warnings.simplefilter("error")
        nf.fit(
            spec,
            nf.init_params(spec, 0),
            X,
            y,
            optimizer=nf.sgd(0.1),
            epochs=1,
            rng=0,
            validation_data=(X[:0], y[:0]),
        )


def test_validation_split_and_validation_data_together_are_refused(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="not both"):
        _fit(blobs, validation_split=0.5, validation_data=(X[:10], y[:10]))


@pytest.mark.parametrize("optimizer", [nf.sgd(1e308), nf.momentum(1e308), nf.adam(1e308)])
@pytest.mark.parametrize("batch_size", [None, 8])
def test_divergence_is_only_ever_reported_as_training_diverged(optimizer, batch_size):
    X, y = _regression()
    spec = nf.mlp_spec([3, 8, 1])
    with warnings.catch_warnings(), pytest.raises(nf.TrainingDiverged):
        warnings.simplefilter("error")  # as under python -W error
        nf.fit(
            spec,
            nf.init_params(spec, 0),
            X * 10,
            y,
            optimizer=optimizer,
            epochs=3,
            rng=0,
            batch_size=batch_size,
        )


def test_a_validation_loss_that_overflows_is_divergence_not_a_warning():
    X, y = _regression()
    spec = nf.mlp_spec([3, 1])
    with warnings.catch_warnings(), pytest.raises(nf.TrainingDiverged, match="became inf"):
        warnings.simplefilter("error")
        nf.fit(
            spec,
            nf.init_params(spec, 0),
            X,
            y,
            optimizer=nf.sgd(0.1),
            epochs=2,
            rng=0,
            validation_data=(X * 1e300, y),
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"l2": float("nan")}, ValueError, "l2 must be a non-negative finite number"),
        ({"l2": float("inf")}, ValueError, "l2"),
        ({"min_delta": float("nan")}, ValueError, "min_delta must be a non-negative finite"),
        ({"min_delta": -0.1}, ValueError, "min_delta"),
        ({"patience": 2.5}, TypeError, "patience must be an integer"),
        ({"patience": True}, TypeError, "patience"),
        ({"patience": 0}, ValueError, "patience must be at least 1"),
        ({"batch_size": True}, TypeError, "batch_size must be an integer, got bool"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"epochs": True}, TypeError, "epochs must be an integer"),
        ({"epochs": 3.0}, TypeError, "epochs"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ],
)
def test_arguments_of_the_wrong_type_or_value_are_refused(blobs, kwargs, error, message):
    with pytest.raises(error, match=message):
        _fit(blobs, early_stopping=True, **kwargs)


def test_numpy_integers_are_accepted_as_counts(blobs):
    _, result = _fit(blobs, epochs=np.int64(2), batch_size=np.int32(50), patience=np.int64(1))
    assert result.history.epochs == 2


def test_fit_refuses_params_that_do_not_match_the_spec():
    spec = nf.mlp_spec([2, 5, 3])
    params = nf.init_params(nf.mlp_spec([2, 3]), 0)
    with pytest.raises(ValueError, match="1 layer"):
        nf.fit(spec, params, np.ones((4, 2)), [0, 1, 2, 1], optimizer=nf.sgd(0.1), epochs=1, rng=0)


def test_layers_before_a_zero_gradient_activation_are_named_in_a_warning(blobs):
    X, y = blobs
    spec = nf.mlp_spec([2, 6, 5, 3], activation=["relu", "binary_step"])
    params = nf.init_params(spec, 0)
    with pytest.warns(nf.ZeroGradientWarning) as seen:
        result = nf.fit(spec, params, X, y, optimizer=nf.sgd(0.1), epochs=2, rng=0)
    assert [str(w.message) for w in seen] == [
        "binary_step after dense layer 2 has a zero derivative: layers 1 to 2 receive no gradient "
        "and keep their initial weights (only the layers after it train)"
    ]
    # what the warning says: the layers before the step keep their weights, the last one learns
    assert result.params.layers[:2] == params.layers[:2]
    assert result.params.layers[2] != params.layers[2]


def test_a_zero_gradient_output_warns_that_nothing_trains(blobs):
    X, _ = blobs
    spec = nf.mlp_spec([2, 4, 1], output_activation="binary_step", loss="mse")
    params = nf.init_params(spec, 0)
    with pytest.warns(nf.ZeroGradientWarning, match="no layer receives a gradient"):
        result = nf.fit(spec, params, X, X[:, 0], optimizer=nf.sgd(0.1), epochs=1, rng=0)
    assert result.params == params


def test_networks_that_can_learn_get_no_zero_gradient_warning(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(blobs, epochs=1)


def test_a_custom_transform_with_float64_updates_keeps_a_float32_fit_float32(blobs):
    # fit's pure path used to crash (numpy's "output array is not acceptable"); step casts back
    from nnfunc.optim import GradientTransformation, scale_by_learning_rate

    X, y = blobs
    spec = nf.mlp_spec([2, 4, 3], dtype="float32")
    params = nf.init_params(spec, 0)
    widen = GradientTransformation(
        lambda leaves: None, lambda g, s, p: (tuple(a.astype(np.float64) for a in g), s)
    )
    optimizer = nf.chain(widen, scale_by_learning_rate(0.1))
    result = nf.fit(spec, params, X, y, optimizer=optimizer, epochs=2, rng=0)
    assert all(a.dtype == np.float32 for a in result.params.leaves())
    manual, state = params, nf.init_optimizer(optimizer, params)
    for _ in range(2):
        manual, state = nf.step(optimizer, manual, state, nf.grads(spec, manual, X, y))
    assert manual == result.params


def test_callback_reports_count_improvements_as_early_stopping_does(blobs):
    # with min_delta, every report said improved while fit stopped for want of improvement
    X, y = blobs
    spec = nf.mlp_spec([2, 8, 3])
    reports = []
    result = nf.fit(spec, nf.init_params(spec, 0), X, y, optimizer=nf.sgd(0.05), epochs=200,
                    rng=0, validation_split=0.3, early_stopping=True, patience=5, min_delta=0.01,
                    callback=reports.append)  # fmt: skip
    assert result.stopped_early and reports[-1].best_epoch == result.best_epoch
    assert [r.epoch for r in reports if r.improved][-1] == result.best_epoch
    assert reports[result.best_epoch - 1].params == result.params


def test_fit_resumes_from_an_earlier_optimizer_state(blobs):
    X, y = blobs
    spec = nf.mlp_spec([2, 8, 3])
    options = {"optimizer": nf.adam(0.01), "rng": 0}  # full batch: the same steps either way
    whole = nf.fit(spec, nf.init_params(spec, 1), X, y, epochs=4, **options)
    first = nf.fit(spec, nf.init_params(spec, 1), X, y, epochs=2, **options)
    rest = nf.fit(spec, first.params, X, y, epochs=2, opt_state=first.opt_state, **options)
    assert rest.params == whole.params and rest.opt_state == whole.opt_state


def test_the_history_r2_holds_for_targets_far_from_zero():
    # a sum of y**2 minus n * mean**2 lost every digit at 1e8 + noise (it reported 0.0)
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 1))
    y = 1e8 + X[:, 0] + 0.01 * rng.normal(size=200)
    spec = nf.mlp_spec([1, 1], loss="mse")
    params = nf.Params.from_leaves([np.array([[1.0]]), np.array([1e8])])
    result = nf.fit(
        spec, params, X, y, optimizer=nf.sgd(1e-12), epochs=1, rng=0, validation_data=(X, y)
    )
    expected = sk.r2_score(y, nf.forward(spec, params, X)[:, 0])
    assert result.history.val_metric[0] == pytest.approx(expected, rel=1e-9)
    assert result.history.metric[0] == pytest.approx(expected, rel=1e-9)
