"""Model files: one msgpack map per `Model`, written atomically and read as hostile input.

The file is an envelope `{"format", "version", "sha256", "payload"}` whose `payload` is the msgpack
encoding of the model and whose `sha256` is the digest of exactly those payload bytes. Arrays are
maps of a little-endian dtype string, a shape and raw C-order bytes. `docs/model-format.md`
describes every key. Nothing here pickles, evals or imports code named by a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import stat
from typing import Any

from nnfunc.codec import decode_model, encode_model
from nnfunc.model import Model
from nnfunc.msgpack_safe import MsgpackError, packb_plain, unpackb_limited
from nnfunc.names import shown_path
from nnfunc.schema import MAX_OBJECTS

FORMAT_NAME = "nnfunc-model"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 24
ENVELOPE_KEYS = ("format", "payload", "sha256", "version")


class ModelFileError(ValueError):
    """A model file (or bytes) that cannot be loaded or a model that cannot be stored."""


def dumps_model(model: Model) -> bytes:
    """The file's bytes for `model`: the same model always gives the same bytes.

    The bytes are decoded and validated again before they are returned, so whatever is saved
    loads; a model that would not load raises ModelFileError here.
    """
    if not isinstance(model, Model):
        raise ModelFileError(f"expected a Model, got {type(model).__name__}")
    try:
        payload = packb_plain(encode_model(model))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ModelFileError(f"cannot store this model: {exc}") from None
    envelope = {
        "format": FORMAT_NAME,
        "payload": payload,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "version": FORMAT_VERSION,
    }
    data = packb_plain(envelope)
    try:
        loads_model(data)
    except ModelFileError as exc:
        raise ModelFileError(f"cannot store this model: {exc}") from None
    return data


def _envelope_payload(data: bytes, max_bytes: int) -> bytes:
    """Check the envelope (format, version, keys, checksum) and return the payload bytes."""
    try:
        envelope = unpackb_limited(
            data,
            max_bytes=max_bytes,
            max_depth=4,
            max_str_len=1024,
            max_map_len=64,
            max_objects=2 * 64 + 1,  # four keys and their values, or a map that is refused
        )
    except MsgpackError as exc:
        newer = _newer_version(data, max_bytes)
        if newer is not None:
            raise _newer(newer) from None
        raise ModelFileError(f"not a readable model file: {exc}{_text_hint(data)}") from None
    if not isinstance(envelope, dict) or "format" not in envelope:
        raise ModelFileError(f"not an nnfunc model file (no format {FORMAT_NAME!r} key)")
    if envelope["format"] != FORMAT_NAME:
        raise ModelFileError(
            f"not an nnfunc model file (format {_brief(envelope['format'])}, not {FORMAT_NAME!r})"
        )
    version = envelope.get("version")
    if type(version) is not int or version < 1:
        raise ModelFileError(f"version: expected a positive integer, got {_brief(version)}")
    if version > FORMAT_VERSION:
        raise _newer(version)
    unknown = sorted(set(envelope) - set(ENVELOPE_KEYS))
    if unknown:
        raise ModelFileError(f"unknown top-level key(s): {', '.join(map(repr, unknown))}")
    payload, digest = envelope.get("payload"), envelope.get("sha256")
    if not isinstance(payload, bytes):
        raise ModelFileError("payload: missing or not binary data")
    if not isinstance(digest, str):
        raise ModelFileError("sha256: missing or not a string")
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ModelFileError("sha256: not 64 lowercase hex digits")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise ModelFileError("sha256: checksum mismatch, the payload is corrupt or was altered")
    return payload


def _brief(value: Any) -> str:
    """A file's value for a message: short whatever its size (a 200 MB bin is named, not shown)."""
    if isinstance(value, bytes | str) and len(value) > 40:
        return f"{type(value).__name__} of length {len(value)}"
    return repr(value)[:60]


def _newer(version: int) -> ModelFileError:
    return ModelFileError(
        f"version: the file uses model format version {version}, newer than version "
        f"{FORMAT_VERSION} that this nnfunc reads; upgrade nnfunc to load it"
    )


def _newer_version(data: bytes, max_bytes: int) -> int | None:
    """The version of an envelope that this reader's limits refuse but that a newer format may
    allow (a longer string, more keys), when it names a newer version; else None. The looser
    parse is still bounded: as many values as the file's bytes allow, nesting 16 deep."""
    try:
        envelope = unpackb_limited(
            data,
            max_bytes=max_bytes,
            max_depth=16,
            max_str_len=max_bytes,
            max_map_len=1 << 16,
            max_objects=1 << 16,
        )
    except MsgpackError:
        return None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_NAME:
        return None
    version = envelope.get("version")
    return version if type(version) is int and version > FORMAT_VERSION else None


def loads_model(data: bytes, *, max_bytes: int = MAX_FILE_BYTES) -> Model:
    """Decode and validate model-file bytes; any problem raises ModelFileError naming the field."""
    payload = _envelope_payload(data, max_bytes)
    try:
        value = unpackb_limited(
            payload, max_bytes=max_bytes, max_depth=MAX_DEPTH, max_objects=MAX_OBJECTS
        )
    except MsgpackError as exc:
        raise ModelFileError(f"payload: {exc}") from None
    try:
        return decode_model(value)
    except ValueError as exc:  # SchemaError and the records' own validation
        raise ModelFileError(str(exc)) from None


