"""The activation table: values and derivatives at a few points, and a gradient check of each as
a hidden layer."""

from __future__ import annotations

import numpy as np

import nnfunc as nf
from nnfunc.activations import ACTIVATIONS, parse_activation

# 0 is where binary step, ReLU and PReLU have their kink: each takes its derivative from the left
POINTS = np.array([-1000.0, -2.0, -0.5, 0.0, 0.5, 2.0, 1000.0])


def main() -> dict[str, float]:
    """Print each activation's values and derivative; return its worst gradient-check error."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 3)), rng.integers(0, 2, 8)
    errors = {}
    print(f"{'activation':>12s} " + " ".join(f"{p:>9g}" for p in POINTS))
    for name in sorted(ACTIVATIONS):
        if name == "softmax":
            continue
        act, alpha = parse_activation(name)
        values = act.fn(POINTS, alpha)
        slopes = act.grad(POINTS, values, alpha)
        print(f"{name:>12s} " + " ".join(f"{v + 0.0:>9.4g}" for v in values))  # no "-0"
        print(f"{'d/dz':>12s} " + " ".join(f"{d + 0.0:>9.4g}" for d in slopes))
        spec = nf.mlp_spec([3, 5, 2], activation=name)
        errors[name] = nf.check_grads(spec, nf.init_params(spec, 0), X, y).max_rel_error
    print("worst relative gradient error:", max(errors.values()))
    return errors


if __name__ == "__main__":
    main()
