"""Model files: bit-exact round trips, stable bytes, atomic saves, and hostile input refused."""

import copy
import gc
import hashlib
import json
import os
import tempfile
import threading

import attrs
import msgpack
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfunc.cli import main
from nnfunc.cli.inspect import summary_lines
from nnfunc.datasets import load_dataset
from nnfunc.model import Model, predict, predict_proba, predict_values
from nnfunc.modelfile import (
    FORMAT_VERSION,
    ModelFileError,
    dumps_model,
    load_model,
    loads_model,
    model_digest,
    save_model,
)
from nnfunc.msgpack_safe import MsgpackError, unpackb_limited, without_gc
from nnfunc.pipeline import RECIPES, train_model
from nnfunc.preprocessing import LabelEncoder
from nnfunc.schema import unprintable

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def models():
    """One model of each kind: softmax, sigmoid with integer classes, regressor, float32."""
    return {
        "iris": train_model(load_dataset("iris"), attrs.evolve(RECIPES["iris"], epochs=20)),
        "xor": train_model(
            load_dataset("xor"), attrs.evolve(RECIPES["xor"], epochs=30, hidden=(4,))
        ),
        "arithmetic": train_model(
            load_dataset("arithmetic"), attrs.evolve(RECIPES["arithmetic"], epochs=3)
        ),
        "float32": train_model(
            load_dataset("iris"),
            attrs.evolve(RECIPES["iris"], epochs=10, dtype="float32", val_split=0.2),
            created="2026-01-01T00:00:00Z",
        ),
    }


@pytest.fixture(scope="module")
def blob(models):
    return dumps_model(models["xor"])


def envelope_of(data):
    return msgpack.unpackb(data, raw=False)


def payload_of(data):
    return msgpack.unpackb(envelope_of(data)["payload"], raw=False)


def rewrap(payload_bytes, **envelope):
    """A file around `payload_bytes` with a correct checksum (unless overridden)."""
    fields = {
        "format": "nnfunc-model",
        "payload": payload_bytes,
        "sha256": hashlib.sha256(payload_bytes).hexdigest(),
        "version": FORMAT_VERSION,
        **envelope,
    }
    return msgpack.packb(fields, use_bin_type=True)


def with_payload(payload):
    return rewrap(msgpack.packb(payload, use_bin_type=True))


def error_of(data):
    with pytest.raises(ModelFileError) as info:
        loads_model(data)
    return str(info.value)


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iris", "xor", "arithmetic", "float32"])
def test_round_trip_is_bit_exact(models, name):
    model = models[name]
    back = loads_model(dumps_model(model))
    assert back == model
    for a, b in zip(model.params.leaves(), back.params.leaves()):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes() and not b.flags.writeable
    for scaler in ("feature_scaler", "target_scaler"):
        a, b = getattr(model, scaler), getattr(back, scaler)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.mean.tobytes() == b.mean.tobytes() and a.scale.tobytes() == b.scale.tobytes()
    assert back.classes == model.classes and [type(c) for c in back.classes] == [
        type(c) for c in model.classes
    ]
    X = load_dataset(model.provenance["dataset"]).X
    if model.task == "classify":
        assert predict_proba(back, X).tobytes() == predict_proba(model, X).tobytes()
        np.testing.assert_array_equal(predict(back, X), predict(model, X))
    else:
        assert predict_values(back, X).tobytes() == predict_values(model, X).tobytes()
    assert back.history == model.history and back.metrics == model.metrics


def test_optional_fields_round_trip_as_nil(models):
    xor = models["xor"]
    bare = attrs.evolve(
        xor,
        history=None,
        feature_scaler=None,
        labels=LabelEncoder((False, True)),
        config={},
        metrics={},
        provenance={},
    )
    payload = payload_of(dumps_model(bare))
    assert payload["history"] is None and payload["feature_scaler"] is None
    back = loads_model(dumps_model(bare))
    assert back == bare and back.classes == (False, True)
    X = [[0, 1], [1, 1], [0, 0]]
    assert predict(back, X).dtype == bool
    np.testing.assert_array_equal(predict(back, X), predict(bare, X))


def test_same_model_same_bytes_and_no_clock(models):
    iris = models["iris"]
    again = train_model(load_dataset("iris"), attrs.evolve(RECIPES["iris"], epochs=20))
    assert dumps_model(again) == dumps_model(iris)
    assert dumps_model(loads_model(dumps_model(iris))) == dumps_model(iris)
    assert "created" not in iris.provenance
    assert models["float32"].provenance["created"] == "2026-01-01T00:00:00Z"
    other_seed = train_model(load_dataset("iris"), attrs.evolve(RECIPES["iris"], epochs=20, seed=1))
    assert dumps_model(other_seed) != dumps_model(iris)


def test_file_layout_matches_the_documented_envelope(blob):
    envelope = envelope_of(blob)
    assert list(envelope) == ["format", "payload", "sha256", "version"]
    assert envelope["format"] == "nnfunc-model" and envelope["version"] == 1
    assert envelope["sha256"] == hashlib.sha256(envelope["payload"]).hexdigest()
    payload = payload_of(blob)
    assert list(payload) == sorted(payload)
    w = payload["params"][0]["w"]
    assert w == {"data": w["data"], "dtype": "<f8", "shape": [2, 4]} and len(w["data"]) == 64
    assert payload["labels"] == {"classes": [0, 1]}


def test_save_and_load_a_file(models, tmp_path):
    path = tmp_path / "m.msgpack"
    save_model(models["arithmetic"], path)
    assert load_model(path) == models["arithmetic"]
    assert load_model(str(path)) == models["arithmetic"]
    assert os.listdir(tmp_path) == ["m.msgpack"]


