"""Running the app: gunicorn with N workers in production, Flask's own server for development."""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
from typing import Any

from nnfunc.extras import missing_extra
from serve.config import ServeConfig
from serve.registry import ModelRegistry

DEV_DRAIN_MAX_BYTES = 64 * 1024 * 1024
LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


def bind_address(host: str, port: int) -> str:
    """gunicorn's bind string (IPv6 literals in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def configure_logging(level: str = "info") -> None:
    """Log lines with time, PID and level for the service's loggers (`serve.*`: models loaded,
    reloaded, removed; errors), on stderr. A no-op when the root logger already has a handler:
    `nnfunc serve` set it up already, or the embedding application has its own."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


def banner(config: ServeConfig, host: str, port: int) -> list[str]:
    """The startup lines: the models found, the files that cannot load (with why) and those
    ignored for their names, and the address. Reads the folder once, logging nothing."""
    registry = ModelRegistry(config.models_dir, poll_interval=0, quiet=True)
    registry.refresh()
    entries = registry.entries()
    ready = [e.name for e in entries if e.ready]
    listed = ", ".join(ready) if ready else "none yet (the folder is watched)"
    lines = [f"models in {config.models_dir}: {listed}"]
    if registry.folder_error:
        lines.append(registry.folder_error)
    failed = [e.error for e in entries if not e.ready]
    if failed:
        which = "it" if len(failed) == 1 else "each"
        lines.append(f"answering 503 until a good file replaces {which}: {'; '.join(failed)}")
    if registry.ignored:
        names = "; ".join(f"{name!r} ({why})" for name, why in sorted(registry.ignored.items()))
        lines.append(f"ignored: {names}")
    lines.append(f"listening on http://{bind_address(host, port)} (/openapi.json)")
    return [f"nnfunc serve: {line}" for line in lines]


def run_gunicorn(
    config: ServeConfig,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int = 4,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve `config` under gunicorn (gthread workers); returns when gunicorn stops (SIGTERM)."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise RuntimeError(
            missing_extra("running with workers (gunicorn)", "serve") + " (or use --dev)"
        ) from None
    from serve import gunicorn_conf

    options: dict[str, Any] = {
        **gunicorn_conf.SETTINGS,
        **gunicorn_conf.HOOKS,
        "bind": [bind_address(host, port)],
        "workers": workers,
        "threads": threads,
        "loglevel": log_level,
        "errorlog": "-",
        "accesslog": "-" if access_log else None,
    }

    class _Application(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # settings newer than the installed gunicorn: skip
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from serve.app import create_app

            return create_app(config)  # in each worker, after the fork

    _Application().run()


class DrainBody:
    """WSGI middleware for Werkzeug's development server: discard the unread rest of the request
    body, up to where the body ends, before the answer goes out.

    After answering, the development server discards leftover request bytes with a read that only
    ends when the client closes the connection, so a client that sent a whole body the app did not
    read (a 413, a 404 before the body was looked at) and then waits for the connection to close
    hangs. Reading the body itself to its end (its Content-Length, or the last chunk of a chunked
    body) leaves nothing to wait for. A body whose reading failed (a broken chunk, a client gone)
    is left alone, and at most DEV_DRAIN_MAX_BYTES are discarded. Like any route that reads the
    body, this waits for a client that declares a body and does not send it. gunicorn drains on
    its own, with bounds, so only `run_dev` uses this.
    """

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from werkzeug.wsgi import LimitedStream, get_content_length

        body = environ["wsgi.input"]
        if not environ.get("wsgi.input_terminated"):  # chunked bodies come dechunked and ended
            body = LimitedStream(body, get_content_length(environ) or 0)
        body = environ["wsgi.input"] = _WatchedBody(body)
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            if not body.failed:
                _discard(body, DEV_DRAIN_MAX_BYTES)


class _WatchedBody(io.RawIOBase):
    """A request body stream that remembers whether a read failed."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self.stream = stream
        self.failed = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self.stream.readinto(buffer)
        except Exception:
            self.failed = True
            raise


def _discard(body: _WatchedBody, max_bytes: int) -> None:
    """Read and drop what is left of `body`, at most `max_bytes`; a failing read ends it."""
    with contextlib.suppress(Exception):  # the client is gone or sent garbage: nothing to keep
        while max_bytes > 0:
            chunk = body.read(min(max_bytes, 64 * 1024))
            if not chunk:
                return
            max_bytes -= len(chunk)


def run_dev(config: ServeConfig, *, host: str, port: int) -> None:
    """Flask's development server (one process, threaded); SIGTERM stops it cleanly."""
    from serve.app import create_app

    app = create_app(config)
    app.wsgi_app = DrainBody(app.wsgi_app)  # type: ignore[method-assign]

    def _stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
    finally:
        app.extensions["nnfunc"].registry.stop()
    sys.stdout.flush()
