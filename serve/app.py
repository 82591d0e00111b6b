"""The application factory: settings, model registry, metrics, blueprints and JSON errors."""

from __future__ import annotations

import time
from collections.abc import Mapping

from flask import Flask, Response, g, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from nnfunc.extras import missing_extra
from nnfunc.model import Model
from serve import openapi, v1, v2
from serve.codec import read_limited, respond_json
from serve.config import ServeConfig, ServeState, state
from serve.errors import error_response, json_500_guard, register_error_handlers
from serve.metrics import Metrics, MetricsUnavailable
from serve.registry import NAME_RE, ModelRegistry


class ModelNameConverter(BaseConverter):
    """URL part for model names and versions: `[A-Za-z0-9_.-]`, not starting with a dot."""

    regex = NAME_RE.pattern


def _refuse_doubled_leading_slash() -> None:
    """`//v2/models/x` is no route, as `/v2//models/x` is not (werkzeug would strip the first
    slash and match it): a JSON 404, as the docs say."""
    if request.environ.get("PATH_INFO", "").startswith("//"):
        raise NotFound()


def _start_timer() -> None:
    g.started = time.perf_counter()
    state().registry.start()  # no-op unless this process has no watcher yet (e.g. after a fork)


def _record(response: Response) -> Response:
    started = g.pop("started", None)
    if started is not None:
        name = (request.view_args or {}).get("name")
        known = isinstance(name, str) and state().registry.get(name) is not None
        state().metrics.observe(
            name if known else "",
            request.endpoint or "unmatched",
            response.status_code,
            time.perf_counter() - started,
        )
    return response


def _metrics() -> Response:
    metrics = state().metrics
    if not metrics.available:
        return error_response(501, missing_extra("/metrics (prometheus-client)", "serve"))
    try:
        body, content_type = metrics.render()
    except MetricsUnavailable as exc:
        return error_response(503, str(exc))
    return Response(body, content_type=content_type)


def _openapi() -> Response:
    return respond_json(openapi.document(state()))


CONSTANT = b'{"model_name":"constant","model_version":"1","outputs":[]}'


def _options_no_content(response: Response) -> Response:
    """Flask's automatic OPTIONS answer is an empty text/html 200; an API answers 204 with the
    Allow header and no body."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.data:
        response.status_code = 204
        del response.headers["Content-Type"]
    return response


def _constant() -> Response:
    """The benchmarks' ceiling: read the body, answer fixed bytes, no model and no parsing."""
    config = state().config
    read_limited(request, max_bytes=config.max_body_bytes, timeout=config.body_timeout)
    return Response(CONSTANT, mimetype="application/json")


def create_app(
    config: ServeConfig | None = None, *, models: Mapping[str, Model] | None = None
) -> Flask:
    """A Flask app serving the models folder of `config` (default: from the environment).

    `models` serves the given in-memory models instead of a folder (no watching, no files).
    """
    config = ServeConfig.from_env() if config is None else config
    app = Flask("serve", static_folder=None)  # an API: no static files
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.url_map.converters["model"] = ModelNameConverter
    # No 308 redirects (werkzeug answers them in HTML, past the error handlers): `/v2//models`
    # is not a route, so it is a JSON 404. Rules take this setting when added, so it comes first.
    app.url_map.merge_slashes = False
    folder = None if models is not None else config.models_dir
    registry = ModelRegistry(folder, models=models, poll_interval=config.poll_interval)
    registry.refresh()  # the first load happens before the first request
    app.extensions["nnfunc"] = ServeState(config, registry, Metrics())
    register_error_handlers(app)
    app.register_blueprint(v2.bp)
    app.register_blueprint(v1.bp)
    app.add_url_rule("/metrics", "metrics", _metrics, methods=["GET"])
    app.add_url_rule("/openapi.json", "openapi", _openapi, methods=["GET"])
    if config.bench_route:
        app.add_url_rule("/bench/constant", "bench_constant", _constant, methods=["POST"])
    app.before_request(_refuse_doubled_leading_slash)
    app.before_request(_start_timer)
    app.after_request(_options_no_content)
    app.after_request(_record)
    app.wsgi_app = json_500_guard(app.wsgi_app)  # type: ignore[method-assign]
    registry.start()
    return app
