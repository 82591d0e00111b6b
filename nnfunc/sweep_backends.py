"""Engines that run sweep trials: here one after another, on local cores (joblib), or on Dask.

A backend is a function `(dataset, tasks) -> iterator of trial results`, in whatever order trials
finish; each result names its configuration and trial, so order does not matter. joblib and
dask.distributed are imported only when asked for (the `dask` extra installs both).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from nnfunc.datasets import Dataset
from nnfunc.extras import missing_extra
from nnfunc.sweep import Backend, run_trial

__all__ = ["dask_backend", "default_jobs", "joblib_backend", "local_dask", "remote_dask", "serial"]


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        what = f"this backend ({module.split('.')[0]})"
        raise ImportError(missing_extra(what, "dask")) from None


def default_jobs() -> int:
    """Worker processes to use by default: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def serial() -> Backend:
    """Run every trial in this process, in order (no extra dependency)."""

    def run(dataset: Dataset, tasks: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for task in tasks:
            yield run_trial(dataset, task)

    return run


def joblib_backend(n_jobs: int) -> Backend:
    """Run trials in `n_jobs` local worker processes (joblib's loky), yielding as they finish."""
    joblib = _require("joblib")
    if n_jobs == 1:
        return serial()

    def run(dataset: Dataset, tasks: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        yield from parallel(joblib.delayed(run_trial)(dataset, task) for task in tasks)

    return run


def _engine_error(task: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """A result for a trial the engine lost (a worker killed, say): recorded, not raised."""
    return {
        "index": task["index"],
        "trial": task["trial"],
        "seed": task["config"]["seed"],
        "error": f"{type(exc).__name__}: {exc}",
        "seconds": 0.0,
    }


def _nnfunc_version() -> str:
    from nnfunc import __version__

    return __version__


def dask_backend(client: Any) -> Backend:
    """Run trials on the workers of a `dask.distributed.Client`, yielding as they finish.

    The dataset is sent to every worker once. Workers must have nnfunc installed: this checks
    their version first, so a cluster without it fails once, clearly, not once per trial.
    """
    distributed = _require("distributed")
    from nnfunc import __version__

    try:
        versions = client.run(_nnfunc_version)
    except Exception as exc:  # a worker that cannot import nnfunc, say
        raise RuntimeError(f"Dask workers cannot run nnfunc: {type(exc).__name__}: {exc}") from exc
    wrong = {worker: v for worker, v in versions.items() if v != __version__}
    if wrong:
        raise RuntimeError(f"Dask workers run another nnfunc than {__version__}: {wrong}")

    def run(dataset: Dataset, tasks: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if not tasks:
            return
        data = client.scatter(dataset, broadcast=True)
        futures = {client.submit(run_trial, data, task, pure=False): task for task in tasks}
        try:
            for future in distributed.as_completed(futures):
                try:
                    yield future.result()
                except Exception as exc:  # the engine failed the trial, not the training
                    yield _engine_error(futures[future], exc)
        finally:
            client.cancel(list(futures))

    return run


@contextlib.contextmanager
def local_dask(n_workers: int, *, processes: bool = True) -> Iterator[Backend]:
    """Start a Dask cluster of `n_workers` single-threaded workers on this machine, then stop it."""
    distributed = _require("distributed")
    with _children_ignore_ctrl_c():
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=processes,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server runs anyway: a free loopback port
            silence_logs=logging.ERROR,  # not the warnings of a cluster stopped by Ctrl-C
        )
    with cluster, distributed.Client(cluster) as client:
        yield dask_backend(client)


@contextlib.contextmanager
def _children_ignore_ctrl_c() -> Iterator[None]:
    """Processes started in the block inherit an ignored SIGINT: Ctrl-C reaches only this
    process, which stops them cleanly, instead of printing a traceback from each worker."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def remote_dask(address: str, *, timeout: float = 10.0) -> Iterator[Backend]:
    """Connect to the Dask scheduler at `address` (tcp://HOST:PORT) for the life of the block."""
    distributed = _require("distributed")
    with distributed.Client(address, timeout=timeout) as client:
        yield dask_backend(client)
