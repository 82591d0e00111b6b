"""Optimizers: pure updates, the textbook formulas, schedules, clipping and configs."""

import math

import numpy as np
import pytest

import nnfunc as nf
from nnfunc.optim import optimizer_from_config
from nnfunc.params import Dense, Params
from nnfunc.schedules import make_schedule, run_schedule, schedule_from_dict, schedule_to_dict


def _params(*values):
    w = np.array(values, dtype=float).reshape(1, -1)
    return Params([Dense(w, np.zeros(w.shape[1]))])


def _run(optimizer, grads_seq, start=(1.0, -2.0)):
    params = _params(*start)
    state = nf.init_optimizer(optimizer, params)
    for g in grads_seq:
        params, state = nf.step(optimizer, params, state, _params(*g))
    return params.layers[0].w[0]


GRADS = [(0.5, -1.0), (0.2, 0.4), (-0.3, 0.1)]


def test_step_leaves_its_inputs_bit_identical():
    spec = nf.mlp_spec([3, 4, 2])
    params = nf.init_params(spec, 0)
    X, y = np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    grads = nf.grads(spec, params, X, y)
    for optimizer in (nf.sgd(0.1), nf.adam(0.1), nf.nesterov(0.1), nf.adamw(0.1)):
        state = nf.init_optimizer(optimizer, params)
        snapshots = [a.copy() for a in (*params.leaves(), *grads.leaves())]
        new_params, new_state = nf.step(optimizer, params, state, grads)
        for before, now in zip(snapshots, (*params.leaves(), *grads.leaves())):
            assert before.tobytes() == now.tobytes()
        assert new_params != params and new_state != state
        assert nf.init_optimizer(optimizer, params) == state
        with pytest.raises(ValueError):
            new_params.layers[0].w[0, 0] = 0.0


def test_sgd_and_momentum_match_the_textbook():
    lr, beta = 0.1, 0.9
    p, v = np.array([1.0, -2.0]), np.zeros(2)
    p_n, v_n = p.copy(), np.zeros(2)
    p_s = p.copy()
    for g in map(np.array, GRADS):
        p_s = p_s - lr * g
        v = beta * v + g
        p = p - lr * v
        v_n = beta * v_n + g
        p_n = p_n - lr * (g + beta * v_n)
    np.testing.assert_allclose(_run(nf.sgd(lr), GRADS), p_s)
    np.testing.assert_allclose(_run(nf.momentum(lr, beta=beta), GRADS), p)
    np.testing.assert_allclose(_run(nf.nesterov(lr, beta=beta), GRADS), p_n)


