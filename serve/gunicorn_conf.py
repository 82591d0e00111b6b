"""gunicorn settings and hooks for the service (what `nnfunc serve` uses; usable directly too):

    NNFUNC_MODELS_DIR=models gunicorn -c python:serve.gunicorn_conf 'serve:create_app()'

The hooks give the serve loggers timestamped lines with PID and level (gunicorn sets up only its
own), give the workers a shared PROMETHEUS_MULTIPROC_DIR (created before they fork, created again
if a tmp cleaner removed it, removed at exit) and drop a dead worker's metric files, so `/metrics`
adds up every live worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from typing import Any

from serve.metrics import MULTIPROC_ENV
from serve.server import configure_logging

log = logging.getLogger("serve.gunicorn")

worker_class = "gthread"
workers = 2
threads = 4
bind = "127.0.0.1:8000"
timeout = 30
graceful_timeout = 10
keepalive = 5
preload_app = False  # each worker builds its own app, registry and watcher thread after fork
proc_name = "nnfunc-serve"
control_socket_disable = True  # gunicorn >= 24: no shared ~/.gunicorn socket (older ones skip it)

_OWNED_DIR: list[str] = []


def on_starting(server: Any) -> None:
    """Before any worker forks: set up the serve loggers at gunicorn's log level, and create the
    metrics folder unless the environment names one."""
    configure_logging(str(getattr(server.cfg, "loglevel", "info")))
    if not os.environ.get(MULTIPROC_ENV):
        path = tempfile.mkdtemp(prefix="nnfunc-metrics-")
        os.environ[MULTIPROC_ENV] = path
        _OWNED_DIR.append(path)


def pre_fork(server: Any, worker: Any) -> None:
    """Before each worker starts: the metrics folder this master made is there (a tmp cleaner
    may have removed it; the new worker records its metrics again)."""
    for path in _OWNED_DIR:
        if not os.path.isdir(path):
            log.warning("the metrics folder %s was removed; creating it again", path)
            with contextlib.suppress(OSError):  # the worker logs it if it still cannot record
                os.makedirs(path, mode=0o700, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: stop counting its live gauges (its counters stay in the sums)."""
    with contextlib.suppress(ImportError):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """The master is exiting: remove the metrics folder it created."""
    while _OWNED_DIR:
        shutil.rmtree(_OWNED_DIR.pop(), ignore_errors=True)


HOOKS = {
    "on_starting": on_starting,
    "pre_fork": pre_fork,
    "child_exit": child_exit,
    "on_exit": on_exit,
}
SETTINGS = {
    "worker_class": worker_class,
    "timeout": timeout,
    "graceful_timeout": graceful_timeout,
    "keepalive": keepalive,
    "preload_app": preload_app,
    "proc_name": proc_name,
    "control_socket_disable": control_socket_disable,
}
