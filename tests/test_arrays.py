"""Read-only array fields: copies on construction, real immutability, deliberate equality;
turning user values into real numbers."""

import warnings

import attrs
import numpy as np
import pytest

import nnfunc as nf
from nnfunc.arrays import (
    all_finite,
    array_field,
    arrays_equal,
    freeze,
    frozen_array,
    numeric_array,
)
from nnfunc.params import Dense, Params, tree_map


@attrs.frozen
class Holder:
    a: np.ndarray = array_field()


def test_construction_copies_and_freezes():
    source = np.arange(3.0)
    held = Holder(source)
    source[0] = 99.0
    assert held.a[0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        held.a[0] = 5.0


def test_an_array_frozen_here_is_not_copied_again():
    first = frozen_array([1.0, 2.0])
    assert frozen_array(first) is first
    assert attrs.evolve(Holder(first)).a is first


def test_read_only_view_of_writable_memory_is_copied():
    base = np.zeros(3)
    view = base[:]
    view.flags.writeable = False
    held = Holder(view)
    base[0] = 1.0
    assert held.a[0] == 0.0


def test_a_callers_read_only_view_of_their_read_only_array_is_copied():
    # it looks like one of ours, but its owner is the caller's, who may unlock it again
    base = np.ones((2, 3))
    base.flags.writeable = False
    held = Dense(base.view(), np.zeros(3))
    base.flags.writeable = True
    base[0, 0] = 42.0
    assert held.w[0, 0] == 1.0


def test_transforms_leave_the_callers_arrays_writable_and_unshared():
    weights, biases = np.ones((2, 2)), np.ones(2)
    grad_w, grad_b = np.ones((2, 2)), np.ones(2)
    decay = nf.add_decayed_weights(0.1)
    updates, _ = decay.update((grad_w, grad_b), decay.init((weights, biases)), (weights, biases))
    mapped = nf.Params.from_leaves([weights, biases])
    mapped = tree_map(lambda a: grad_b if a.ndim == 1 else a, mapped)
    assert grad_b.flags.writeable and grad_w.flags.writeable
    grad_b[0] = 77.0
    assert updates[1][0] == 1.0 and mapped.layers[0].b[0] == 1.0
    assert not updates[1].flags.writeable and not mapped.layers[0].b.flags.writeable


def test_equality_checks_dtype_shape_and_values():
    assert Holder(np.array([1.0, 2.0])) == Holder(np.array([1.0, 2.0]))
    assert Holder(np.array([1.0, 2.0])) != Holder(np.array([1.0, 3.0]))
    assert Holder(np.array([1.0, 2.0])) != Holder(np.array([1.0, 2.0], dtype=np.float32))
    assert Holder(np.array([1.0, 2.0])) != Holder(np.array([[1.0, 2.0]]))
    assert arrays_equal(np.array([np.nan]), np.array([np.nan]))


def test_params_hashable_and_compare_by_value():
    layer = Dense(np.ones((2, 3)), np.zeros(3))
    same = Dense(np.ones((2, 3)), np.zeros(3))
    assert Params([layer]) == Params([same])
    assert hash(Params([layer])) == hash(Params([same]))
    assert Params([layer]) != Params([Dense(np.ones((2, 3)) * 2, np.zeros(3))])


def test_dense_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        Dense(np.ones((2, 3)), np.zeros(2))


def test_numeric_array_refuses_what_it_would_have_to_mangle():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="X must be real numbers, got complex values"):
            numeric_array(np.array([1 + 2j]), "X")
    with pytest.raises(ValueError, match="X must be real numbers, got values of type <U"):
        numeric_array(["1.5"], "X")
    with pytest.raises(ValueError, match="X must be a rectangular array of real numbers"):
        numeric_array([[1.0], [2.0, 3.0]], "X")
    with pytest.raises(ValueError, match="y must be labels: "):
        numeric_array(np.array(["a", 1], dtype=object), "y", "labels")


def test_numeric_array_keeps_numbers_and_turns_none_into_nan():
    ints = np.arange(3)
    assert numeric_array(ints, "X") is ints
    np.testing.assert_array_equal(numeric_array([1, None], "X"), [1.0, np.nan])


def test_all_finite_sees_every_non_finite_value_even_when_the_sum_overflows():
    assert all_finite(np.zeros((0, 3))) and all_finite(np.arange(5))
    for bad in (np.nan, np.inf, -np.inf):
        assert not all_finite(np.array([[1.0, bad]], np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the fast sum overflows, then falls back
        assert all_finite(np.array([1e308, 1e308]))
        assert not all_finite(np.array([np.inf, -np.inf]))


def test_a_records_arrays_cannot_be_made_writable_again():
    # an array owning its memory lets anyone turn `writeable` back on; a view of a locked base not
    spec = nf.mlp_spec([2, 3, 2])
    params = nf.init_params(spec, 0)
    arrays = [*params.leaves(), frozen_array([1.0, 2.0]), freeze(np.ones(3))]
    for array in arrays:
        with pytest.raises(ValueError, match="WRITEABLE"):
            array.setflags(write=True)
    assert frozen_array(arrays[0]) is arrays[0]  # already locked: no copy
    assert nf.init_params(spec, 0) == params


def test_frozen_data_is_read_only_at_every_depth_and_still_plain_data():
    import copy
    import json

    from nnfunc.frozen_data import frozen_data

    data = frozen_data({"a": [1, {"b": 2}], "t": (3, 4)})
    assert data == {"a": [1, {"b": 2}], "t": [3, 4]}
    assert json.loads(json.dumps(data)) == data and copy.deepcopy(data) == data
    for change in (
        lambda: data.update(c=1),
        lambda: data.__setitem__("a", 0),
        lambda: data["a"].append(5),
        lambda: data["a"][1].pop("b"),
        lambda: data["t"].sort(),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert data == {"a": [1, {"b": 2}], "t": [3, 4]}


def test_copied_and_pickled_records_keep_their_arrays_read_only():
    import copy
    import pickle

    params = nf.init_params(nf.mlp_spec([3, 4, 3]), 0)
    state = nf.init_optimizer(nf.adam(), params)
    for record, arrays_of in ((params, Params.leaves), (state, lambda s: s.states[0].mu)):
        for clone in (copy.copy(record), copy.deepcopy(record), pickle.loads(pickle.dumps(record))):
            assert clone == record
            # numpy's own pickling hands back writable arrays
            assert not any(a.flags.writeable for a in arrays_of(clone))