def test_adam_adamw_rmsprop_match_the_textbook():
    lr, b1, b2, eps, wd, decay = 0.01, 0.9, 0.999, 1e-8, 0.1, 0.9
    p = np.array([1.0, -2.0])
    pa, pw, pr = p.copy(), p.copy(), p.copy()
    m = v = mw = vw = nu = np.zeros(2)
    for t, g in enumerate(map(np.array, GRADS), start=1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        pa = pa - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        mw, vw = b1 * mw + (1 - b1) * g, b2 * vw + (1 - b2) * g * g
        pw = pw - lr * ((mw / (1 - b1**t)) / (np.sqrt(vw / (1 - b2**t)) + eps) + wd * pw)
        nu = decay * nu + (1 - decay) * g * g
        pr = pr - lr * g / (np.sqrt(nu) + eps)
    np.testing.assert_allclose(_run(nf.adam(lr), GRADS), pa)
    np.testing.assert_allclose(_run(nf.adamw(lr, weight_decay=wd), GRADS), pw)
    np.testing.assert_allclose(_run(nf.rmsprop(lr, decay=decay), GRADS), pr)


def test_adamw_does_not_decay_biases():
    params = Params([Dense(np.ones((1, 2)), np.ones(2))])
    zero = Params([Dense(np.zeros((1, 2)), np.zeros(2))])
    optimizer = nf.adamw(0.1, weight_decay=0.5)
    new, _ = nf.step(optimizer, params, nf.init_optimizer(optimizer, params), zero)
    np.testing.assert_allclose(new.layers[0].w, 1 - 0.1 * 0.5)
    np.testing.assert_array_equal(new.layers[0].b, 1.0)


@pytest.mark.parametrize("size", [1e18, 1e20, 1e37])
def test_clipping_huge_float32_gradients_clips_them_instead_of_zeroing(size):
    # a float32 sum of squares overflowed past a norm of 1.8e19: the scale became 0
    spec = nf.mlp_spec([1, 1], loss="mse", dtype="float32")
    params = nf.init_params(spec, 0)
    optimizer = nf.sgd(0.1, clip_norm=0.1)
    g = np.full((1, 1), size, np.float32)
    grads = Params.from_leaves([g, g[0]])
    new, _ = nf.step(optimizer, params, nf.init_optimizer(optimizer, params), grads)
    moved = [n - o for n, o in zip(new.leaves(), params.leaves())]
    np.testing.assert_allclose([m.item() for m in moved], [-0.1 * 0.1 / math.sqrt(2)] * 2, 1e-5)
    from nnfunc.fused import Flat, compile_optimizer

    flat, grad_flat = Flat([(1, 1), (1,)], np.float32), Flat([(1, 1), (1,)], np.float32)
    flat.load(params.leaves())
    grad_flat.load(grads.leaves())
    compile_optimizer(optimizer, flat).step(grad_flat, flat)  # the fused path, as `fit` runs it
    assert [a.tolist() for a in flat.views] == [a.tolist() for a in new.leaves()]


def test_clip_by_global_norm_scales_all_gradients_together():
    clipped = _run(nf.sgd(1.0, clip_norm=1.0), [(3.0, 4.0)], start=(0.0, 0.0))
    np.testing.assert_allclose(clipped, [-0.6, -0.8])
    unclipped = _run(nf.sgd(1.0, clip_norm=10.0), [(3.0, 4.0)], start=(0.0, 0.0))
    np.testing.assert_allclose(unclipped, [-3.0, -4.0])


def test_chain_composes_small_transforms():
    from nnfunc.optim import scale_by_learning_rate, trace

    handmade = nf.chain(trace(0.9), scale_by_learning_rate(0.1))
    np.testing.assert_array_equal(_run(handmade, GRADS), _run(nf.momentum(0.1), GRADS))


@pytest.mark.parametrize(
    ("name", "options", "counts", "expected"),
    [
        ("constant", {}, [0, 100], [0.1, 0.1]),
        ("step", {"step_size": 10, "gamma": 0.5}, [0, 9, 10, 25], [0.1, 0.1, 0.05, 0.025]),
        (
            "exponential",
            {"decay_rate": 0.5, "decay_steps": 10},
            [0, 10, 5],
            [0.1, 0.05, 0.1 / 2**0.5],
        ),
        ("invscaling", {"power_t": 0.5}, [0, 3], [0.1, 0.05]),
        ("cosine", {"total_steps": 10}, [0, 5, 10, 20], [0.1, 0.05, 0.0, 0.0]),
    ],
)
def test_schedules(name, options, counts, expected):
    schedule = make_schedule(name, 0.1, **options)
    assert [schedule(c) for c in counts] == pytest.approx(expected, abs=1e-12)
    assert schedule_from_dict(schedule_to_dict(schedule)) == schedule


def test_scheduled_sgd_uses_the_step_count():
    lr = make_schedule("step", 1.0, step_size=1, gamma=0.5)
    assert _run(nf.sgd(lr), [(1.0, 0.0)] * 3, start=(0.0, 0.0))[0] == pytest.approx(-1.75)


def test_configs_rebuild_the_same_optimizer():
    for optimizer in (nf.adamw(0.01, weight_decay=0.2, clip_norm=5.0), nf.momentum(0.1, beta=0.8)):
        rebuilt = optimizer_from_config(optimizer.config)
        np.testing.assert_array_equal(_run(rebuilt, GRADS), _run(optimizer, GRADS))
    assert nf.adamw().config["weight_decay"] == 0.01


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nf.sgd(-0.1), "positive"),
        (lambda: nf.sgd(math.nan), "positive"),
        (lambda: nf.momentum(0.1, beta=1.5), "momentum"),
        (lambda: nf.sgd(0.1, beta=0.9), "does not take beta"),
        (lambda: nf.make_optimizer("lbfgs"), "unknown optimizer"),
        (lambda: nf.sgd(0.1, clip_norm=0), "clip norm"),
        (lambda: nf.sgd(0.1, clip_norm=math.inf), "clip norm must be a positive finite"),
        (lambda: nf.sgd(0.1, clip_norm=math.nan), "clip norm"),
        (lambda: nf.adamw(0.01, weight_decay=math.nan), "weight decay must be a non-negative"),
        (lambda: nf.adamw(0.01, weight_decay=math.inf), "weight decay"),
        (lambda: nf.adam(0.01, eps=math.inf), "finite eps"),
        (lambda: nf.adam(0.01, b1=math.nan), "b1=nan"),
        (lambda: nf.rmsprop(0.01, eps=math.inf), "finite eps"),
        (lambda: nf.rmsprop(0.01, decay=math.nan), "decay=nan"),
        (lambda: nf.momentum(0.1, beta=math.nan), "momentum"),
        (lambda: nf.sgd(math.inf), "positive"),
        (lambda: make_schedule("step", 0.1, step_size=2.5), "step_size must be a positive whole"),
        (lambda: make_schedule("cosine", 0.1, total_steps=math.inf), "total_steps"),
        (lambda: make_schedule("exponential", 0.1, decay_steps=math.nan), "decay_steps"),
        (lambda: make_schedule("cosine", 0.1, total_steps=True), "total_steps"),
        (lambda: make_schedule("step", 0.1, gamma=math.nan), "gamma"),
    ],
)
def test_bad_hyper_parameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nf.sgd("0.1"), "lr must be a number, got str '0.1'"),
        (lambda: nf.sgd(True), "lr must be a number, got bool True"),
        (lambda: nf.momentum(0.1, "0.9"), "momentum must be a number, got str '0.9'"),
        (lambda: nf.adam(0.01, b2="0.999"), "Adam's b2 must be a number"),
        (lambda: nf.rmsprop(0.01, eps=None), "RMSprop's eps must be a number"),
        (lambda: nf.adamw(0.01, weight_decay=True), "weight decay must be a number"),
        (lambda: nf.sgd(0.1, clip_norm="1"), "clip norm must be a number"),
        (lambda: make_schedule("step", 0.1, gamma="0.5"), "gamma must be a number"),
    ],
)
def test_hyper_parameters_that_are_not_numbers_are_named_in_a_type_error(make, message):
    # float() would have taken "0.1" and True (as 1.0) without a word
    with pytest.raises(TypeError, match=message):
        make()


