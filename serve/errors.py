"""Every error the service answers is JSON `{"error": "...", ...}` with the right status code.

`ApiError` is raised by the routes for client mistakes; the handlers registered here turn it, every
werkzeug `HTTPException` (404, 405, 413, ...) and any unexpected exception into JSON. The last one
is logged with its traceback and answered with a bare 500: nothing internal reaches the client.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

log = logging.getLogger("serve")


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
