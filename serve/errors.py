"""Every error the service answers is JSON `{"error": "...", ...}` with the right status code.

`ApiError` is raised by the routes for client mistakes; the handlers registered here turn it, every
werkzeug `HTTPException` (404, 405, 413, ...) and any unexpected exception into JSON. The last one
is logged with its traceback and answered with a bare 500: nothing internal reaches the client,
also when the failure happens outside the routes (an after-request hook, an error handler), which
`json_500_guard` catches at the WSGI level. Client values quoted in messages go through `echo`, so
an error body stays short whatever the request held.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

log = logging.getLogger("serve")

ECHO_CHARS = 80  # the most characters of a client's value that an error message quotes
INTERNAL_ERROR = b'{"error":"internal server error"}'


def echo(value: Any) -> str:
    """A client's value for an error message, as the request spelled it (JSON's true, false,
    null; repr otherwise), cut to ECHO_CHARS with an ellipsis: bodies never echo megabytes."""
    if value is None or isinstance(value, bool):
        text = json.dumps(value)
    elif isinstance(value, (list, tuple)) and len(value) > ECHO_CHARS:
        text = repr(list(value[:ECHO_CHARS]))  # no need to print 100,000 items to cut them
    else:
        text = repr(value)
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 3] + "..."


def fits(value: Any) -> bool:
    """True when `value` can be echoed whole: extra JSON fields quote a client value only then."""
    return not echo(value).endswith("...")


class ApiError(Exception):
    """A client (or model-state) error: HTTP status, a readable message, and extra JSON fields."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


def error_response(
    status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    """A JSON error body with `status` (errors are JSON even when the request was msgpack)."""
    body = json.dumps({"error": message, **extra}, separators=(",", ":"))
    response = Response(body, status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _http_message(exc: HTTPException) -> str:
    """A short message for werkzeug's own errors (its descriptions are written for HTML pages)."""
    if exc.code == 404:
        return "not found: no such route (see /openapi.json)"
    if exc.code == 405:
        return "method not allowed on this route"
    if exc.code == 413:
        return "request body too large"
    description = exc.description or exc.name
    return " ".join(str(description).split())


def register_error_handlers(app: Flask) -> None:
    """JSON for ApiError, every HTTPException and anything unexpected (logged, answered 500)."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return error_response(
            exc.status, exc.message, headers={**headers, **exc.headers}, **exc.extra
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 500:  # Flask's wrapper of an exception raised past the routes (a hook),
            return error_response(500, "internal server error")  # which Flask has logged
        headers: dict[str, str] = {}
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return error_response(status, _http_message(exc), headers=headers, max_bytes=limit)
        return error_response(status, _http_message(exc), headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal server error")


def json_500_guard(wsgi_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: an exception that escapes Flask's own handling (an error handler that
    fails) is logged and answered with the documented JSON 500, not the server's HTML page."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append(status)
            return start_response(status, headers, exc_info)

        try:
            return wsgi_app(environ, start)
        except Exception:
            log.exception("unhandled error outside the request handlers")
            headers = [("Content-Type", "application/json")]
            headers.append(("Content-Length", str(len(INTERNAL_ERROR))))
            # After a first start_response, exc_info lets the server replace those headers, or
            # re-raise if they went out already (WSGI's rule).
            start_response(
                "500 INTERNAL SERVER ERROR", headers, sys.exc_info() if started else None
            )
            return [INTERNAL_ERROR]

    return guarded
