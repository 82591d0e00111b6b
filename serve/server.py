"""Running the app: gunicorn with N workers in production, Flask's own server for development."""

from __future__ import annotations

import signal
import sys
from typing import Any

from serve.config import ServeConfig


def bind_address(host: str, port: int) -> str:
    """gunicorn's bind string (IPv6 literals in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
            "running with workers needs gunicorn: pip install 'nnfunc[serve]' (or use --dev)"
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


def run_dev(config: ServeConfig, *, host: str, port: int) -> None:
    """Flask's development server (one process, threaded); SIGTERM stops it cleanly."""
    from serve.app import create_app

    app = create_app(config)

    def _stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    try:
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
    finally:
        app.extensions["nnfunc"].registry.stop()
    sys.stdout.flush()
