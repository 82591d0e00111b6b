"""The example scripts run, and reach the tutorials' figures, so they cannot rot."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_iris_by_hand_reaches_the_tutorial_accuracy():
    assert _load("iris_by_hand").main(epochs=1000) >= 0.93


def test_logic_gates_are_solved_exactly():
    assert _load("logic_gates").main() == {"or": True, "xor": True}


def test_moons_minibatch_sgd():
    assert _load("moons_minibatch").main(epochs=3) >= 0.97


def test_arithmetic_regression_with_scalers():
    r2_sum, r2_difference, r2_absolute = _load("arithmetic_regression").main(epochs=150)
    assert r2_sum >= 0.99 and r2_difference >= 0.99 and r2_absolute >= 0.95


def test_activation_table_gradients_check_out():
    errors = _load("activations_table").main()
    assert len(errors) >= 12 and max(errors.values()) < 1e-6


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_a_test_above(script):
    assert script.removesuffix(".py") in pathlib.Path(__file__).read_text()


def test_an_example_runs_as_a_script():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "logic_gates.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "xor -> [0 1 1 0]" in done.stdout
