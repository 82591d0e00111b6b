"""`nnfunc serve` as a real server: 2 gunicorn workers on a loopback port, talked to over HTTP.

The tests run in order against one server: predictions equal `nnfunc predict`, a concurrent load
with a model replaced mid-way fails no request, a corrupt file leaves the last version serving,
/metrics adds up both workers, and SIGTERM ends it cleanly.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from nnfunc.cli import main
from nnfunc.datasets import load_dataset
from nnfunc.modelfile import save_model
from nnfunc.pipeline import RECIPES, TrainConfig, train_model

pytest.importorskip("gunicorn")
ROWS = load_dataset("iris").X[::10].tolist()  # 15 rows
INFER_COUNT = {"n": 0}  # every successful /v2/models/iris/infer, to check /metrics against


def infer_body(rows):
    tensor = {"name": "input", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}
    return json.dumps({"inputs": [tensor]})


def request(port, method, path, body=None, conn=None):
    """(status, decoded JSON or text) over a fresh connection unless one is given."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        if own:
            conn.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(data)
    return response.status, data.decode()


def wait_until_ready(proc, port, seconds=30):
    """Poll /v2/health/ready until it answers 200; fail with the server's output if it exits
    or takes longer than `seconds` (a bound for a hung server, not a speed target)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if request(port, "GET", "/v2/health/ready")[0] == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start:\n{proc.stdout.read().decode()}")
        time.sleep(0.1)


def infer(port, conn=None):
    status, body = request(port, "POST", "/v2/models/iris/infer", infer_body(ROWS[:1]), conn)
    if status == 200:
        INFER_COUNT["n"] += 1
    return status, body


@pytest.fixture(scope="module")
def models():
    first = train_model(load_dataset("iris"), RECIPES["iris"])
    second = train_model(load_dataset("iris"), TrainConfig(hidden=(3,), epochs=5, seed=1))
    return first, second


@pytest.fixture(scope="module")
def server(tmp_path_factory, models, free_port):
    folder = tmp_path_factory.mktemp("models")
    save_model(models[0], folder / "iris.msgpack")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNFUNC_", "PROMETHEUS_"))}
    command = [sys.executable, "-m", "nnfunc", "serve", "--models", str(folder)]
    command += ["--port", str(port), "--workers", "2", "--poll-interval", "0.2"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_until_ready(proc, port)
    yield {"proc": proc, "port": port, "folder": folder}
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_predictions_equal_nnfunc_predict(server, tmp_path):
    csv = tmp_path / "rows.csv"
    names = load_dataset("iris").feature_names
    csv.write_text(",".join(names) + "\n" + "".join(",".join(map(repr, r)) + "\n" for r in ROWS))
    model_file = server["folder"] / "iris.msgpack"
    cli = subprocess.run(
        [sys.executable, "-m", "nnfunc", "predict", str(model_file), "--data", str(csv)]
        + ["--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(cli.stdout)
    status, body = request(server["port"], "POST", "/v2/models/iris/infer", infer_body(ROWS))
    assert status == 200
    outputs = {o["name"]: o["data"] for o in body["outputs"]}
    assert outputs["label"] == expected["labels"]
    assert (
        np.reshape(outputs["probabilities"], (len(ROWS), 3)).tolist() == expected["probabilities"]
    )
    INFER_COUNT["n"] += 1
    status, v1 = request(
        server["port"], "POST", "/v1/models/iris:predict", json.dumps({"instances": ROWS})
    )
    assert [p["label"] for p in v1["predictions"]] == expected["labels"]


def test_concurrent_load_with_a_model_replaced_midway_fails_nothing(server, models):
    port = server["port"]
    before = infer(port)[1]["model_version"]
    stop = threading.Event()
    failures: list[str] = []
    versions: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                status, body = infer(port, conn)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            with lock:
                if status == 200:
                    versions.append(body["model_version"])
                else:
                    failures.append(f"{status} {body}")
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    save_model(models[1], server["folder"] / "iris.msgpack")  # atomic replace under load
    deadline = time.monotonic() + 30  # a bound for a hung server, not a speed target
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with lock:
            if len(set(versions) - {before}) and len(versions) > 50:
                break
    time.sleep(0.5)  # requests keep coming after the switch
    stop.set()
    for thread in threads:
        thread.join(timeout=20)
    assert failures == []
    assert len(versions) > 50
    after = set(versions) - {before}
    assert len(after) == 1, "the replaced model was never served during the load"
    # Both workers serve the new version now (fresh connections land on either).
    new = after.pop()
    assert all(infer(port)[1]["model_version"] == new for _ in range(10))
    server["version"] = new


def test_corrupt_file_leaves_the_last_version_serving(server):
    port = server["port"]
    (server["folder"] / "iris.msgpack").write_bytes(b"\x85not a model at all")
    deadline = time.monotonic() + 30  # until both workers have tried to load it (fresh
    seen = 0  # connections land on either); the bound only stops a hung test
    while seen < 10 and time.monotonic() < deadline:
        _, model_status = request(port, "GET", "/v1/models/iris")
        seen = seen + 1 if "cannot load" in str(model_status) else 0
        time.sleep(0.1)
    for _ in range(10):
        status, body = infer(port)
        assert status == 200 and body["model_version"] == server["version"]
        _, model_status = request(port, "GET", "/v1/models/iris")
        error = model_status["model_version_status"][0]["status"]["error_message"]
        assert "cannot load iris.msgpack" in error
    assert request(port, "GET", "/v2/health/ready")[0] == 200


def test_metrics_add_up_every_worker(server):
    status, text = request(server["port"], "GET", "/metrics")
    assert status == 200
    match = re.search(r'nnfunc_requests_total\{endpoint="v2.infer",model="iris"\} (\S+)', text)
    assert match is not None, text[:2000]
    assert float(match.group(1)) == INFER_COUNT["n"]


def test_a_chunked_body_over_the_limit_is_413(server):
    body = infer_body(ROWS[:1])[:-1] + ', "pad": "' + "x" * (5 * 1024 * 1024) + '"}'
    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    try:
        blocks = (body[i : i + 65536].encode() for i in range(0, len(body), 65536))
        headers = {"Content-Type": "application/json"}
        conn.request("POST", "/v2/models/iris/infer", blocks, headers, encode_chunked=True)
        response = conn.getresponse()
        answer = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 413
    assert answer == {"error": "request body too large", "max_bytes": 4 * 1024 * 1024}


def test_sigterm_stops_the_server_cleanly(server):
    proc = server["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    log = proc.stdout.read().decode()
    assert "Traceback" not in log
    assert "Shutting down" in log


def test_cli_refuses_a_busy_port_and_a_missing_folder(tmp_path, free_port):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", free_port()))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", "--models", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 2
    assert "already in use" in result.output
    missing = CliRunner().invoke(main, ["serve", "--models", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def raw_exchange(port, head: bytes, body: bytes):
    """Send a whole request, then read until the server closes: (status line, body, seconds)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):  # a timeout (the server kept it open) fails the test
            answer += chunk
        elapsed = time.monotonic() - started
    status, _, rest = answer.partition(b"\r\n")
    return status.decode(), rest.partition(b"\r\n\r\n")[2], elapsed