# --- atomic saves ---------------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_save_leaves_the_previous_file_untouched(models, tmp_path, monkeypatch, failing):
    path = tmp_path / "m.msgpack"
    save_model(models["xor"], path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space left") as info:
        save_model(models["iris"], path)
    assert info.value.filename == str(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.msgpack"]  # the temporary file was removed


def test_an_interrupted_write_leaves_the_previous_file_untouched(models, tmp_path, monkeypatch):
    path = tmp_path / "m.msgpack"
    save_model(models["xor"], path)
    before = path.read_bytes()
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        save_model(models["iris"], path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.msgpack"]


def test_an_unstorable_model_is_refused_before_the_file_is_touched(models, tmp_path):
    path = tmp_path / "m.msgpack"
    save_model(models["xor"], path)
    before = path.read_bytes()
    bad = attrs.evolve(models["iris"], config={"tags": {"a", "b"}})
    with pytest.raises(ModelFileError, match=r"config\.tags.*set"):
        save_model(bad, path)
    layers = list(models["iris"].params.layers)
    w = np.array(layers[0].w)
    w[0, 0] = np.nan
    layers[0] = attrs.evolve(layers[0], w=w)
    nan_model = attrs.evolve(
        models["iris"], params=attrs.evolve(models["iris"].params, layers=layers)
    )
    with pytest.raises(ModelFileError, match=r"params\[0\]\.w: contains NaN"):
        save_model(nan_model, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.msgpack"]


def test_numpy_values_in_free_form_maps_are_stored_as_plain_values(models):
    model = attrs.evolve(
        models["xor"],
        config={"n": np.int64(3), "x": np.float32(0.5), "t": (1, 2), "b": np.bool_(1)},
    )
    assert loads_model(dumps_model(model)).config == {"n": 3, "x": 0.5, "t": [1, 2], "b": True}


# --- hostile files: each problem is one ModelFileError naming the field -------------------------


def test_a_newer_version_is_refused_with_a_message_saying_so(blob):
    envelope = envelope_of(blob)
    newer = rewrap(envelope["payload"], version=FORMAT_VERSION + 1, extra="new field")
    assert "newer than version 1" in error_of(newer)
    assert "upgrade nnfunc" in error_of(newer)


def test_envelope_problems(blob):
    payload = envelope_of(blob)["payload"]
    assert "not an nnfunc model file" in error_of(rewrap(payload, format="other"))
    assert "not an nnfunc model file" in error_of(msgpack.packb([1, 2]))
    assert "version" in error_of(rewrap(payload, version="1"))
    assert "unknown top-level key" in error_of(rewrap(payload, extra=1))
    assert "checksum mismatch" in error_of(rewrap(payload, sha256="0" * 64))
    upper = hashlib.sha256(payload).hexdigest().upper()  # it was called a checksum mismatch
    assert "not 64 lowercase hex digits" in error_of(rewrap(payload, sha256=upper))
    flipped = bytearray(blob)
    flipped[-10] ^= 0x01  # inside the payload's last array
    assert "checksum mismatch" in error_of(bytes(flipped))
    assert "trailing bytes" in error_of(blob + b"\x00")
    assert "truncated" in error_of(blob[:-1])
    assert "0 bytes" in error_of(b"")


def test_duplicate_keys_are_refused(blob):
    payload = payload_of(blob)
    packer = msgpack.Packer(use_bin_type=True)
    body = packer.pack_map_header(len(payload) + 1)
    for key, value in payload.items():
        body += packer.pack(key) + packer.pack(value)
    body += packer.pack("task") + packer.pack("regress")
    assert "duplicate map key 'task'" in error_of(rewrap(body))


def _mutated(blob, edit):
    payload = copy.deepcopy(payload_of(blob))
    edit(payload)
    return with_payload(payload)


def _set(path, value):
    def edit(payload):
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _layer_w(payload, **changes):
    payload["params"][1]["w"].update(changes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.pop("history"), "payload: missing key(s) 'history'"),
        (lambda p: p.update(color="red"), "payload: unknown key(s) 'color'"),
        (lambda p: p["spec"].update(extra=1), "spec: unknown key(s) 'extra'"),
        (_set(["task"], "cluster"), "task: expected 'classify' or 'regress'"),
        (_set(["task"], 7), "task: expected a string, got an integer"),
        (_set(["spec", "loss"], "hinge"), "spec.loss: unknown loss 'hinge'"),
        (_set(["spec", "activations", 0], "swoosh"), "spec.activations[0]: unknown activation"),
        (_set(["spec", "activations", 0], "swoosh"), "where nnfunc.register_activation has"),
        (_set(["spec", "activations", 0], "softmax"), "can only be the output activation"),
        # float() would take these; a reader in another language would not
        (_set(["spec", "activations", 0], "elu: 0.5"), "is not NAME or NAME:NUMBER"),
        (_set(["spec", "activations", 0], "elu:1_0"), "is not NAME or NAME:NUMBER"),
        (_set(["spec", "activations", 0], "elu:\u0663"), "is not NAME or NAME:NUMBER"),
        (_set(["spec", "activations", 0], "elu:"), "is not NAME or NAME:NUMBER"),
        (_set(["spec", "activations", 0], " relu"), "is not NAME or NAME:NUMBER"),
        (_set(["spec", "output_activation"], "tanh"), "spec: loss binary_cross_entropy needs"),
        (_set(["spec", "dtype"], "float16"), "spec.dtype: 'float16' is not one of"),
        (_set(["spec", "sizes", 1], 0), "spec.sizes[1]: 0 is outside"),
        (_set(["spec", "sizes", 1], 5), "params[0].w.shape: expected [2, 5], got [2, 4]"),
        (_set(["spec", "sizes"], [2, 4, 1, 1]), "spec.activations: 2 hidden layer(s)"),
        (lambda p: p["params"].pop(), "params: spec.sizes implies 2 layer(s), got 1"),
        (lambda p: _layer_w(p, dtype=">f8"), "params[1].w.dtype: '>f8' is not allowed"),
        (lambda p: _layer_w(p, dtype="<i8"), "params[1].w.dtype: '<i8' is not allowed"),
        (lambda p: _layer_w(p, dtype="<f4"), "params[1].w.dtype: expected '<f8'"),
        (lambda p: _layer_w(p, shape=[1, 4]), "params[1].w.shape: expected [4, 1], got [1, 4]"),
        (lambda p: _layer_w(p, shape=[4]), "params[1].w.shape: expected [4, 1], got [4]"),
        (lambda p: _layer_w(p, data=b"\0" * 24), "params[1].w.data: 24 bytes do not match"),
        (
            lambda p: _layer_w(p, data=np.full(4, np.inf).tobytes()),
            "params[1].w: contains NaN or infinite values",
        ),
        (lambda p: _layer_w(p, data="text"), "params[1].w.data: expected binary data"),
        (lambda p: _layer_w(p, shape=[2**40, 1]), "params[1].w.shape[0]"),
        (_set(["feature_names"], ["a"]), "feature_names: expected 2 name(s), got 1"),
        (_set(["feature_names", 0], 1), "feature_names[0]: expected a string"),
        # names no CSV header could match (cells are read without surrounding spaces)
        (_set(["feature_names", 0], "a "), "feature_names[0]: 'a ' has spaces at its start or end"),
        (_set(["feature_names", 0], ""), "feature_names[0]: '' is empty"),
        (_set(["labels", "classes"], [1, 0]), "labels.classes: must be sorted and distinct"),
        (_set(["labels", "classes"], [0, "1"]), "labels.classes: expected all strings"),
        (
            _set(["labels", "classes"], [0, 1, 2]),
            "labels.classes: a sigmoid classifier has exactly 2 classes, got 3",
        ),
        (_set(["labels"], None), "labels: a classifier needs class labels, got nil"),
        (_set(["feature_scaler", "scale", "data"], b"\0" * 16), "feature_scaler.scale: every"),
        (_set(["history", "loss", 0], "low"), "history.loss[0]: expected a finite float"),
        (_set(["history", "loss", 0], float("nan")), "history.loss[0]: expected a finite float"),
        (_set(["history", "metric"], []), "history.metric: length differs"),
        (_set(["config"], []), "config: expected a map, got an array"),
        (_set(["metrics", "blob"], b"\x00"), "metrics.blob: binary data is not allowed"),
        (_set(["target_scaler"], {"mean": 1, "scale": 2}), "a classifier has no target scaler"),
        (
            _set(["history", "metric_name"], "zzz"),
            "history.metric_name: task 'classify' records 'accuracy', got 'zzz'",
        ),
        (_set(["history", "metric_name"], "r2"), "records 'accuracy', got 'r2'"),
        (_set(["history", "metric", 0], 1.5), "history.metric[0]: 1.5 is not a possible accuracy"),
        (_set(["history", "metric", 0], -0.5), "history.metric[0]: -0.5 is not a possible"),
        # A valid spec (mse takes a sigmoid output), but not a classifier's.
        (_set(["spec", "loss"], "mse"), "task: 'classify' needs a cross-entropy spec.loss"),
    ],
)
def test_each_invalid_field_is_named(blob, edit, message):
    assert message in error_of(_mutated(blob, edit))


def test_the_task_must_agree_with_the_loss_and_the_labels(models):
    """A softmax network relabelled as a regressor must not answer probabilities as values."""
    iris, arithmetic = (
        payload_of(dumps_model(models["iris"])),
        payload_of(dumps_model(models["arithmetic"])),
    )
    as_regressor = {**iris, "task": "regress", "labels": None, "target_names": ["a", "b", "c"]}
    assert "task: 'regress' needs spec.loss 'mse', got 'softmax_cross_entropy'" in error_of(
        with_payload(as_regressor)
    )
    as_classifier = {
        **arithmetic,
        "task": "classify",
        "labels": {"classes": [0, 1, 2]},
        "target_names": ["y"],
        "target_scaler": None,
    }
    as_classifier["history"] = {**as_classifier["history"], "metric_name": "accuracy"}
    assert "task: 'classify' needs a cross-entropy spec.loss, got 'mse'" in error_of(
        with_payload(as_classifier)
    )
    two_of_three = {**iris, "labels": {"classes": ["a", "b"]}}
    assert "labels.classes: a softmax classifier has one class per output (3), got 2" in (
        error_of(with_payload(two_of_three))
    )
    regressor_history = {**arithmetic, "history": {**arithmetic["history"], "metric_name": "acc"}}
    assert "task 'regress' records 'r2', got 'acc'" in error_of(with_payload(regressor_history))


def _scaler_entry(payload, scaler, key, value):
    """`payload` with entry 0 of a scaler's `key` array set to `value` (in the array's dtype)."""
    payload = copy.deepcopy(payload)
    array = payload[scaler][key]
    data = np.frombuffer(array["data"], array["dtype"]).copy()
    data[0] = value
    array["data"] = data.tobytes()
    return with_payload(payload)


@pytest.mark.parametrize(
    ("name", "scaler", "key", "value", "message"),
    [
        ("iris", "feature_scaler", "scale", 1e-320, "feature_scaler.scale[0]: 9.99989e-321 is not"),
        ("iris", "feature_scaler", "scale", 1e-310, "is not a normal float64 number"),
        ("iris", "feature_scaler", "mean", -1.7e308, "feature_scaler.mean[0]: -1.7e+308 is too"),
        ("iris", "feature_scaler", "mean", 5e307, "feature_scaler.mean[0]: 5e+307 is too large"),
        ("arithmetic", "target_scaler", "mean", 1e308, "target_scaler.mean[0]: 1e+308 is too"),
        ("arithmetic", "target_scaler", "scale", 5e-324, "target_scaler.scale[0]: 4.94066e-324"),
        # Normal float64 numbers that a float32 network would turn into a subnormal and infinity.
        ("float32", "feature_scaler", "scale", 1e-39, "is not a normal float32 number"),
        ("float32", "feature_scaler", "mean", 1e38, "feature_scaler.mean[0]: 1e+38 is too large"),
    ],
)
def test_scalers_that_overflow_ordinary_inputs_are_refused(
    models, name, scaler, key, value, message
):
    payload = payload_of(dumps_model(models[name]))
    assert message in error_of(_scaler_entry(payload, scaler, key, value))


def test_scalers_fitted_on_extreme_but_finite_data_still_load(models):
    payload = payload_of(dumps_model(models["iris"]))
    for key, value in (("scale", 1e-300), ("mean", 1e-300), ("mean", -1e300)):
        tiny = _scaler_entry(payload, "feature_scaler", key, value)
        loads_model(tiny)
    big = copy.deepcopy(payload)
    big["feature_scaler"]["mean"]["data"] = np.full(4, 1e300).tobytes()
    big["feature_scaler"]["scale"]["data"] = np.full(4, 1e300).tobytes()
    model = loads_model(with_payload(big))
    assert predict(model, [[1e300, 2e300, 0.0, -1e300]]).shape == (1,)


def test_nesting_and_sizes_are_bounded(blob):
    payload = payload_of(blob)
    deep = []
    for _ in range(40):
        deep = [deep]
    payload["config"]["deep"] = deep
    assert "nested deeper than" in error_of(with_payload(payload))
    # An array header claiming four billion elements is refused without allocating them.
    bomb = rewrap(b"\xdd\xff\xff\xff\xff")
    assert "payload" in error_of(bomb)
    long_name = with_payload({**payload_of(blob), "feature_names": ["x" * 70_000, "b"]})
    assert "exceeds max_str_len" in error_of(long_name) or "string longer" in error_of(long_name)


@pytest.mark.parametrize("junk", [[[]] * 15, [{}] * 15, ["ab"] * 15, [1000] * 15])
def test_a_small_file_of_many_tiny_values_is_refused_before_it_is_decoded(blob, junk):
    # 1 byte of msgpack ([]) is 56 bytes of Python list: 8 MiB of them took 800 MB and 15 s
    payload = payload_of(blob)
    payload["config"]["junk"] = [junk] * 150_000  # 2.4 million values
    # refused from the headers alone, before a single list is made (about 0.5 s)
    assert error_of(with_payload(payload)) == "payload: more than 2,097,152 values"
    envelope = msgpack.packb({**envelope_of(blob), "junk": [junk] * 1000}, use_bin_type=True)
    assert error_of(envelope).startswith("not a readable model file: more than 129 values")


@pytest.mark.parametrize("where", ["config", "provenance"])
def test_free_form_maps_are_bounded_in_size(blob, where):
    payload = payload_of(blob)
    payload[where]["junk"] = [[1] * 15] * 5_000  # 80,000 values: far more than any real one
    assert error_of(with_payload(payload)) == f"{where}: more than 65,536 values"


def test_count_objects_reads_every_kind_of_header():
    from nnfunc.msgpack_safe import count_objects

    value = {
        "s": "x" * 40,
        "b": b"\0" * 300,
        "n": [None, True, -1, 2**40, -(2**40), 1.5, 300],
        "deep": [[[]], {"k": {}}],
        "long": list(range(70_000)),
        "map": {str(i): i for i in range(20)},
    }
    data = msgpack.packb(value, use_bin_type=True)

    def count(v):  # every value, key and container, as decoded
        if isinstance(v, dict):
            return 1 + sum(1 + count(item) for item in v.values())
        return 1 + sum(map(count, v)) if isinstance(v, list) else 1

    assert count_objects(data, 10**6) == count(value) == 70_065
    with pytest.raises(ValueError, match="more than 100 values"):
        count_objects(data, 100)


def test_extension_types_and_timestamps_are_refused(blob):
    payload = payload_of(blob)
    payload["config"]["when"] = msgpack.ExtType(5, b"1234")
    assert "extension type 5" in error_of(with_payload(payload))
    payload["config"]["when"] = msgpack.Timestamp(0)
    assert "type Timestamp is not accepted" in error_of(with_payload(payload))


def test_load_model_errors_name_the_file(tmp_path, blob):
    assert "no such file" in str(pytest.raises(ModelFileError, load_model, tmp_path / "no"))
    with pytest.raises(ModelFileError, match="is a directory"):
        load_model(tmp_path)
    path = tmp_path / "m.msgpack"
    path.write_bytes(blob)
    with pytest.raises(ModelFileError, match=r"m\.msgpack: .* exceed the limit of 100"):
        load_model(path, max_bytes=100)
    path.write_bytes(blob[:50])
    with pytest.raises(ModelFileError, match=r"^.*m\.msgpack: not a readable model file"):
        load_model(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_is_refused_without_blocking(tmp_path, finishes):
    fifo = tmp_path / "m.msgpack"
    os.mkfifo(fifo)
    os.symlink(fifo, tmp_path / "link.msgpack")
    for path in (fifo, tmp_path / "link.msgpack"):
        finished, outcome = finishes(lambda path=path: load_model(path))
        if not finished:  # give the blocked reader a writer and an end of file, then fail
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        assert finished, f"load_model({path}) blocked on a FIFO"
        assert isinstance(outcome[0], ModelFileError)
        assert f"{path}: not a regular file (a FIFO" in str(outcome[0])


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_and_links_to_them_are_refused_before_reading(tmp_path, device, monkeypatch):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    os.symlink(device, tmp_path / "link.msgpack")
    monkeypatch.setattr(os, "read", lambda *args: pytest.fail("a device was read"))
    for path in (device, tmp_path / "link.msgpack"):
        with pytest.raises(ModelFileError, match=r"not a regular file \(a character device\)"):
            load_model(path)


def test_the_size_limit_holds_when_stat_understates_the_size(tmp_path, monkeypatch, blob):
    path = tmp_path / "m.msgpack"
    path.write_bytes(blob)
    real_fstat = os.fstat

    def fstat_size_zero(fd):
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 0, *info[7:]))  # st_size is field 6

    monkeypatch.setattr(os, "fstat", fstat_size_zero)
    with pytest.raises(ModelFileError, match=r"m\.msgpack: more than 100 bytes"):
        load_model(path, max_bytes=100)
    assert load_model(path) == loads_model(blob)


# --- config, metrics and provenance: what nnfunc writes, checked at load -------------------------


@pytest.fixture(scope="module")
def payloads(models):
    return {name: payload_of(dumps_model(model)) for name, model in models.items()}


def _edited(payload, edit):
    payload = copy.deepcopy(payload)
    edit(payload)
    return with_payload(payload)


def _drop(path):
    def edit(payload):
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def _confusion(edit_rows):
    def edit(payload):
        edit_rows(payload["metrics"]["train"]["confusion_matrix"])

    return edit


def _both(*edits):
    def edit(payload):
        for one in edits:
            one(payload)

    return edit


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        # The audit's cases: each crashed `nnfunc inspect` or loaded unchecked.
        (
            "iris",
            _set(["metrics", "test", "accuracy"], "x"),
            "metrics.test.accuracy: expected a number, got a string",
        ),
        ("iris", _drop(["metrics", "test", "macro"]), "metrics.test: missing key(s) 'macro'"),
        ("iris", _set(["metrics", "train"], {"r2": 1.0}), "metrics.train: missing key(s)"),
        ("iris", _set(["config", "lr"], "fast"), "config.lr: expected a number, got a string"),
        ("iris", _set(["config", "lr"], {"x": 1}), "config.lr: expected a number, got a map"),
        (
            "iris",
            _set(["provenance", "created"], 12345),
            "provenance.created: expected a string, got an integer",
        ),
        # Classification reports.
        ("iris", _set(["metrics", "train"], []), "metrics.train: expected a map, got an array"),
        ("iris", _set(["metrics", "train", "accuracy"], 1.5), "1.5 is not a fraction in [0, 1]"),
        (
            "iris",
            _set(["metrics", "train", "accuracy"], float("nan")),
            "metrics.train.accuracy: nan is not a fraction",
        ),
        ("iris", _set(["metrics", "train", "macro", "f1"], -0.1), "macro.f1: -0.1 is not a"),
        ("iris", _set(["metrics", "train", "macro"], 0.9), "macro: expected a map, got a float"),
        (
            "iris",
            _set(["metrics", "train", "weighted", "recall"], True),
            "metrics.train.weighted.recall: expected a number, got a boolean",
        ),
        ("iris", _set(["metrics", "train", "n_samples"], 0), "n_samples: 0 is outside [1,"),
        ("iris", _set(["metrics", "train", "n_samples"], 120.0), "expected an integer, got a"),
        (
            "iris",
            _drop(["metrics", "train", "per_class", "setosa"]),
            "metrics.train.per_class: missing key(s) 'setosa'",
        ),
        (
            "iris",
            _set(["metrics", "train", "per_class", "tulip"], {}),
            "metrics.train.per_class: unknown key(s) 'tulip'",
        ),
        (
            "iris",
            _set(["metrics", "train", "per_class", "setosa", "support"], -1),
            "metrics.train.per_class.setosa.support: -1 is outside",
        ),
        (
            "iris",
            _drop(["metrics", "train", "per_class", "setosa", "recall"]),
            "metrics.train.per_class.setosa: missing key(s) 'recall'",
        ),
        (
            "iris",
            _confusion(lambda rows: rows.pop()),
            "metrics.train.confusion_matrix: expected 3 rows (one per class), got 2",
        ),
        (
            "iris",
            _confusion(lambda rows: rows[1].pop()),
            "metrics.train.confusion_matrix[1]: expected 3 counts (one per class), got 2",
        ),
        (
            "iris",
            _confusion(lambda rows: rows[0].__setitem__(0, 2.0)),
            "confusion_matrix[0][0]: expected an integer, got a float",
        ),
        (
            "iris",
            _confusion(lambda rows: rows[0].__setitem__(1, -1)),
            "confusion_matrix[0][1]: -1 is outside",
        ),
        (
            "iris",
            _confusion(lambda rows: rows[0].__setitem__(1, rows[0][1] + 1)),
            "confusion_matrix[0]: the row adds up to",
        ),
        (
            "iris",
            _set(["metrics", "train", "n_samples"], 7),
            "metrics.train.confusion_matrix: the counts add up to",
        ),
        # Regression reports.
        ("arithmetic", _set(["metrics", "train", "r2"], 1.5), "1.5 is not a possible R2"),
        ("arithmetic", _set(["metrics", "train", "mse"], -1.0), "mse: -1.0 is not a possible"),
        ("arithmetic", _set(["metrics", "test", "rmse"], "x"), "test.rmse: expected a number"),
        (
            "arithmetic",
            _set(["metrics", "train", "mae"], float("nan")),
            "metrics.train.mae: nan is not",
        ),
        (
            "arithmetic",
            _drop(["metrics", "train", "per_target", "sum"]),
            "metrics.train.per_target: missing key(s) 'sum'",
        ),
        (
            "arithmetic",
            _set(["metrics", "train", "per_target", "sum", "r2"], 2.0),
            "metrics.train.per_target.sum.r2: 2.0 is not a possible R2",
        ),
        # Extra keys are allowed, but not the other kind of report's: they tell the kinds apart.
        (
            "arithmetic",
            _set(["metrics", "train", "accuracy"], 1.0),
            "metrics.train: a regressor's report has no key(s) 'accuracy'",
        ),
        (
            "iris",
            _set(["metrics", "test", "r2"], 1.0),
            "metrics.test: a classifier's report has no key(s) 'r2'",
        ),
        ("arithmetic", _set(["metrics", "train", "max_error"], 1.0), None),
        # Config.
        ("iris", _set(["config", "lr"], 0.0), "config.lr: 0.0 is not a positive finite number"),
        ("iris", _set(["config", "lr"], float("inf")), "config.lr: inf is not a positive"),
        ("iris", _set(["config", "hidden"], "6"), "config.hidden: expected an array"),
        ("iris", _set(["config", "hidden"], [0]), "config.hidden[0]: 0 is outside"),
        ("iris", _set(["config", "batch_size"], 0), "config.batch_size: 0 is outside"),
        ("iris", _set(["config", "batch_size"], 1.5), "config.batch_size: expected an integer"),
        ("iris", _set(["config", "epochs"], -3), "config.epochs: -3 is outside"),
        ("iris", _set(["config", "l2"], -1.0), "config.l2: -1.0 is not a non-negative"),
        ("iris", _set(["config", "seed"], -1), "config.seed: -1 is outside"),
        ("iris", _set(["config", "val_split"], 1.0), "config.val_split: 1.0 is not a fraction"),
        ("iris", _set(["config", "early_stopping"], 1), "early_stopping: expected a boolean"),
        ("iris", _set(["config", "optimizer"], 5), "config.optimizer: expected a string"),
        ("iris", _set(["config", "activation"], None), "config.activation: expected a string"),
        ("iris", _set(["config", "optimizer_config"], [1]), "optimizer_config: expected a map"),
        (
            "iris",
            _set(["config", "optimizer_config", "schedule"], "constant"),
            "config.optimizer_config.schedule: expected a map, got a string",
        ),
        (
            "iris",
            _set(["config", "optimizer_config", "schedule", "lr"], "x"),
            "config.optimizer_config.schedule.lr: expected a number",
        ),
        (
            "iris",
            _set(["config", "optimizer_config", "name"], ["adam"]),
            "config.optimizer_config.name: expected a string, got an array",
        ),
        ("iris", _set(["config", "epochs_run"], 21), "config.epochs_run: 21 is more than"),
        ("iris", _set(["config", "best_epoch"], 21), "config.best_epoch: 21 is after the last"),
        (
            "iris",
            _both(_set(["config", "epochs_run"], 19), _set(["config", "best_epoch"], 19)),
            "config.epochs_run: 19, but history records 20 epoch(s)",
        ),
        ("iris", _set(["config", "epochs"], 10**6), None),
        # Provenance.
        (
            "iris",
            _set(["provenance", "created"], "yesterday"),
            "provenance.created: 'yesterday' is not a UTC time written YYYY-MM-DDTHH:MM:SSZ",
        ),
        ("float32", _set(["provenance", "created"], "2026-02-30T00:00:00Z"), "is not a UTC"),
        ("float32", _set(["provenance", "created"], "2026-01-01 00:00:00"), "is not a UTC"),
        ("iris", _set(["provenance", "dataset_sha256"], "abc"), "is not a SHA-256 digest"),
        ("iris", _set(["provenance", "dataset_sha256"], "A" * 64), "is not a SHA-256 digest"),
        ("iris", _set(["provenance", "dataset"], 7), "provenance.dataset: expected a string"),
        ("iris", _set(["provenance", "numpy_version"], None), "numpy_version: expected a string"),
    ],
)
def test_config_metrics_and_provenance_are_checked(payloads, name, edit, message):
    data = _edited(payloads[name], edit)
    if message is None:
        _summary_is_printable(loads_model(data), data)
    else:
        assert message in error_of(data)


