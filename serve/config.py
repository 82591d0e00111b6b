"""The service's settings (`ServeConfig`), from arguments or `NNFUNC_*` environment variables."""

from __future__ import annotations

import hmac
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from flask import current_app, request

from serve.errors import ApiError

if TYPE_CHECKING:
    from serve.metrics import Metrics
    from serve.registry import ModelRegistry

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_ROWS = 10_000
DEFAULT_BODY_TIMEOUT = 10.0  # seconds a request body has to arrive in, once reading starts


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def _seconds(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not 0 < value < math.inf:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


def _token(value: str | None) -> str | None:
    """The bearer token without surrounding whitespace (a secret read from a file often ends in
    a newline, which no client sends); refused if nothing or a control character is left."""
    if value is None:
        return None
    token = value.strip()
    if not token or not token.isprintable() or " " in token:
        raise ValueError("the serve token must be printable text without spaces")
    return token


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    """The variable `name` read as `kind`, else a ValueError naming it (the range is checked
    by ServeConfig's validators)."""
    try:
        return kind(env[name])
    except ValueError:
        what = "an integer" if kind is int else "a number of seconds"
        raise ValueError(f"{name} must be {what}, got {env[name]!r}") from None


@attrs.frozen(kw_only=True)
class ServeConfig:
    """What a server instance serves and how much it accepts."""

    models_dir: str | None = "models"
    max_body_bytes: int = attrs.field(default=DEFAULT_MAX_BODY_BYTES, validator=_positive)
    max_rows: int = attrs.field(default=DEFAULT_MAX_ROWS, validator=_positive)
    poll_interval: float = 0.5  # seconds between folder scans; 0 disables the watcher
    # seconds a request body has to arrive in: a stalled or trickling client is answered 408
    body_timeout: float = attrs.field(default=DEFAULT_BODY_TIMEOUT, validator=_seconds)
    token: str | None = attrs.field(default=None, repr=False, converter=_token)  # state changes
    bench_route: bool = False  # expose /bench/constant, the benchmarks' ceiling

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServeConfig:
        """Settings from NNFUNC_MODELS_DIR, NNFUNC_SERVE_MAX_BODY_BYTES, NNFUNC_SERVE_MAX_ROWS,
        NNFUNC_SERVE_BODY_TIMEOUT, NNFUNC_SERVE_TOKEN and NNFUNC_SERVE_BENCH, with keyword
        overrides taking precedence."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "models_dir": env.get("NNFUNC_MODELS_DIR") or "models",
            "token": env.get("NNFUNC_SERVE_TOKEN") or None,
            "bench_route": env.get("NNFUNC_SERVE_BENCH", "") not in ("", "0"),
        }
        for key, name, kind in (
            ("max_body_bytes", "NNFUNC_SERVE_MAX_BODY_BYTES", int),
            ("max_rows", "NNFUNC_SERVE_MAX_ROWS", int),
            ("body_timeout", "NNFUNC_SERVE_BODY_TIMEOUT", float),
        ):
            if env.get(name):
                values[key] = _number(env, name, kind)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@attrs.frozen
class ServeState:
    """What one app instance holds: its settings, its models and its metrics."""

    config: ServeConfig
    registry: ModelRegistry
    metrics: Metrics


def state() -> ServeState:
    """The running app's ServeState."""
    return current_app.extensions["nnfunc"]


def settings() -> ServeConfig:
    """The running app's ServeConfig."""
    return state().config


def require_token() -> None:
    """Refuse (401) a state-changing request without the configured bearer token, if one is set."""
    token = settings().token
    if token is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    # Werkzeug decodes header bytes as latin-1: encoding back gives the bytes the client sent,
    # which for a UTF-8 client are the token's UTF-8 bytes.
    sent = given.strip().encode("latin-1", errors="replace")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent, token.encode("utf-8")):
        raise ApiError(401, "this endpoint needs 'Authorization: Bearer <token>'")