def test_dev_server_answers_and_stops_on_sigterm(tmp_path, models, free_port):
    save_model(models[0], tmp_path / "iris.msgpack")
    port = free_port()
    command = [sys.executable, "-m", "nnfunc", "serve", "--models", str(tmp_path)]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--dev", "--max-body-bytes", "10000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = request(port, "POST", "/v2/models/iris/infer", infer_body(ROWS))
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert status == 200 and body["model_name"] == "iris"
        # Bodies over the limit, chunked or not, and a body never read (unknown model): a JSON
        # answer, and the connection closes at once rather than when the client gives up.
        big = infer_body(ROWS)[:-1] + ', "pad": "' + "x" * 300_000 + '"}'
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(part), part)
            for part in (big[i : i + 8192].encode() for i in range(0, len(big), 8192))
        )
        start = b"POST /v2/models/%s/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        for name, framing, payload, expected in (
            (b"iris", b"Transfer-Encoding: chunked", chunks + b"0\r\n\r\n", "413"),
            (b"iris", b"Content-Length: %d" % len(big), big.encode(), "413"),
            (b"ghost", b"Content-Length: %d" % len(big), big.encode(), "404"),
        ):
            status_line, answer, elapsed = raw_exchange(
                port, start % name + b"\r\n" + framing, payload
            )
            assert status_line.split()[1] == expected, (status_line, answer)
            assert "error" in json.loads(answer)
            assert elapsed < 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_documented_gunicorn_command_logs_model_loads_with_time_pid_and_level(
    tmp_path, models, free_port
):
    # gunicorn sets up only its own loggers: the serve ones had no handler and said nothing
    save_model(models[0], tmp_path / "iris.msgpack")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNFUNC_", "PROMETHEUS_"))}
    env["NNFUNC_MODELS_DIR"] = str(tmp_path)
    command = [sys.executable, "-m", "gunicorn", "-c", "python:serve.gunicorn_conf", "-w", "1"]
    command += ["-b", f"127.0.0.1:{port}", "serve:create_app()"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until_ready(proc, port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = proc.stdout.read().decode()
    line = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[\d+\] INFO serve\.registry: model iris loaded"
    assert re.search(line + r", version [0-9a-f]{16}$", log, re.MULTILINE), log


def test_a_metrics_folder_removed_by_a_tmp_cleaner_is_made_again_for_the_next_worker(
    tmp_path, monkeypatch
):
    from serve import gunicorn_conf

    path = tmp_path / "nnfunc-metrics-x"  # what on_starting made, since removed
    monkeypatch.setattr(gunicorn_conf, "_OWNED_DIR", [str(path)])
    gunicorn_conf.pre_fork(None, None)
    assert path.is_dir()
