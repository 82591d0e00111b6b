"""Slow and stalled request bodies: a deadline frees the worker thread with a JSON 408.

The first test drives `BodyDeadline` on a socket pair; the others run `nnfunc serve` under
gunicorn with one worker of two threads and a one-second body timeout, so a few stalled clients
are enough to occupy every thread.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from nnfunc.datasets import load_dataset
from nnfunc.modelfile import save_model
from nnfunc.pipeline import TrainConfig, train_model
from serve.deadline import BodyDeadline

ROW = [5.1, 3.5, 1.4, 0.2]
BODY = json.dumps(
    {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [ROW]}]}
).encode()
HEAD = b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def test_a_trickling_read_fails_at_the_deadline_and_the_timeout_comes_back():
    reader, writer = socket.socketpair()
    stop = threading.Event()

    def trickle() -> None:  # a byte every 0.1 s: each read alone would wait for ever
        while not stop.wait(0.1):
            writer.sendall(b"x")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with BodyDeadline(reader, 0.5) as deadline, pytest.raises(TimeoutError):
            while True:
                reader.recv(1024)
        assert deadline.passed and time.monotonic() - started < 0.9
        assert reader.gettimeout() is None
    finally:
        stop.set()
        thread.join()
        reader.close()
        writer.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, free_port):
    pytest.importorskip("gunicorn")
    folder = tmp_path_factory.mktemp("models")
    model = train_model(load_dataset("iris"), TrainConfig(hidden=(3,), epochs=5, seed=1))
    save_model(model, folder / "iris.msgpack")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNFUNC_", "PROMETHEUS_"))}
    command = [sys.executable, "-m", "nnfunc", "serve", "--models", str(folder), "--port"]
    command += [str(port), "--workers", "1", "--threads", "2", "--body-timeout", "1"]
    log = folder / "serve.log"  # a file, not a pipe nobody reads: the log cannot fill it up
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while get(port, "/v2/health/ready") != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def get(port: int, path: str) -> int | None:
    """The status of GET `path`, or None while nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def answer(sock: socket.socket) -> tuple[str, dict]:
    """Read until the server closes: (status line, JSON body). A timeout fails the test."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


def test_stalled_bodies_are_answered_408_and_free_the_threads(server):
    # Three clients that send one byte of a 100-byte body and stall, with two threads: before
    # the deadline, every thread waited for ever and nothing else was answered.
    socks = [socket.create_connection(("127.0.0.1", server), timeout=5) for _ in range(3)]
    started = time.monotonic()
    for sock in socks:
        sock.sendall(HEAD + b"Content-Length: 100\r\n\r\n{")
    time.sleep(0.2)
    assert get(server, "/v2/health/live") == 200
    assert time.monotonic() - started < 3
    for sock in socks:
        with sock:
            status, body = answer(sock)  # the connection closes after the answer
            assert status.split()[1] == "408", status
            assert body == {"error": "request timeout: the body did not arrive within 1 s"}
    assert time.monotonic() - started < 4


def test_a_body_trickling_past_the_deadline_is_a_408(server):
    with socket.create_connection(("127.0.0.1", server), timeout=0.2) as sock:
        started = time.monotonic()
        sock.sendall(HEAD + b"Content-Length: 100\r\n\r\n{")
        data = b""
        while not data and time.monotonic() - started < 4:  # one byte every 0.2 s, as long
            try:  # as the server takes them
                sock.sendall(b" ")
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
        sock.settimeout(5)
        while chunk := sock.recv(65536):
            data += chunk
        elapsed = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert elapsed < 2.5


def test_a_body_shorter_than_its_content_length_is_a_400(server):
    # gunicorn ends a body where the client stops sending: the whole valid JSON was taken
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % (len(BODY) + 10) + BODY)
        sock.shutdown(socket.SHUT_WR)
        status, body = answer(sock)
    assert status.split()[1] == "400", status
    expected = f"it ended after {len(BODY)} of the {len(BODY) + 10} bytes its Content-Length"
    assert body["error"].startswith(f"malformed body: {expected}")
