"""Is a network the right size for its data and this machine? Checked before any weight exists.

Too big for a model file or for memory is refused (ValueError); more parameters than training rows
is only a warning, since a small dataset may still be what a user wants to fit.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from nnfunc.spec import MLPSpec
from nnfunc.train_config import TrainConfig

# A model must fit in a model file; reserve room beside the weights for everything else.
FILE_RESERVE_BYTES = 64 * 1024


class OverparameterizedWarning(UserWarning):
    """The parameters outnumber the training rows."""


def overparameterized(n_params: int, n_train: int, *, held_out: bool = True) -> str | None:
    """The warning for a network with more parameters than training rows, or None.

    Without `held_out` rows (a truth table such as xor) fitting every training row is the goal
    and there is nothing to generalise to, so there is no warning.
    """
    if n_params <= n_train or not held_out:
        return None
    return (
        f"the network has {n_params} parameters for {n_train} training "
        f"row{'s' * (n_train != 1)}: it can memorise "
        "them (fewer hidden units, l2 or more data generalise better)"
    )


def memory_limit() -> int | None:
    """Bytes this process may use: physical memory, or a lower address-space limit (ulimit -v)."""
    limits = []
    with contextlib.suppress(AttributeError, ValueError, OSError):
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    with contextlib.suppress(ImportError, AttributeError, ValueError, OSError):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    limits = [n for n in limits if n > 0]
    return min(limits) if limits else None


def _gigabytes(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def check_capacity(spec: MLPSpec, config: TrainConfig, n_train: int) -> None:
    """Refuse a network too big for a model file, or for this machine's memory, before training.

    The memory figure is an estimate: the weights with their gradients and optimizer state
    (about six copies), and two activations per unit for a forward pass over the training rows.
    """
    from nnfunc.modelfile import MAX_FILE_BYTES

    sizes = spec.sizes
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    itemsize = np.dtype(config.dtype).itemsize
    shape = "-".join(map(str, sizes))
    history = config.epochs * 4 * 9  # up to four per-epoch lists of msgpack floats
    if n_params * itemsize + history + FILE_RESERVE_BYTES > MAX_FILE_BYTES:
        raise ValueError(
            f"a {shape} network has {n_params:,} parameters ({n_params * itemsize / 2**20:,.0f} "
            f"MiB as {config.dtype}), more than a model file holds ({MAX_FILE_BYTES / 2**20:,.0f} "
            "MiB); use fewer or smaller hidden layers"
        )
    _check_values(spec, config)
    needed = itemsize * (6 * n_params + 2 * n_train * sum(sizes[1:]))
    limit = memory_limit()
    if limit is not None and needed > limit:
        raise ValueError(
            f"training a {shape} network on {n_train} rows needs about {_gigabytes(needed)} "
            f"of memory, more than the {_gigabytes(limit)} available; use fewer or smaller "
            "hidden layers"
        )


def _check_values(spec: MLPSpec, config: TrainConfig) -> None:
    """Refuse a run whose history and metrics hold more values than a model file reads.

    Four numbers per epoch of history; per split, a classifier's confusion matrix (classes
    squared) and per-class figures (a dozen values a class); and room for everything else.
    """
    from nnfunc.modelfile import MAX_OBJECTS

    classes = 0 if spec.loss == "mse" else max(spec.n_outputs, 2)
    values = 4 * config.epochs + 3 * (classes * classes + 12 * classes) + 10_000
    if values > MAX_OBJECTS:
        raise ValueError(
            f"a model file holds at most {MAX_OBJECTS:,} values besides the weights, and "
            f"{config.epochs:,} epochs of history with the metrics of {classes} classes need "
            f"about {values:,}: train fewer epochs (or predict fewer classes)"
        )