def read_model_bytes(path: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A model file's raw bytes: a regular file only, and never more than `max_bytes` read."""
    return read_model_file(path, max_bytes)[0]


def _text_hint(data: bytes) -> str:
    """A note for bytes that read as text (a CSV or JSON file given as a model), else ''."""
    head = data[:256]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        return " (the file holds text, perhaps a CSV or JSON file; a model file is msgpack)"
    return ""


def read_model_file(path: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes and the `os.fstat` of the open file they were read from.

    FIFOs, devices, sockets and directories (or links to them) are refused before they are opened,
    as opening or reading one can block forever or never end. The file is opened non-blocking and
    checked again through its descriptor, in case the path changed in between, and at most
    `max_bytes + 1` bytes are read whatever size the file reports.
    """
    shown = shown_path(path)
    try:
        _check_regular(shown, os.stat(path))
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except FileNotFoundError:
        raise ModelFileError(f"{shown}: no such file") from None
    except OSError as exc:
        raise ModelFileError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except ModelFileError:
        raise  # not a regular file (a ValueError too, so it comes before the next clause)
    except ValueError as exc:  # a NUL byte in the path
        raise ModelFileError(f"{shown}: not a usable path ({exc})") from None
    try:
        info = os.fstat(fd)
        _check_regular(shown, info)
        if info.st_size > max_bytes:
            raise ModelFileError(f"{shown}: {info.st_size} bytes exceed the limit of {max_bytes}")
        data = _read_at_most(fd, max_bytes + 1, first=info.st_size + 1)
    except OSError as exc:
        raise ModelFileError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ModelFileError(f"{shown}: more than {max_bytes} bytes")
    return data, info


# Non-blocking, so that a FIFO swapped in after the check cannot hang the open; no controlling
# terminal from a tty; binary mode where the platform has text mode.
_OPEN_FLAGS = sum(getattr(os, name, 0) for name in ("O_NONBLOCK", "O_NOCTTY", "O_BINARY"))
_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO, a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(path: str, info: os.stat_result) -> None:
    """Refuse anything but a regular file, naming what it is."""
    if stat.S_ISREG(info.st_mode):
        return
    if stat.S_ISDIR(info.st_mode):
        raise ModelFileError(f"{path}: is a directory, not a model file")
    kind = next((name for test, name in _NOT_REGULAR if test(info.st_mode)), "a special file")
    raise ModelFileError(f"{path}: not a regular file ({kind})")


def _read_at_most(fd: int, limit: int, *, first: int) -> bytes:
    """Read until end of file or `limit` bytes, asking for `first` bytes first (the stat size)."""
    chunks: list[bytes] = []
    total, want = 0, max(1, min(first, limit))
    while total < limit:
        chunk = os.read(fd, min(want, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        want = 1 << 20
    return b"".join(chunks)


def load_model(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> Model:
    """Read a model file; every problem (missing, too big, corrupt, invalid) is a ModelFileError."""
    source = os.fspath(path)
    data = read_model_bytes(source, max_bytes)
    try:
        return loads_model(data, max_bytes=max_bytes)
    except ModelFileError as exc:
        raise ModelFileError(f"{shown_path(source)}: {exc}") from None


TEMP_STEM = 40  # characters of the target's name kept in its temporary file's name


def temp_path(path: str | os.PathLike[str]) -> str:
    """A fresh temporary name beside `path`, `.NAME.<hex>.tmp` with NAME cut to 40 characters.

    Hidden and ending in `.tmp`, so that `nnfunc serve` never loads it; short, so that it fits
    in the folder whenever `path`'s own name does.
    """
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name[:TEMP_STEM]}.{secrets.token_hex(6)}.tmp")


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder, fsync and `os.replace`.

    A symlink at `path` is written through: the file it names is replaced and the link stays.
    An existing file keeps its permission bits. On any failure or interrupt (KeyboardInterrupt,
    SystemExit) the temporary file is removed and an existing file at `path` is untouched; an
    OSError names `path`, not the temporary file. Once the rename is done the write has
    succeeded: syncing the folder afterwards is best effort.
    """
    given = os.fspath(path)
    target = os.path.realpath(given)
    tmp = temp_path(target)
    mode = _permission_bits(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:  # nothing was created
        raise OSError(exc.errno, exc.strerror or str(exc), given) from exc
    except BaseException:  # interrupted as the file was created: remove it
        _remove(tmp)
        raise
    try:
        _write_file(fd, data, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror or str(exc), given) from exc
        raise
    _fsync_folder(os.path.dirname(target))


def _permission_bits(path: str) -> int | None:
    """The permission bits of the regular file at `path`, or None if there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mode & 0o777 if stat.S_ISREG(info.st_mode) else None


def _write_file(fd: int, data: bytes, mode: int | None) -> None:
    """Write and fsync `data` to the new file open as `fd`, set to `mode` if given; closes `fd`."""
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        f = os.fdopen(fd, "wb")
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    with f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _remove(path: str) -> None:
    """Delete a temporary file if it is there; a failure here must not hide the first one."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable where the platform allows syncing a directory (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_model(model: Model, path: str | os.PathLike[str]) -> None:
    """Write `model` to `path` atomically; ModelFileError for an unstorable model, OSError for I/O.

    The bytes are made (and validated) before the file system is touched.
    """
    write_atomic(path, dumps_model(model))


def model_digest(data: bytes) -> str:
    """sha256 hex digest of a model file's bytes (what `nnfunc inspect` shows as the file hash)."""
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "ModelFileError",
    "dumps_model",
    "load_model",
    "loads_model",
    "model_digest",
    "read_model_bytes",
    "read_model_file",
    "save_model",
    "temp_path",
    "unpackb_limited",
    "write_atomic",
]