def test_descriptive_maps_tolerate_unknown_and_missing_keys(payloads, models):
    """Forward tolerance: unknown keys load, and config and provenance keys may be absent."""
    payload = copy.deepcopy(payloads["float32"])
    payload["config"] = {"hidden": [6], "lr": 1, "future": {"x": [1, "two", None]}}
    payload["config"]["optimizer_config"] = {"name": "lion", "b1": 0.9, "schedule": {"warm": 3}}
    payload["provenance"] = {"created": "2026-01-01T00:00:00Z", "host": "build-7"}
    report = payload["metrics"]["validation"]
    report["balanced_accuracy"] = 0.5
    report["macro"]["support"] = 12
    report["per_class"]["setosa"]["note"] = "new figure"
    payload["metrics"]["holdout"] = copy.deepcopy(report)
    # A mean weighted by support can round to just above 1.
    payload["metrics"]["train"]["weighted"]["f1"] = 1.0000000000000002
    blob = with_payload(payload)
    model = loads_model(blob)
    assert model.config["future"] == {"x": [1, "two", None]}
    assert model.metrics["holdout"]["balanced_accuracy"] == 0.5
    _summary_is_printable(model, blob)
    bare = attrs.evolve(models["iris"], config={}, metrics={}, provenance={})
    assert loads_model(dumps_model(bare)) == bare


