"""Shared test fixtures."""

import pytest

from nnfunc.activations import ACTIVATIONS


@pytest.fixture
def scratch_activations():
    """Activations a test registers are removed afterwards, so other tests see the stock table."""
    before = set(ACTIVATIONS)
    yield
    for name in set(ACTIVATIONS) - before:
        del ACTIVATIONS[name]