def test_whole_step_counts_are_accepted_as_floats_and_numpy_integers():
    assert make_schedule("cosine", 0.1, total_steps=1e4).total_steps == 10000
    assert make_schedule("step", 0.1, step_size=np.int64(5)).step_size == 5


@pytest.mark.parametrize(
    ("optimizer", "state_of", "expected"),
    [
        (nf.momentum(0.1), nf.adam(0.1), "expected TraceState, got ScaleByAdamState"),
        (nf.adam(0.1), nf.sgd(0.1), "expected a ChainState of 2 states, got a ChainState of 1"),
        (nf.rmsprop(0.1), nf.adam(0.1), "expected ScaleByRmsState, got ScaleByAdamState"),
        (nf.sgd(0.1, clip_norm=1.0), nf.adam(0.1), "expected EmptyState, got ScaleByAdamState"),
    ],
)
def test_step_refuses_another_optimizers_state(optimizer, state_of, expected):
    params = _params(1.0, -2.0)
    state = nf.init_optimizer(state_of, params)
    with pytest.raises(TypeError, match=f"does not match the optimizer: {expected}"):
        nf.step(optimizer, params, state, params)


def test_step_refuses_a_state_for_other_parameters():
    optimizer = nf.adam(0.1)
    state = nf.init_optimizer(optimizer, _params(1.0, -2.0, 3.0))
    with pytest.raises(ValueError, match="mu does not match the parameters' shapes"):
        nf.step(optimizer, _params(1.0, -2.0), state, _params(0.5, 0.5))


@pytest.mark.parametrize("make", [nf.sgd, nf.momentum, nf.adam, nf.adamw, nf.rmsprop])
def test_step_keeps_each_parameters_dtype(make):
    optimizer = make(0.1)
    params = Params([Dense(np.ones((2, 3), np.float32), np.zeros(3, np.float32))])
    grads64 = Params([Dense(np.full((2, 3), 0.3), np.full(3, -0.2))])
    grads32 = Params([Dense(np.full((2, 3), 0.3, np.float32), np.full(3, -0.2, np.float32))])
    state = nf.init_optimizer(optimizer, params)
    new, new_state = nf.step(optimizer, params, state, grads64)
    assert all(a.dtype == np.float32 for a in new.leaves())
    # The update is computed in the parameters' dtype: as if the gradients had been float32.
    assert (new, new_state) == nf.step(optimizer, params, state, grads32)


def test_step_refuses_gradients_of_other_shapes_instead_of_broadcasting():
    X = np.random.default_rng(0).normal(size=(6, 3))
    y = np.array([0, 1, 2, 0, 1, 2])
    wide, narrow = nf.mlp_spec([3, 4, 3]), nf.mlp_spec([3, 1, 3])
    params = nf.init_params(wide, 0)
    grads = nf.grads(narrow, nf.init_params(narrow, 0), X, y)  # (3, 1) would broadcast on (3, 4)
    optimizer = nf.adam(0.1)
    with pytest.raises(ValueError, match=r"layer 0: gradients for w have shape \(3, 1\)"):
        nf.step(optimizer, params, nf.init_optimizer(optimizer, params), grads)


@pytest.mark.parametrize("total", [2.5, 0, -5, True])
def test_run_schedule_refuses_step_counts_the_schedules_refuse(total):
    # it had turned 2.5 into 2 and 0, -5 or True into 1 without a word
    with pytest.raises(ValueError, match="total_steps must be a positive whole number"):
        run_schedule("cosine", 0.1, total)
    assert run_schedule("cosine", 0.1, 10.0).total_steps == 10