def test_a_regressors_unbounded_errors_and_r2_load(payloads):
    """Huge errors overflow to infinity in float64: infinities (never NaN) are possible figures."""
    payload = copy.deepcopy(payloads["arithmetic"])
    payload["metrics"]["train"].update(mse=float("inf"), rmse=float("inf"), r2=float("-inf"))
    blob = with_payload(payload)
    _summary_is_printable(loads_model(blob), blob)


def test_every_known_file_field_is_printable_and_named_in_the_error(payloads):
    payload = copy.deepcopy(payloads["iris"])
    payload["config"]["a\nb"] = 1
    assert "config: key 'a\\nb' contains the control character U+000A" in error_of(
        with_payload(payload)
    )
    payload = copy.deepcopy(payloads["iris"])
    payload["provenance"]["notes"] = {"x": ["ok", "\x1b[2J"]}
    assert "provenance.notes.x[1]: '\\x1b[2J' contains the control character U+001B" in (
        error_of(with_payload(payload))
    )
    payload = copy.deepcopy(payloads["iris"])
    payload["metrics"]["te\x1bst"] = payload["metrics"].pop("test")
    assert "metrics: key 'te\\x1bst' contains" in error_of(with_payload(payload))
    payload = copy.deepcopy(payloads["iris"])
    payload["provenance"]["nnfunc_version"] = "0.1\u202e0"
    assert "provenance.nnfunc_version: '0.1\\u202e0' contains the control character U+202E" in (
        error_of(with_payload(payload))
    )


