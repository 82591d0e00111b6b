"""`nnfunc serve`: the prediction service over a folder of model files (gunicorn, or --dev)."""

from __future__ import annotations

import errno
import importlib.util
import os
import socket

import click

from nnfunc.cli.common import BadInput, Command
from nnfunc.extras import missing_extra


def _check_port_free(host: str, port: int) -> None:
    """Fail early, with a readable message, when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BadInput(f"{host}:{port} is already in use; pick another --port") from None
            raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@click.command(cls=Command)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(file_okay=False, dir_okay=True, exists=True, readable=True),
    envvar="NNFUNC_MODELS_DIR",
    default="models",
    show_default=True,
    help="Folder of *.msgpack model files (env NNFUNC_MODELS_DIR); watched for changes.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="TCP port to listen on.",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Processes."
)
@click.option(
    "--threads", type=click.IntRange(1, 64), default=4, show_default=True, help="Per worker."
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    envvar="NNFUNC_SERVE_MAX_ROWS",
    show_envvar=True,
    help="Most rows in one request (more: 413).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=4 * 1024 * 1024,
    show_default=True,
    envvar="NNFUNC_SERVE_MAX_BODY_BYTES",
    show_envvar=True,
    help="Largest request body (more: 413).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.1, 60.0),
    default=0.5,
    show_default=True,
    help="Seconds between scans of the models folder.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0.1, 3600.0),
    default=10.0,
    show_default=True,
    envvar="NNFUNC_SERVE_BODY_TIMEOUT",
    show_envvar=True,
    help="Seconds a request body has to arrive in (slower: 408), so stalled clients free threads.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option("--access-log", is_flag=True, help="Log every request (gunicorn only).")
@click.option("--dev", is_flag=True, help="Flask's development server, one process, no gunicorn.")
def serve(
    models_dir: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    max_rows: int,
    max_body_bytes: int,
    poll_interval: float,
    body_timeout: float,
    log_level: str,
    access_log: bool,
    dev: bool,
) -> None:
    """Serve every model file in a folder over HTTP (Open Inference Protocol and TF Serving REST).

    Files added, replaced or removed are picked up within about a second. Set NNFUNC_SERVE_TOKEN
    to require 'Authorization: Bearer <token>' on the endpoints that change state.
    """
    from serve.config import ServeConfig
    from serve.server import banner, configure_logging

    configure_logging(log_level)
    try:
        config = ServeConfig.from_env(
            models_dir=os.path.abspath(models_dir),
            max_rows=max_rows,
            max_body_bytes=max_body_bytes,
            poll_interval=poll_interval,
            body_timeout=body_timeout,
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if not dev and importlib.util.find_spec("gunicorn") is None:
        raise BadInput(
            missing_extra("running with workers (gunicorn)", "serve") + " (or use --dev)"
        )
    _check_port_free(host, port)
    for line in banner(config, host, port):
        click.echo(line, err=True)
    if dev:
        from serve.server import run_dev

        run_dev(config, host=host, port=port)
        return
    from serve.server import run_gunicorn

    try:
        run_gunicorn(
            config,
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            log_level=log_level,
            access_log=access_log,
        )
    except RuntimeError as exc:
        raise BadInput(str(exc)) from None
