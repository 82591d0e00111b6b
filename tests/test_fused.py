"""The fused in-place optimizer kernels give exactly what the pure transforms give."""

import numpy as np
import pytest

import nnfunc as nf
import nnfunc.fused
from nnfunc.optim import (
    ChainState,
    CountState,
    EmptyState,
    GradientTransformation,
    scale_by_adam,
    scale_by_learning_rate,
    trace,
)
from nnfunc.schedules import make_schedule

OPTIMIZERS = {
    "sgd": lambda: nf.sgd(0.05),
    "momentum": lambda: nf.momentum(0.05),
    "nesterov": lambda: nf.nesterov(0.05),
    "adam": lambda: nf.adam(0.01),
    "adamw": lambda: nf.adamw(0.01, weight_decay=0.1),
    "rmsprop": lambda: nf.rmsprop(0.01),
    "clipped adam": lambda: nf.adam(0.01, clip_norm=0.5),
    "cosine sgd": lambda: nf.sgd(make_schedule("cosine", 0.1, total_steps=30)),
    "hand chain": lambda: nf.chain(trace(0.5), scale_by_learning_rate(0.1)),
    # NumPy scalars as hyper-parameters: float32 runs must stay float32 on both paths.
    "numpy scalars": lambda: nf.adamw(
        0.01, weight_decay=np.float64(0.1), b1=np.float64(0.9), eps=np.float64(1e-8)
    ),
    "numpy momentum": lambda: nf.nesterov(0.05, beta=np.float64(0.9), clip_norm=np.float64(1.0)),
    "numpy rmsprop": lambda: nf.rmsprop(0.01, decay=np.float64(0.9)),
}


def _pure(optimizer):
    """The same optimizer behind a transform the fuser does not know: it runs as written."""
    return GradientTransformation(optimizer.init, lambda g, s, p: optimizer.update(g, s, p))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(70, 5)), rng.integers(0, 3, 70)


def _fit(data, optimizer, dtype="float64", **kw):
    spec = nf.mlp_spec([5, 7, 3], dtype=dtype)
    options = {"epochs": 3, "rng": 2, "batch_size": 16, "l2": 0.01, **kw}
    return nf.fit(spec, nf.init_params(spec, 1), *data, optimizer=optimizer, **options)


def _same(a, b):
    leaves = zip(a.params.leaves(), b.params.leaves())
    return all(x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in leaves)


@pytest.mark.parametrize("sliced", [False, True], ids=["whole buffer", "slice by slice"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fused_training_is_bit_identical_to_the_pure_transforms(
    data, name, dtype, sliced, monkeypatch
):
    if sliced:  # as for a large network: the update runs in slices of 7 parameters
        monkeypatch.setattr(nnfunc.fused, "SLICE_SIZE", 7)
    fused = _fit(data, OPTIMIZERS[name](), dtype)
    pure = _fit(data, _pure(OPTIMIZERS[name]()), dtype)
    assert _same(fused, pure)
    assert fused.opt_state == pure.opt_state
    assert fused.history == pure.history


def test_fit_equals_the_loop_of_value_and_grads_and_step(data):
    spec = nf.mlp_spec([5, 7, 3])
    params = nf.init_params(spec, 1)
    optimizer = nf.adam(0.01)
    state = nf.init_optimizer(optimizer, params)
    for _ in range(4):
        _, grads = nf.value_and_grads(spec, params, *data)
        params, state = nf.step(optimizer, params, state, grads)
    result = nf.fit(spec, nf.init_params(spec, 1), *data, optimizer=optimizer, epochs=4, rng=0)
    assert result.params == params and result.opt_state == state


def test_a_run_resumed_from_its_state_continues_exactly(data):
    spec = nf.mlp_spec([5, 7, 3])
    optimizer = nf.adam(0.01)
    options = {"optimizer": optimizer, "rng": 0}  # full batch: the same steps either way
    whole = list(nf.fit_epochs(spec, nf.init_params(spec, 1), *data, epochs=4, **options))[-1]
    first = list(nf.fit_epochs(spec, nf.init_params(spec, 1), *data, epochs=2, **options))[-1]
    rest = nf.fit_epochs(spec, first.params, *data, epochs=2, opt_state=first.opt_state, **options)
    last = list(rest)[-1]
    assert last.params == whole.params and last.opt_state == whole.opt_state


def test_reports_never_change_after_they_are_handed_out(data):
    spec = nf.mlp_spec([5, 7, 3])
    reports = list(
        nf.fit_epochs(spec, nf.init_params(spec, 1), *data, optimizer=nf.adam(0.1), epochs=3, rng=0)
    )
    first = reports[0].params.leaves()[0]
    assert not first.flags.writeable and first.base.base is None  # a copy, not the loop's buffer
    assert first.base.nbytes == first.nbytes
    assert reports[0].params != reports[2].params


def _unfusable(*transforms):
    """A chain holding a transform the fuser does not know: the loop runs it on the pure path."""
    identity = GradientTransformation(lambda leaves: EmptyState(), lambda g, s, p: (tuple(g), s))
    return nf.chain(identity, *transforms)


@pytest.mark.parametrize(
    ("optimizer", "state_of", "expected"),
    [
        (nf.momentum(0.1), nf.adam(0.1), "expected TraceState, got ScaleByAdamState"),
        (nf.rmsprop(0.1), nf.adam(0.1), "expected ScaleByRmsState, got ScaleByAdamState"),
        (nf.sgd(0.1, clip_norm=1.0), nf.adam(0.1), "expected EmptyState, got ScaleByAdamState"),
        (nf.adam(0.1), nf.sgd(0.1), "expected a ChainState of 2 states, got a ChainState of 1"),
        (
            _unfusable(trace(0.9), scale_by_learning_rate(0.1)),
            _unfusable(scale_by_adam(), scale_by_learning_rate(0.1)),
            "expected TraceState, got ScaleByAdamState",
        ),
    ],
    ids=["momentum", "rmsprop", "clipped sgd", "adam", "pure path"],
)
def test_resuming_with_another_optimizers_state_is_a_type_error(
    data, optimizer, state_of, expected
):
    spec = nf.mlp_spec([5, 7, 3])
    params = nf.init_params(spec, 1)
    state = nf.init_optimizer(state_of, params)
    with pytest.raises(TypeError, match=f"does not match the optimizer: {expected}"):
        next(
            nf.fit_epochs(
                spec, params, *data, optimizer=optimizer, epochs=1, rng=0, opt_state=state
            )
        )


def test_the_pure_path_refuses_a_state_for_other_parameters(data):
    spec = nf.mlp_spec([5, 7, 3])
    params = nf.init_params(spec, 1)
    optimizer = _unfusable(trace(0.9), scale_by_learning_rate(0.1))
    other = nf.init_optimizer(optimizer, nf.init_params(nf.mlp_spec([5, 4, 3]), 1))
    assert isinstance(other, ChainState) and other.states[2] == CountState(0)
    with pytest.raises(ValueError, match="velocity does not match the parameters' shapes"):
        next(
            nf.fit_epochs(
                spec, params, *data, optimizer=optimizer, epochs=1, rng=0, opt_state=other
            )
        )