# --- names: printable text only -------------------------------------------------------------------

UNPRINTABLE_SAMPLES = {
    "newline": "\n",
    "tab": "\t",
    "carriage return": "\r",
    "NUL": "\x00",
    "ANSI escape": "\x1b[31m",
    "DEL": "\x7f",
    "C1 next line": "\x85",
    "C1 CSI": "\x9b",
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "right-to-left isolate": "\u2067",
    "pop directional isolate": "\u2069",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
}


def _rename(path, value):
    """Prefix the name at `path` with `value` (class labels stay sorted: `value` sorts first)."""

    def edit(payload):
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value + target[path[-1]]

    return edit


@pytest.mark.parametrize(
    "field",
    [
        ["feature_names", 0],
        ["feature_names", 3],
        ["target_names", 0],
        ["labels", "classes", 0],
        ["spec", "activations", 0],
        ["spec", "output_activation"],
    ],
    ids=lambda field: ".".join(map(str, field)),
)
@pytest.mark.parametrize("char", list(UNPRINTABLE_SAMPLES.values()), ids=list(UNPRINTABLE_SAMPLES))
def test_names_with_control_characters_are_refused(payloads, field, char):
    message = error_of(_edited(payloads["iris"], _rename(field, char)))
    shown = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in field).lstrip(".")
    code = f"U+{ord(char[0]):04X}"
    assert message.startswith(f"{shown}: ") and f"contains the control character {code}" in message
    assert char[0] not in message  # shown escaped, never raw


