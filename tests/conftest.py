"""Shared test fixtures."""

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


@pytest.fixture
def finishes():
    """Run a call that may block forever (opening a FIFO) without hanging the suite."""
    return _finishes
