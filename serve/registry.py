"""The models being served: a folder of `*.msgpack` files, watched and reloaded without downtime.

Each worker process keeps its own `ModelRegistry`. A background thread polls the folder's file
signatures (size, mtime, ctime, inode); a changed file is read once, hashed and decoded fully, and
only then does a new name->entry mapping replace the old one in a single assignment, so a request
sees either the old model or the new one, never a half-loaded one. A file that fails to load is
logged and recorded in its entry while the previous version (if any) keeps serving. The ctime
catches an in-place rewrite that keeps size, mtime and inode (`cp -p`, `rsync --inplace -t`,
reproducible-build dates): any write or `utime` sets it, so every worker sees the change.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Mapping

import attrs

from nnfunc.model import Model
from nnfunc.modelfile import (
    MAX_FILE_BYTES,
    ModelFileError,
    dumps_model,
    loads_model,
    model_digest,
    read_model_file,
)

log = logging.getLogger("serve.registry")

SUFFIX = ".msgpack"
NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
SETTLE_SECONDS = 1.0  # a file this fresh that fails to load is retried: it may be mid-write
_QUIET = logging.Logger("serve.registry.quiet", logging.CRITICAL + 1)  # logs nothing

Signature = tuple[int, int, int, int]  # (size, mtime_ns, ctime_ns, inode)


@attrs.frozen
class ModelEntry:
    """One name in the folder: the version being served (if any) and the last load's outcome."""

    name: str
    model: Model | None = attrs.field(eq=False, repr=False)
    version: str = ""  # sha256 prefix of the served file's bytes
    signature: Signature | None = None  # of the file the last load attempt read
    error: str | None = None  # why the newest file was refused, if it was
    loaded_at: float | None = None

    @property
    def ready(self) -> bool:
        """True when a version of this model can answer requests."""
        return self.model is not None

    def status(self) -> dict[str, object]:
        """Plain-data state for listings: name, version, state and the reason if any."""
        state = "READY" if self.ready else "UNAVAILABLE"
        out: dict[str, object] = {"name": self.name, "version": self.version, "state": state}
        if self.error:
            out["reason"] = self.error
        return out


def model_name(filename: str) -> str | None:
    """The model name for a file in the models folder, or None for files that are not models.

    Hidden files (`.x`), temporary files (`*.tmp`, `*~`) and names outside `[A-Za-z0-9_.-]`
    are ignored, so half-written files from atomic writers never load.
    """
    if not filename.endswith(SUFFIX):
        return None
    stem = filename[: -len(SUFFIX)]
    if stem.endswith((".tmp", "~")) or not NAME_RE.fullmatch(stem):
        return None
    return stem


def ignored_reason(filename: str) -> str | None:
    """Why a file that looks like a model file is not served (its name), or None: for models,
    and for files that are not meant to be (other suffixes, hidden and temporary files)."""
    if filename.startswith(".") or not filename.lower().endswith(SUFFIX):
        return None
    if not filename.endswith(SUFFIX):
        return f"the suffix must be {SUFFIX}, in lower case"
    stem = filename[: -len(SUFFIX)]
    if stem.endswith((".tmp", "~")) or NAME_RE.fullmatch(stem):
        return None
    return "a model name is 1 to 128 of A-Z a-z 0-9 _ . - (not starting with a dot)"


def _signature(stat: os.stat_result) -> Signature:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