def test_names_may_use_any_script_joiners_and_direction_marks(payloads):
    names = [
        "می\u200cخواهم",
        "👩\u200d🔬 score",
        "\u05de\u05d7\u05d9\u05e8 (\u20aa)\u200f",
        "x\u00ady",
    ]
    payload = copy.deepcopy(payloads["iris"])
    payload["feature_names"] = names
    payload["target_names"] = ["種類"]
    assert loads_model(with_payload(payload)).feature_names == tuple(names)


def test_names_must_be_distinct(payloads):
    payload = copy.deepcopy(payloads["iris"])
    payload["feature_names"][2] = payload["feature_names"][0]
    assert "feature_names[2]: 'sepal_length' appears more than once" in error_of(
        with_payload(payload)
    )
    payload = copy.deepcopy(payloads["arithmetic"])
    payload["target_names"][1] = payload["target_names"][0]
    assert "target_names[1]: " in error_of(with_payload(payload))


def test_a_model_with_an_unprintable_name_is_not_saved(models, tmp_path):
    bad = attrs.evolve(models["iris"], feature_names=("a\nb", "b", "c", "d"))
    with pytest.raises(ModelFileError, match=r"cannot store this model: feature_names\[0\]"):
        save_model(bad, tmp_path / "m.msgpack")
    assert not os.listdir(tmp_path)


