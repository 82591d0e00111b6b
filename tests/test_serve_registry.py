"""Hot reload of the models folder: add, replace, remove, corrupt and temporary files."""

from __future__ import annotations

import logging
import os
import time

import pytest

from nnfunc.datasets import load_dataset
from nnfunc.modelfile import dumps_model, save_model
from nnfunc.pipeline import RECIPES, TrainConfig, train_model
from serve import ServeConfig, create_app
from serve import registry as registry_module
from serve.registry import ModelRegistry, model_name
from serve.server import banner

ROW = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [5, 3, 4, 1]}]}


@pytest.fixture(scope="module")
def iris_a():
    return train_model(load_dataset("iris"), RECIPES["iris"])


@pytest.fixture(scope="module")
def iris_b():
    return train_model(load_dataset("iris"), TrainConfig(hidden=(3,), epochs=5, seed=1))


@pytest.fixture
def folder(tmp_path, iris_a):
    save_model(iris_a, tmp_path / "iris.msgpack")
    return tmp_path


def make_app(folder, **options):
    return create_app(ServeConfig(models_dir=str(folder), poll_interval=0, **options))


def refresh(app):
    return app.extensions["nnfunc"].registry.refresh()


def version(client, name="iris"):
    response = client.post(f"/v2/models/{name}/infer", json=ROW)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["model_version"]


def test_model_names_come_from_safe_file_stems_only():
    assert model_name("iris.msgpack") == "iris"
    assert model_name("iris-v2.1_b.msgpack") == "iris-v2.1_b"
    for ignored in (
        ".iris.msgpack.3f2a.tmp",  # save_model's temporary file
        ".iris.msgpack",
        "iris.msgpack~",
        "iris.msgpack.tmp",
        "iris.tmp.msgpack",
        "iris~.msgpack",
        "iris.json",
        "bad name.msgpack",
        "..msgpack",
        "x" * 200 + ".msgpack",
    ):
        assert model_name(ignored) is None, ignored


def test_adding_replacing_and_removing_files(folder, iris_b):
    app = make_app(folder)
    client = app.test_client()
    first = version(client)
    assert client.get("/v2/models/xor").status_code == 404
    save_model(iris_b, folder / "iris2.msgpack")
    assert refresh(app) is True
    assert client.get("/v2/models/iris2").status_code == 200
    save_model(iris_b, folder / "iris.msgpack")  # replace: same name, new content
    refresh(app)
    second = version(client)
    assert second != first and second == version(client, "iris2")
    os.remove(folder / "iris2.msgpack")
    refresh(app)
    assert client.get("/v2/models/iris2").status_code == 404
    assert refresh(app) is False  # nothing changed since


def test_touching_a_file_without_changing_it_keeps_the_loaded_model(folder):
    app = make_app(folder)
    registry = app.extensions["nnfunc"].registry
    model = registry.get("iris").model
    os.utime(folder / "iris.msgpack", ns=(1, 1))
    refresh(app)
    assert registry.get("iris").model is model


def test_corrupt_replacement_keeps_the_old_version_and_says_why(folder):
    app = make_app(folder)
    client = app.test_client()
    before = version(client)
    (folder / "iris.msgpack").write_bytes(b"\x93garbage")
    refresh(app)
    assert version(client) == before  # still served
    assert client.get("/v2/health/ready").status_code == 200
    status = client.get("/v1/models/iris").get_json()["model_version_status"][0]
    assert status["state"] == "AVAILABLE"
    assert "cannot load iris.msgpack" in status["status"]["error_message"]
    index = client.post("/v2/repository/index").get_json()
    assert "not a readable model file" in index[0]["reason"]


