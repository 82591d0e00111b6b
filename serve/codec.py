"""Request and response bodies: JSON or msgpack, chosen by Content-Type and Accept.

Bodies come from anyone, so decoding is bounded: a body over the size cap is a 413 whether it
declares its length or is sent chunked, JSON refuses NaN/Infinity tokens and pathological nesting,
and msgpack goes through the same `unpackb_limited` that reads model files (no extension types,
capped lengths and depth).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgpack
from flask import Request, Response
from werkzeug.exceptions import ClientDisconnected, HTTPException

from nnfunc.modelfile import unpackb_limited
from nnfunc.msgpack_safe import MsgpackError, check_plain
from serve.deadline import BodyDeadline, client_socket
from serve.errors import ApiError, echo

JSON = "application/json"
MSGPACK = "application/msgpack"
MSGPACK_TYPES = frozenset({MSGPACK, "application/x-msgpack", "application/vnd.msgpack"})
# `curl -d` labels its body a form; TF Serving's documented examples send JSON that way.
FORM = "application/x-www-form-urlencoded"
# Triton's binary tensor extension: the body is this many bytes of JSON, then raw tensor bytes.
BINARY_HEADER = "Inference-Header-Content-Length"
OCTET_STREAM = "application/octet-stream"
MAX_DEPTH = 32
READ_BLOCK = 64 * 1024


def _refuse_constant(token: str) -> float:
    raise ValueError(f"{token} is not valid JSON")


def body_format(request: Request, *, form_is_json: bool = False) -> str:
    """'json' or 'msgpack' from the Content-Type (none means JSON); anything else is a 415.

    `form_is_json` reads curl's default form type as JSON, as TF Serving does, for its
    `:predict` route only: a web page may send that type to any origin without asking first,
    so elsewhere it stays refused.
    """
    mimetype = request.mimetype
    if mimetype in ("", JSON) or mimetype.endswith("+json") or (form_is_json and mimetype == FORM):
        return "json"
    if mimetype in MSGPACK_TYPES:
        return "msgpack"
    raise ApiError(
        415,
        f"unsupported content type {echo(mimetype)}; send {JSON} or {MSGPACK}",
        supported=[JSON, MSGPACK],
    )


def _check_depth(value: Any) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH (msgpack checks its own depth while unpacking),
    with the library's walk, which never recurses."""
    try:
        check_plain(value, max_depth=MAX_DEPTH, what="JSON")
    except MsgpackError as exc:
        raise ApiError(400, f"malformed body: {exc}") from None


def read_limited(request: Request, *, max_bytes: int, timeout: float) -> bytes:
    """The raw body, or a 413 when it is longer than `max_bytes`, a 408 when it has not arrived
    within `timeout` seconds, a 400 when it ends before its Content-Length.

    A Content-Length over the limit is refused before reading. A body without one (chunked
    transfer encoding, which the server dechunks and ends: `wsgi.input_terminated`) is read up to
    `max_bytes + 1` bytes, so a body over the limit is refused instead of being cut at the limit
    (werkzeug's own guard stops there silently). The rest of a refused body is left to the server,
    which discards it or closes the connection; after a 408 or a failed read it closes it.
    """
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ApiError(413, "request body too large", max_bytes=max_bytes)
    # A server-ended stream is read raw and bounded below; otherwise werkzeug's stream gives at
    # most Content-Length bytes (and nothing without one).
    terminated = "wsgi.input_terminated" in request.environ
    stream = request.input_stream if terminated else request.stream
    chunks: list[bytes] = []
    received = 0
    with BodyDeadline(client_socket(request.environ), timeout) as deadline:
        try:
            while received <= max_bytes:
                chunk = stream.read(min(max_bytes + 1 - received, READ_BLOCK))
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except Exception as exc:  # a timeout, the client gone, a broken chunk (not an OSError)
            deadline.hang_up()  # what is left of this body is not worth waiting for
            if deadline.passed or isinstance(exc, TimeoutError):
                raise _too_slow(timeout) from None
            if isinstance(exc, ClientDisconnected) and length is not None:
                raise _ended_early(received, length) from None  # werkzeug's stream
            if isinstance(exc, HTTPException):
                raise
            raise ApiError(400, f"malformed body: it could not be read ({exc})") from None
    if received > max_bytes:
        raise ApiError(413, "request body too large", max_bytes=max_bytes)
    if length is not None and received < length:  # gunicorn's stream just ends
        deadline.hang_up()
        raise _too_slow(timeout) if deadline.passed else _ended_early(received, length)
    return b"".join(chunks)