# --- what `nnfunc inspect` prints, for any file that loads ---------------------------------------


def _summary_is_printable(model, blob):
    """`nnfunc inspect`'s summary and its --json work, every line is one printable line, and the
    JSON is strict (no NaN or Infinity, which JSON has not: an infinite metric is null)."""
    for line in summary_lines(model, "m.msgpack", blob):
        assert unprintable(line) is None, line
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "m.msgpack")
        with open(path, "wb") as file:
            file.write(blob)
        result = CliRunner().invoke(main, ["inspect", path, "--json"])
    assert result.exit_code == 0, result.output

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    assert json.loads(result.stdout, parse_constant=refuse)["sha256"] == model_digest(blob)


@pytest.mark.parametrize("name", ["iris", "xor", "arithmetic", "float32"])
def test_inspect_summarises_every_shipped_kind_of_model(models, name):
    blob = dumps_model(models[name])
    _summary_is_printable(loads_model(blob), blob)


_descriptive_paths = st.sampled_from(["config", "metrics", "provenance"])
# Keys that readers of these maps look up, so that mutations add them too.
_known_keys = st.sampled_from(
    [
        "accuracy",
        "macro",
        "f1",
        "r2",
        "rmse",
        "mae",
        "n_samples",
        "per_class",
        "per_target",
        "optimizer_config",
        "schedule",
        "name",
        "lr",
        "batch_size",
        "epochs_run",
        "created",
        "dataset",
        "nnfunc_version",
        "validation",
    ]
)


@FUZZ
@given(st.data())
def test_fuzz_descriptive_maps_never_crash_inspect(payloads, data):
    """Mutate config, metrics and provenance: a file either is refused or inspects cleanly."""
    payload = copy.deepcopy(payloads[data.draw(st.sampled_from(["iris", "arithmetic"]))])
    for _ in range(data.draw(st.integers(1, 3))):
        section = data.draw(_descriptive_paths)
        paths = [p for p in _paths(payload[section]) if p] or [()]
        path = data.draw(st.sampled_from(paths))
        parent = payload[section]
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            payload[section] = data.draw(_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.one_of(st.text(max_size=8), _known_keys))] = data.draw(_values)
        else:
            parent[path[-1]] = data.draw(_values)
    blob = with_payload(payload)
    try:
        model = loads_model(blob)
    except ModelFileError:
        return
    _summary_is_printable(model, blob)