def test_a_corrupt_new_model_is_unavailable_not_half_loaded(folder, iris_a):
    app = make_app(folder)
    client = app.test_client()
    data = dumps_model(iris_a)
    (folder / "broken.msgpack").write_bytes(data[: len(data) // 2])  # a half-written file
    refresh(app)
    ready = client.get("/v2/models/broken/ready")
    assert ready.status_code == 503 and ready.get_json()["state"] == "UNAVAILABLE"
    assert "cannot load broken.msgpack" in ready.get_json()["reason"]
    infer = client.post("/v2/models/broken/infer", json=ROW)
    assert infer.status_code == 503 and "not ready" in infer.get_json()["error"]
    assert client.get("/v2/health/ready").get_json() == {"ready": False, "not_ready": ["broken"]}
    assert client.get("/v1/models/broken").get_json()["model_version_status"][0]["state"] == "END"
    # The writer finishes: the complete file loads on the next scan.
    (folder / "broken.msgpack").write_bytes(data)
    refresh(app)
    assert client.get("/v2/models/broken/ready").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200


def test_temporary_and_foreign_files_are_ignored(folder, iris_a):
    data = dumps_model(iris_a)
    for name in (".iris.msgpack.ab12.tmp", "iris.msgpack~", "other.tmp.msgpack", "notes.txt"):
        (folder / name).write_bytes(data)
    app = make_app(folder)
    names = [m["name"] for m in app.test_client().get("/v1/models").get_json()["models"]]
    assert names == ["iris"]


@pytest.mark.parametrize("kind", ["directory", "broken link", "link to a directory"])
def test_a_model_name_that_is_not_a_regular_file_is_reported_not_dropped(folder, kind):
    # a served model replaced by one of these used to vanish (404, and the server still ready)
    app = make_app(folder)
    client = app.test_client()
    before = version(client)
    path = folder / "iris.msgpack"
    path.unlink()
    if kind == "directory":
        path.mkdir()
    else:
        target = folder / ("gone.msgpack" if kind == "broken link" else "a-folder")
        if kind != "broken link":
            target.mkdir()
        path.symlink_to(target)
    refresh(app)
    assert version(client) == before  # the loaded version is still served
    status = client.post("/v2/repository/index").get_json()
    reason = next(entry["reason"] for entry in status if entry["name"] == "iris")
    expected = "a broken symbolic link" if kind == "broken link" else "is a directory"
    assert reason.startswith("cannot load iris.msgpack: ") and expected in reason


def test_a_refused_file_dated_in_the_future_is_read_once_not_every_scan(folder, monkeypatch):
    bad = folder / "bad.msgpack"
    bad.write_bytes(b"\x93garbage")
    future = time.time() + 86_400
    os.utime(bad, (future, future))
    reads = []
    real = registry_module.read_model_file
    monkeypatch.setattr(
        registry_module, "read_model_file", lambda p, n: reads.append(p) or real(p, n)
    )
    app = make_app(folder)
    for _ in range(4):
        refresh(app)
    assert [os.path.basename(p) for p in reads].count("bad.msgpack") == 1


def test_missing_folder_is_not_ready_and_recovers(tmp_path, iris_a):
    folder = tmp_path / "later"
    app = make_app(folder)
    client = app.test_client()
    assert client.get("/v2/health/ready").status_code == 503
    folder.mkdir()
    save_model(iris_a, folder / "iris.msgpack")
    refresh(app)
    assert client.get("/v2/health/ready").status_code == 200
    version(client)


def test_load_endpoint_rescans_now(folder, iris_b):
    app = make_app(folder)
    client = app.test_client()
    save_model(iris_b, folder / "new.msgpack")
    response = client.post("/v2/repository/models/new/load")
    assert response.status_code == 200 and response.get_json()["state"] == "READY"
    (folder / "bad.msgpack").write_bytes(b"nope")
    failed = client.post("/v2/repository/models/bad/load")
    assert failed.status_code == 400 and "cannot load bad.msgpack" in failed.get_json()["error"]
    assert client.post("/v2/repository/models/gone/load").status_code == 404


def test_the_watcher_thread_picks_up_a_replaced_file(folder, iris_b):
    registry = ModelRegistry(folder, poll_interval=0.1)
    registry.refresh()
    first = registry.get("iris").version
    registry.start()
    try:
        save_model(iris_b, folder / "iris.msgpack")
        deadline = time.monotonic() + 30  # 0.1 s polls; the bound only stops a hung test
        while registry.get("iris").version == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert registry.get("iris").version != first
    finally:
        registry.stop()


# --- files swapped between the folder scan and the read ------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_swapped_in_after_the_scan_is_refused_without_blocking(folder, finishes):
    registry = ModelRegistry(folder, poll_interval=0)
    registry.refresh()
    old = registry.get("iris")
    path = folder / "iris.msgpack"
    os.remove(path)
    os.mkfifo(path)  # after the scan listed a regular file under this name
    finished, outcome = finishes(lambda: registry._load_if_changed("iris", str(path), old))
    if not finished:  # give the blocked reader a writer and an end of file, then fail
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    assert finished, "the registry blocked opening a FIFO"
    entry = outcome[0]
    assert entry.model is old.model and entry.version == old.version  # still serving
    assert entry.error == "cannot load iris.msgpack: not a regular file (a FIFO, a named pipe)"


def test_a_device_swapped_in_after_the_scan_is_refused_before_reading(folder, monkeypatch):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    registry = ModelRegistry(folder, poll_interval=0, max_file_bytes=1 << 20)
    os.symlink("/dev/zero", folder / "zero.msgpack")
    monkeypatch.setattr(os, "read", lambda *args: pytest.fail("a device was read"))
    entry = registry._load_if_changed("zero", str(folder / "zero.msgpack"), None)
    assert not entry.ready
    assert entry.error == "cannot load zero.msgpack: not a regular file (a character device)"


def test_a_file_removed_between_the_scan_and_the_read_counts_as_removed(folder, monkeypatch):
    registry = ModelRegistry(folder, poll_interval=0)
    real_read = registry_module.read_model_file

    def remove_then_read(path, max_bytes):
        os.remove(path)
        return real_read(path, max_bytes)

    monkeypatch.setattr(registry_module, "read_model_file", remove_then_read)
    assert registry._load_if_changed("iris", str(folder / "iris.msgpack"), None) is None


def test_unload_says_how_to_unload_a_model_of_the_folder(folder):
    refused = make_app(folder).test_client().post("/v2/repository/models/iris/unload")
    assert refused.status_code == 400
    assert "move iris.msgpack out of it" in refused.get_json()["error"]


def messages(caplog, level=None):
    """The serve loggers' messages so far (at `level` only, if given)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("serve") and (level is None or r.levelno == level)
    ]


def test_an_in_place_rewrite_keeping_size_mtime_and_inode_is_reloaded(tmp_path):
    # cp -p, rsync --inplace -t and reproducible-build dates keep all three: only ctime moves
    first, second = (
        train_model(load_dataset("iris"), TrainConfig(hidden=(3,), epochs=5, seed=seed))
        for seed in (1, 2)
    )
    path = tmp_path / "iris.msgpack"
    save_model(first, path)
    app = make_app(tmp_path)
    client = app.test_client()
    before = version(client)
    old = os.stat(path)
    data = dumps_model(second)
    assert len(data) == old.st_size
    time.sleep(0.05)  # file times tick with the kernel's coarse clock
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    new = os.stat(path)
    assert (new.st_size, new.st_mtime_ns, new.st_ino) == (old.st_size, old.st_mtime_ns, old.st_ino)
    refresh(app)
    assert version(client) != before
    # A worker that starts now reads the same file: every worker agrees on the version.
    assert version(make_app(tmp_path).test_client()) == version(client)


def test_files_ignored_for_their_names_are_logged_once(folder, iris_a, caplog):
    data = dumps_model(iris_a)
    for name in ("bad name!.msgpack", "UPPER.MSGPACK", ".hidden.msgpack", "x.tmp.msgpack"):
        (folder / name).write_bytes(data)
    (folder / "notes.txt").write_text("not a model")
    with caplog.at_level(logging.INFO, logger="serve"):
        app = make_app(folder)
        refresh(app)
        refresh(app)
    warned = messages(caplog, logging.WARNING)
    assert sorted(warned) == [
        "ignoring 'UPPER.MSGPACK' in the models folder: the suffix must be .msgpack, in lower case",
        "ignoring 'bad name!.msgpack' in the models folder: a model name is 1 to 128 of "
        "A-Z a-z 0-9 _ . - (not starting with a dot)",
    ]
    assert app.extensions["nnfunc"].registry.ignored.keys() == {
        "bad name!.msgpack",
        "UPPER.MSGPACK",
    }


def test_the_banner_names_what_loads_what_cannot_and_what_is_ignored(folder, iris_a):
    (folder / "broken.msgpack").write_bytes(b"\x93garbage")
    (folder / "sub.msgpack").mkdir()
    (folder / "UPPER.MSGPACK").write_bytes(dumps_model(iris_a))
    config = ServeConfig(models_dir=str(folder), poll_interval=0)
    lines = banner(config, "::1", 18526)
    assert lines[0] == f"nnfunc serve: models in {folder}: iris"
    assert lines[1].startswith("nnfunc serve: answering 503 until a good file replaces each: ")
    assert "cannot load broken.msgpack: " in lines[1]
    assert "cannot load sub.msgpack: " in lines[1] and "is a directory" in lines[1]
    assert lines[2].startswith("nnfunc serve: ignored: 'UPPER.MSGPACK' (the suffix must be")
    assert lines[3] == "nnfunc serve: listening on http://[::1]:18526 (/openapi.json)"
    assert banner(config, "127.0.0.1", 8000)[-1].endswith("http://127.0.0.1:8000 (/openapi.json)")


def test_a_file_being_written_is_a_warning_until_it_settles_as_an_error(folder, caplog):
    app = make_app(folder)
    path = folder / "late.msgpack"
    with caplog.at_level(logging.INFO, logger="serve"):
        path.write_bytes(b"\x93half")  # fresh: perhaps mid-write
        refresh(app)
        refresh(app)
        assert messages(caplog, logging.ERROR) == []
        assert len(messages(caplog, logging.WARNING)) == 1
        past = time.time() - 60  # it stays this way: the refusal is an error, once
        os.utime(path, (past, past))
        refresh(app)
        refresh(app)
    errors = messages(caplog, logging.ERROR)
    assert len(errors) == 1 and errors[0].startswith("model late: cannot load late.msgpack")


def test_losing_and_regaining_the_models_folder_is_logged_and_the_models_keep_serving(
    folder, tmp_path_factory, caplog
):
    app = make_app(folder)
    client = app.test_client()
    before = version(client)
    away = tmp_path_factory.mktemp("elsewhere") / "moved"
    with caplog.at_level(logging.INFO, logger="serve"):
        folder.rename(away)
        refresh(app)
        refresh(app)
        # Loaded models keep answering (a volume that blinks takes no replica out of service).
        assert client.get("/v2/health/ready").status_code == 200
        assert version(client) == before
        away.rename(folder)
        refresh(app)
    errors = messages(caplog, logging.ERROR)
    assert len(errors) == 1 and "cannot read the models folder" in errors[0]
    assert "still serving the models loaded" in errors[0]
    assert f"the models folder {folder} can be read again" in messages(caplog, logging.INFO)