class ModelRegistry:
    """Name -> `ModelEntry`, read without locks by requests and replaced whole on every change."""

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        *,
        models: Mapping[str, Model] | None = None,
        poll_interval: float = 0.5,
        max_file_bytes: int = MAX_FILE_BYTES,
        quiet: bool = False,
    ) -> None:
        """`quiet` logs nothing (a look at the folder, as the startup banner takes)."""
        self.folder = None if folder is None else os.fspath(folder)
        self.log = _QUIET if quiet else log
        self.poll_interval = poll_interval
        self.max_file_bytes = max_file_bytes
        self._entries: dict[str, ModelEntry] = {}
        for name, model in (models or {}).items():
            if not NAME_RE.fullmatch(name):
                raise ValueError(f"invalid model name {name!r}")
            version = model_digest(dumps_model(model))[:16]
            self._entries[name] = ModelEntry(name, model, version, loaded_at=time.time())
        self.scanned = self.folder is None
        self.folder_error: str | None = None
        self.ignored: dict[str, str] = {}  # file name -> why it is not served, as last scanned
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None

    def get(self, name: str) -> ModelEntry | None:
        """The entry for `name`, or None if no such model file exists."""
        return self._entries.get(name)

    def entries(self) -> list[ModelEntry]:
        """All entries, sorted by name."""
        entries = self._entries
        return [entries[name] for name in sorted(entries)]

    @property
    def ready(self) -> bool:
        """True once the folder has been scanned and every model in it has a servable version."""
        return self.scanned and all(e.ready for e in self._entries.values())

    def refresh(self) -> bool:
        """Scan the folder once and swap in any change; True if the served set changed."""
        if self.folder is None:
            return False
        with self._refresh_lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bool:
        try:
            found, ignored = {}, {}
            with os.scandir(self.folder) as it:
                for item in it:
                    name = model_name(item.name)
                    if name is not None:  # a directory or FIFO so named is reported, below
                        found[name] = item.path
                    elif (reason := ignored_reason(item.name)) is not None:
                        ignored[item.name] = reason
        except OSError as exc:
            message = f"cannot read the models folder {self.folder}: {exc.strerror or exc}"
            if message != self.folder_error:
                kept = "; still serving the models loaded" if self._entries else ""
                self.log.error("%s%s", message, kept)
            self.folder_error = message
            return False  # keep serving what is loaded
        if self.folder_error is not None:
            self.log.info("the models folder %s can be read again", self.folder)
        self.folder_error = None
        for filename in sorted(set(ignored) - set(self.ignored)):
            self.log.warning("ignoring %r in the models folder: %s", filename, ignored[filename])
        self.ignored = ignored
        old = self._entries
        new: dict[str, ModelEntry] = {}
        for name, path in found.items():
            entry = self._load_if_changed(name, path, old.get(name))
            if entry is not None:
                new[name] = entry
        for name in sorted(set(old) - set(new)):
            self.log.info("model %s removed (file gone)", name)
        changed = new != old
        if changed:
            self._entries = new  # the one swap requests can observe
        self.scanned = True
        return changed

    def _load_if_changed(self, name: str, path: str, old: ModelEntry | None) -> ModelEntry | None:
        """The entry for `path`: `old` if its file is unchanged, else freshly loaded or refused."""
        try:
            stat = os.stat(path)
        except OSError as exc:
            if not os.path.lexists(path):
                return None  # vanished between the listing and now: treat as removed
            why = "a broken symbolic link" if os.path.islink(path) else exc.strerror or str(exc)
            return self._refused(name, path, old, f"cannot load {os.path.basename(path)}: {why}")
        if old is not None and old.signature == _signature(stat):
            return old
        try:
            # The reader's own checks: a regular file only (a FIFO or device swapped in after the
            # scan is refused without blocking), at most max_file_bytes read; `info` is the fstat
            # of the open file, the signature of exactly the bytes read.
            data, info = read_model_file(path, self.max_file_bytes)
            stat, signature = info, _signature(info)
            version = model_digest(data)[:16]
            if old is not None and old.ready and old.version == version:
                return attrs.evolve(old, signature=signature, error=None)
            model = loads_model(data, max_bytes=self.max_file_bytes)
        except ModelFileError as exc:
            if not os.path.exists(path):
                return None  # removed between the listing and the read
            reason = str(exc).removeprefix(f"{path}: ")
            message = f"cannot load {os.path.basename(path)}: {reason}"
            # A file this fresh may be mid-write: no signature, so the next scan reads it again,
            # and a warning, not an error, until it settles. (A file dated in the future is not
            # being written: it settles too.)
            settled = abs(time.time() - stat.st_mtime) > SETTLE_SECONDS
            if not settled:
                return self._refused(name, path, old, message, fresh=True)
            return self._refused(name, path, old, message, _signature(stat))
        self.log.info("model %s loaded, version %s", name, version)
        return ModelEntry(name, model, version, signature, None, time.time())

    def _refused(
        self,
        name: str,
        path: str,
        old: ModelEntry | None,
        message: str,
        signature: Signature | None = None,
        *,
        fresh: bool = False,
    ) -> ModelEntry:
        """The entry of a file that cannot be served, the old version kept: logged once, as a
        warning while the file is `fresh` (it may be mid-write), as an error once it settles."""
        settling = old is not None and old.error == message and old.signature is None
        if old is None or old.error != message or (settling and signature is not None):
            kept = f"; still serving version {old.version}" if old and old.ready else ""
            if fresh:
                self.log.warning("model %s: %s%s (changed just now: retrying)", name, message, kept)
            else:
                self.log.error("model %s: %s%s", name, message, kept)
        return attrs.evolve(old or ModelEntry(name, None), signature=signature, error=message)

    def start(self) -> None:
        """Start (or restart, after a fork) the polling thread; no-op without a folder."""
        if self.folder is None or self.poll_interval <= 0:
            return
        pid = os.getpid()
        if self._thread is not None and self._thread_pid == pid and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread_pid = pid
        self._thread = threading.Thread(target=self._watch, name="nnfunc-models-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the polling thread to end and wait briefly for it."""
        self._stop.set()
        if self._thread is not None and self._thread_pid == os.getpid():
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception:  # never let the watcher die; log and try again next tick
                self.log.exception("models folder scan failed")