# --- unpackb_limited, reused by the prediction service ------------------------------------------


def test_unpackb_limited_accepts_plain_data_and_refuses_the_rest():
    data = msgpack.packb({"inputs": [[1.0, 2.5]], "id": "r1", "raw": b"\x01"}, use_bin_type=True)
    assert unpackb_limited(data, max_bytes=1000) == {
        "inputs": [[1.0, 2.5]],
        "id": "r1",
        "raw": b"\x01",
    }
    refusals = {
        msgpack.packb({1: 2}): "map keys must be strings",
        msgpack.packb(1) + b"\x01": "trailing bytes",
        msgpack.packb(msgpack.ExtType(1, b"x")): "extension type 1",
        msgpack.packb(msgpack.Timestamp(1)): "type Timestamp",
        msgpack.packb([[[[1]]]]): "nested deeper than 3",
        msgpack.packb("x" * 100): "max_str_len",
        msgpack.packb(list(range(50))): "max_array_len",
        b"\x82\xa1a\x01\xa1a\x02": "duplicate map key 'a'",
        b"\xc1": "malformed",
        b"\x92\x01": "truncated",
    }
    for data, message in refusals.items():
        with pytest.raises(MsgpackError, match=message):
            unpackb_limited(data, max_bytes=1000, max_depth=3, max_str_len=50, max_array_len=20)
    with pytest.raises(MsgpackError, match="exceed the limit"):
        unpackb_limited(b"\xc0" * 11, max_bytes=10)
    with pytest.raises(MsgpackError, match="nested deeper"):
        unpackb_limited(b"\x91" * 100_000 + b"\xc0", max_bytes=200_000)
    assert issubclass(MsgpackError, ValueError)


# --- fuzzing: only ModelFileError may come out ---------------------------------------------------


def _only_model_file_error(data):
    try:
        result = loads_model(data)
    except ModelFileError as exc:
        assert str(exc)
    else:
        assert isinstance(result, Model)


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data):
    _only_model_file_error(data)


@FUZZ
@given(st.data())
def test_fuzz_truncations_and_bit_flips(blob, data):
    cut = data.draw(st.integers(0, len(blob)))
    _only_model_file_error(blob[:cut])
    flips = data.draw(st.lists(st.integers(0, len(blob) * 8 - 1), min_size=1, max_size=8))
    corrupt = bytearray(blob)
    for bit in flips:
        corrupt[bit // 8] ^= 1 << (bit % 8)
    _only_model_file_error(bytes(corrupt))
    # The same flips inside the payload, with the checksum recomputed, reach the field checks.
    payload = bytearray(envelope_of(blob)["payload"])
    for bit in flips:
        bit %= len(payload) * 8
        payload[bit // 8] ^= 1 << (bit % 8)
    _only_model_file_error(rewrap(bytes(payload)))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:4]):
            yield from _paths(child, (*prefix, i))


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=40),
    st.sampled_from(["<f8", "<f4", ">f8", "<i8", "relu", "softmax", "classify", "regress"]),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(st.data())
def test_fuzz_field_mutations(blob, data):
    payload = payload_of(blob)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(payload) if p]
        path = data.draw(st.sampled_from(paths))
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8))] = data.draw(_values)
        else:
            parent[path[-1]] = data.draw(_values)
    _only_model_file_error(with_payload(payload))


# --- envelope messages stay short, and name what they can -----------------------------------------


def test_a_huge_version_value_is_named_not_echoed():
    data = msgpack.packb({"format": "nnfunc-model", "version": b"\0" * 5_000_000})
    with pytest.raises(ModelFileError) as info:
        loads_model(data)
    assert str(info.value) == "version: expected a positive integer, got bytes of length 5000000"


def test_a_wrong_format_value_is_named():
    with pytest.raises(ModelFileError, match=r"format 'NNFUNC-MODEL', not 'nnfunc-model'"):
        loads_model(msgpack.packb({"format": "NNFUNC-MODEL", "version": 1}))


def test_a_newer_envelope_beyond_this_readers_limits_says_it_is_newer(blob):
    newer = rewrap(envelope_of(blob)["payload"], version=FORMAT_VERSION + 1, notes="x" * 2000)
    with pytest.raises(ModelFileError, match="newer than version 1 .* upgrade nnfunc"):
        loads_model(newer)
    with pytest.raises(ModelFileError, match="malformed msgpack"):  # same limits, version 1
        loads_model(rewrap(envelope_of(blob)["payload"], notes="x" * 2000))


def test_a_path_with_a_nul_byte_is_a_model_file_error():
    with pytest.raises(ModelFileError, match="not a usable path"):
        load_model("a\0b.msgpack")


def test_names_equal_in_unicode_nfc_form_are_duplicates(models):
    # nnfunc matches column names in NFC form: two spellings of one name would be one column
    model = attrs.evolve(models["arithmetic"], feature_names=("caf\u00e9", "cafe\u0301"))
    with pytest.raises(ModelFileError, match=r"feature_names\[1\]: .* appears more than once"):
        loads_model(dumps_model(model))


def test_pausing_the_collector_in_overlapping_threads_restores_it_once_all_are_done():
    # one thread leaving its block used to switch the collector back on under another's feet
    inside, leave = threading.Barrier(2), threading.Event()
    states = []

    def decode():
        with without_gc():
            inside.wait()
            leave.wait()

    assert gc.isenabled()
    other = threading.Thread(target=decode)
    other.start()
    with without_gc():
        inside.wait()
        leave.set()
        other.join()
        states.append(gc.isenabled())  # the other thread has left; this block has not
    states.append(gc.isenabled())
    assert states == [False, True]
