"""Shared test fixtures."""

import random
import socket
import threading

import pytest

from nnfunc.activations import ACTIVATIONS, unregister_activation


@pytest.fixture
def scratch_activations():
    """Activations a test registers are removed afterwards, so other tests see the stock table."""
    before = set(ACTIVATIONS)
    yield
    for name in set(ACTIVATIONS) - before:
        unregister_activation(name)


def _finishes(fn, seconds=10.0):
    """fn() in a daemon thread: (finished within `seconds`, [what it returned or raised])."""
    outcome = []

    def target():
        try:
            outcome.append(fn())
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), outcome


def _free_port() -> int:
    """A free port in 18600-18699, the range the tests' servers use."""
    for port in random.sample(range(18600, 18700), 100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free port in 18600-18699")


@pytest.fixture(scope="session")
def free_port():
    """A function that finds a free port for a test server (in the tests' own range)."""
    return _free_port


@pytest.fixture
def finishes():
    """Run a call that may block forever (opening a FIFO) without hanging the suite."""
    return _finishes