def _too_slow(timeout: float) -> ApiError:
    return ApiError(408, f"request timeout: the body did not arrive within {timeout:g} s")


def _ended_early(received: int, length: int) -> ApiError:
    return ApiError(
        400,
        f"malformed body: it ended after {received} of the {length} bytes its Content-Length "
        "announced",
    )


def _check_coding(request: Request) -> None:
    coding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if coding not in ("", "identity"):
        raise ApiError(
            415,
            f"content coding {echo(coding)} is not supported: send the body uncompressed",
            headers={"Accept-Encoding": "identity"},
        )


def read_body(
    request: Request,
    *,
    max_bytes: int,
    timeout: float,
    form_is_json: bool = False,
) -> tuple[Any, str]:
    """The decoded body and its format; malformed 400, wrong type or coding 415, oversized 413,
    too slow 408."""
    _check_coding(request)
    fmt = body_format(request, form_is_json=form_is_json)
    data = read_limited(request, max_bytes=max_bytes, timeout=timeout)
    if not data:
        raise ApiError(400, "malformed body: the request body is empty")
    return _decode(data, fmt, max_bytes), fmt


def read_infer_body(
    request: Request, *, max_bytes: int, timeout: float
) -> tuple[Any, str, bytes | None]:
    """`read_body` for inference, with Triton's binary tensor extension: when the request has an
    Inference-Header-Content-Length header, the body is that many bytes of JSON followed by the
    inputs' raw bytes (returned third; None without the header)."""
    header = request.headers.get(BINARY_HEADER)
    if header is None:
        return (*read_body(request, max_bytes=max_bytes, timeout=timeout), None)
    _check_coding(request)
    if request.mimetype != OCTET_STREAM and body_format(request) != "json":
        raise ApiError(415, f"binary tensor data comes with a JSON header: send {JSON}")
    data = read_limited(request, max_bytes=max_bytes, timeout=timeout)
    digits = re.fullmatch(r"[0-9]{1,12}", header.strip())  # isdigit() takes '²'; int() 5000 digits
    if digits is None or int(digits.group()) > len(data):
        raise ApiError(
            400,
            f"malformed body: {BINARY_HEADER} must be the length of the JSON part, at most the "
            f"body's {len(data)} bytes, got {echo(header)}",
        )
    length = int(digits.group())
    if length == 0:
        raise ApiError(400, "malformed body: the JSON part is empty")
    return _decode(data[:length], "json", max_bytes), "json", data[length:]


def _decode(data: bytes, fmt: str, max_bytes: int) -> Any:
    if fmt == "json":
        try:
            value = json.loads(data, parse_constant=_refuse_constant)
        except RecursionError:
            raise ApiError(400, "malformed body: JSON nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise ApiError(400, f"malformed body: invalid JSON ({exc})") from None
        if type(value) is list or type(value) is dict:
            _check_depth(value)
        return value
    try:
        return unpackb_limited(data, max_bytes=max_bytes, max_depth=MAX_DEPTH)
    except ValueError as exc:
        reason = str(exc) if "msgpack" in str(exc) else f"invalid msgpack ({exc})"
        raise ApiError(400, f"malformed body: {reason}") from None


def response_format(request: Request, request_format: str) -> str:
    """msgpack or JSON when the Accept header names one above the other, else the request's own."""
    explicit = dict(request.accept_mimetypes)
    q_msgpack = max(explicit.get(t, 0) for t in MSGPACK_TYPES)
    q_json = explicit.get(JSON, 0)
    if q_msgpack != q_json:
        return "msgpack" if q_msgpack > q_json else "json"
    return request_format


def respond(payload: Any, fmt: str, status: int = 200) -> Response:
    """Serialise `payload` (plain lists, dicts, str, int, float) as JSON or msgpack."""
    if fmt == "msgpack":
        body = msgpack.packb(payload, use_bin_type=True)
        return Response(body, status=status, mimetype=MSGPACK)
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return Response(body, status=status, mimetype=JSON)


def respond_json(payload: Any, status: int = 200) -> Response:
    """A JSON response (metadata and health routes speak JSON only)."""
    return respond(payload, "json", status)
