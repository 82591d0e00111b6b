"""Prometheus metrics: requests, errors and latency per model and endpoint, at `/metrics`.

prometheus-client is optional (extra `serve`): without it the service runs and `/metrics` answers
501. Under gunicorn, `nnfunc serve` sets PROMETHEUS_MULTIPROC_DIR before the workers start, so
each worker writes its samples to files there and `/metrics` adds up every worker's.

Metrics never cost a request: when samples cannot be recorded (that folder was removed, by a tmp
cleaner say, or is not writable) the failure is logged once and requests are answered as usual;
`/metrics` then answers 503 with the reason.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger("serve.metrics")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsUnavailable(Exception):
    """The samples cannot be read (the multiprocess folder is gone or unreadable)."""


class Metrics:
    """Counters and a histogram labelled (model, endpoint); a no-op without prometheus-client."""

    def __init__(self) -> None:
        self.failing = False  # recording failed last time (logged when it starts, not per request)
        try:
            import prometheus_client as prom
        except ImportError:
            self.prom: Any = None
            log.warning("prometheus-client is not installed; /metrics is disabled")
            return
        self.prom = prom
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # In multiprocess mode samples live in per-process files, so no registry is needed here;
        # otherwise each app gets its own registry (tests build many apps in one process).
        self.registry = None if self.multiprocess else prom.CollectorRegistry()
        labels = ("model", "endpoint")
        self.requests = prom.Counter(
            "nnfunc_requests", "Requests answered.", labels, registry=self.registry
        )
        self.errors = prom.Counter(
            "nnfunc_request_errors",
            "Requests answered with a 4xx or 5xx status.",
            (*labels, "status"),
            registry=self.registry,
        )
        self.latency = prom.Histogram(
            "nnfunc_request_duration_seconds",
            "Time from request to response.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    @property
    def available(self) -> bool:
        """True when prometheus-client is installed."""
        return self.prom is not None

    def observe(self, model: str, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency; a failure to record is logged once."""
        if self.prom is None:
            return
        try:
            self.requests.labels(model, endpoint).inc()
            self.latency.labels(model, endpoint).observe(seconds)
            if status >= 400:
                self.errors.labels(model, endpoint, str(status)).inc()
        except Exception as exc:  # an OSError from the multiprocess files, mostly
            if not self.failing:
                log.error("cannot record metrics (requests are still served): %s", _reason(exc))
            self.failing = True
            return
        if self.failing:
            log.info("metrics are recorded again")
        self.failing = False

    def render(self) -> tuple[bytes, str]:
        """The exposition text (every worker's samples in multiprocess mode) and its type;
        MetricsUnavailable when the samples cannot be read."""
        prom = self.prom
        try:
            if self.multiprocess:
                from prometheus_client import multiprocess

                registry = prom.CollectorRegistry()
                multiprocess.MultiProcessCollector(registry)
                return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST
            return prom.generate_latest(self.registry), prom.CONTENT_TYPE_LATEST
        except (OSError, ValueError) as exc:  # the folder is gone (ValueError) or unreadable
            raise MetricsUnavailable(f"metrics are unavailable: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """One line for a metrics failure: the OS error and path, or prometheus-client's message."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__
