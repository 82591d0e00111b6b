"""What every `nnfunc` subcommand shares: typed options, error mapping, output paths and JSON.

Library errors become one-line click errors: bad input or usage (ValueError, DataError,
ModelFileError, OSError, MemoryError) exits with 2, a diverged training run with 1; no traceback
either way. Messages name a CSV row by its line in the file (`line 6`) where the command knows
it (predict and evaluate map an `InputRangeError`'s row, counted from 0 as numpy does, to its
line); elsewhere they count data rows from 1, the first row after the header. Output paths are
checked before any work: not `-`, a writable folder, not a directory, not a device or FIFO, not a
read-only file, and never the same file as an input or another output. A symlink is written
through.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import errno
import json
import math
import os
import stat
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import click

from nnfunc.activations import OUTPUT_ONLY, parse_activation
from nnfunc.csvdata import MAX_CSV_BYTES, read_csv_bytes, read_stream
from nnfunc.model import InputRangeError
from nnfunc.modelfile import load_model, temp_path
from nnfunc.names import counted, shown_path
from nnfunc.training import TrainingDiverged

CSV_LIMIT = f"{MAX_CSV_BYTES // 2**20} MiB"  # for help texts


class BadInput(click.ClickException):
    """Bad input data, option values or files: exit code 2, one line on stderr."""

    exit_code = 2


class Diverged(click.ClickException):
    """A training run whose loss became NaN or infinite: exit code 1."""

    exit_code = 1


class Command(click.Command):
    """A click command whose usage errors print as one line (`Error: ...`), without usage text."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.ctx = None
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.ctx = None
            raise


@contextlib.contextmanager
def warnings_as_lines(skip: tuple[type[Warning], ...] = ()) -> Iterator[None]:
    """Show the warnings raised inside (but those of the `skip` kinds) as one-line
    `Warning: ...` messages on stderr, once the block is done, also when it fails (even under
    `python -W error`, which would make them exceptions)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in seen:
                if not issubclass(warning.category, skip):
                    click.echo(f"Warning: {' '.join(str(warning.message).split())}", err=True)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the library's exceptions into one-line click errors with the right exit code."""
    try:
        yield
    except (click.ClickException, BrokenPipeError):  # a closed stdout is the command line's job
        raise
    except TrainingDiverged as exc:
        raise Diverged(f"{exc}; no model file was written") from None
    except InputRangeError as exc:  # rows the model cannot answer, numbered as CSV rows are
        raise BadInput(_one_line(exc.describe(exc.row + 1))) from None
    except ValueError as exc:  # DataError, ModelFileError, a record's validation
        raise BadInput(_one_line(str(exc))) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise BadInput(f"{where}{exc.strerror or exc}") from None
    except MemoryError:
        raise BadInput("out of memory: use less data or a smaller network") from None


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "invalid input"


# --- option types ---------------------------------------------------------------------------------


class Layers(click.ParamType):
    """Hidden layer sizes, comma-separated (`16,16`); `none` or empty for no hidden layer."""

    name = "SIZES"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower()
        if text in ("", "none"):
            return ()
        sizes = []
        for part in text.split(","):
            try:
                size = int(part.strip())
            except ValueError:
                self.fail(f"{value!r} is not a comma-separated list of integers", param, ctx)
            if not 1 <= size <= 100_000:
                self.fail(f"layer size {size} must lie in [1, 100000]", param, ctx)
            sizes.append(size)
        return tuple(sizes)


class ActivationName(click.ParamType):
    """An activation from the table, optionally with its parameter (`leaky_relu:0.1`)."""

    name = "ACTIVATION"

    def __init__(self, *, hidden: bool):
        self.hidden = hidden

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            act, _ = parse_activation(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if self.hidden and act.name in OUTPUT_ONLY:
            self.fail(f"{act.name} can only be the output activation", param, ctx)
        return str(value)


DASH_OUTPUT = "'-' is not stdout here; give a file name (./- for a file named -)"


class OutputPath(click.Path):
    """A file path to write; an empty path and `-` are refused (the rest is `check_output`'s job).

    `-` means stdin for `--data`, but outputs are files: it would make a file named `-`.
    """

    name = "PATH"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if not str(value).strip():
            self.fail("empty path; give a file name", param, ctx)
        if str(value) == "-":
            self.fail(DASH_OUTPUT, param, ctx)
        return super().convert(value, param, ctx)


class FiniteFloat(click.FloatRange):
    """A float range that also refuses NaN and infinity (click's FloatRange lets NaN through)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


POSITIVE = FiniteFloat(min=0.0, min_open=True)
NON_NEGATIVE = FiniteFloat(min=0.0)
FRACTION = FiniteFloat(min=0.0, max=1.0, max_open=True)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")


# --- files ----------------------------------------------------------------------------------------


def same_file(a: str, b: str) -> bool:
    """True when two paths name one file: the same inode if both exist, else the same real path."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(
    path: str,
    *,
    others: Mapping[str, str | None] | None = None,
    create_folder: bool = False,
) -> None:
    """Refuse an output path that cannot or must not be written, before any work starts.

    `others` names the command's input files and its other outputs (`{"--data": "my.csv"}`):
    writing over one of them is refused. An existing path must be a regular file, since the
    atomic write replaces whatever is there (a device such as /dev/null, a FIFO) with a new file,
    and one the user may write: a read-only file is kept. A symlink is followed, as the write
    goes through it to the file it names. The folder is probed by `_probe_folder`.
    """
    if not path:
        raise BadInput("empty output path; give a file name")
    if path == "-":
        raise BadInput(DASH_OUTPUT)
    real = os.path.realpath(path)  # where write_atomic will write
    folder = os.path.dirname(real)
    if os.path.isdir(path):
        raise BadInput(f"{path}: is a directory; give a file name")
    if path.endswith(("/", os.sep)) or os.path.basename(path) in (".", ".."):
        raise BadInput(f"{path}: names a folder; give a file name")
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:  # not there yet (or its folder is not: reported below)
        if exc.errno == errno.ELOOP:
            raise BadInput(f"{path}: {exc.strerror}") from None
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise BadInput(
            f"{path}: exists and is not a regular file (a device, FIFO or socket); "
            "nnfunc would replace it: give the path of a file"
        )
    if mode is not None and not os.access(path, os.W_OK):
        raise BadInput(f"{path}: is read-only; make it writable or give another path")
    if mode is not None and _sticky_owner_only(real):
        raise BadInput(
            f"{path}: belongs to another user in a folder where only a file's owner may replace "
            "it (sticky bit, as /tmp); give another path"
        )
    for label, other in (others or {}).items():
        if other and other != "-" and same_file(path, other):
            raise BadInput(f"{path}: is also the {label} file; give another path")
    shown = os.path.dirname(real if os.path.islink(path) else path) or "."
    if not os.path.isdir(folder):
        if not create_folder:
            raise BadInput(f"{path}: folder {shown} does not exist")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise BadInput(f"{path}: cannot create folder: {exc.strerror or exc}") from None
    try:
        _probe_folder(real)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise BadInput(f"{path}: file name too long") from None
        raise BadInput(f"{path}: cannot write in folder {shown}: {exc.strerror or exc}") from None


def _sticky_owner_only(path: str) -> bool:
    """True when the existing file `path` sits in a sticky folder (as /tmp) that lets only its
    owner, the folder's owner or root replace it, and this process is none of them: the atomic
    write's rename would fail there after all the work, however writable the file is."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None or geteuid() == 0:
        return False
    try:
        folder, target = os.stat(os.path.dirname(path) or "."), os.stat(path)
    except OSError:
        return False
    return bool(folder.st_mode & stat.S_ISVTX) and geteuid() not in (
        folder.st_uid,
        target.st_uid,
    )


def _probe_folder(path: str) -> None:
    """Create and remove an empty file beside `path`, named as long as the longer of `path`'s
    name and its temporary file's: what the atomic write will need (permission bits alone say
    nothing for root or on read-only mounts, and a name that is too long fails only here)."""
    folder, name = os.path.split(path)
    length = max(len(os.fsencode(n)) for n in (name, os.path.basename(temp_path(path))))
    prefix = ".nnfunc-probe-"  # tempfile adds 8 random characters
    padding = "-" * max(0, length - len(prefix) - 8)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=prefix, suffix=padding):
        pass


def load_model_arg(path: str) -> Any:
    """Load the MODEL argument, turning any problem into a one-line exit-2 error."""
    with cli_errors():
        return load_model(path)


def read_input(path: str) -> tuple[bytes, str]:
    """The bytes of a CSV file, or of stdin for `-`, with the name to use in messages.

    At most `csvdata.MAX_CSV_BYTES` are read; a device (/dev/zero, say) is refused.
    """
    with cli_errors():
        if path == "-":
            return read_stream(sys.stdin.buffer, "<stdin>"), "<stdin>"
        return read_csv_bytes(path), shown_path(path)


def creation_time() -> str:
    """Now in UTC as ISO 8601, or `SOURCE_DATE_EPOCH` (for reproducible files) when it is set.

    Only `nnfunc train --timestamp` records it: by default a model file holds no clock reading,
    so the same seed gives the same bytes. As reproducible-builds.org specifies, the value is
    ASCII digits, what `date +%s` prints (no sign, space or `_`), and anything else is an error;
    an empty value counts as unset, as in many tools.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not epoch:
        moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    wrong = f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds (what `date +%s` prints)"
    if not (epoch.isascii() and epoch.isdigit()):
        raise BadInput(wrong)
    try:
        moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise BadInput(wrong) from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- output ---------------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON-safe data: NaN and infinities become null (JSON has no spelling for them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def echo_json(value: Any, *, indent: int | None = 2) -> None:
    """Print one JSON document on stdout (strict JSON: no NaN)."""
    click.echo(json.dumps(_finite(value), indent=indent, allow_nan=False))


def column_names(option: str, value: str | None) -> list[str] | None:
    """A comma-separated list of column names (--target, --features), or None; an empty name
    is a usage error. A name holding a comma is quoted as in a CSV header: '"BMI, kg/m2",age'."""
    if value is None:
        return None
    names = [name.strip() for name in next(csv.reader([value], skipinitialspace=True), [""])]
    if not names or not all(names):  # "" reads as no cells at all
        raise click.UsageError(f"{option} {value!r}: give column names separated by commas")
    return names


def ordered_splits(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The metric reports as train, validation, test (then any others), skipping non-reports."""
    order = {"train": 0, "validation": 1, "test": 2}
    items = [(k, v) for k, v in metrics.items() if isinstance(v, dict)]
    return sorted(items, key=lambda kv: (order.get(kv[0], 3), kv[0]))


def is_terminal(stream: Any = None) -> bool:
    """True when `stream` (stderr by default) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def human_bytes(n: int) -> str:
    """A byte count as `812 B`, `7.9 kB` or `3.1 MB`."""
    if n < 1000:
        return f"{n} B"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def metric_line(split: str, report: dict[str, Any]) -> str:
    """One line of a split's headline metrics (accuracy and F1, or R2, RMSE and MAE)."""
    if "accuracy" in report:
        figures = f"accuracy {report['accuracy']:.4f}  macro F1 {report['macro']['f1']:.4f}"
    else:
        r2 = report["r2"]
        r2_text = f"{r2:.4f}" if abs(r2) < 1e6 else f"{r2:.4g}"
        figures = f"R2 {r2_text}  RMSE {report['rmse']:.4g}  MAE {report['mae']:.4g}"
    return f"  {split:<10} {figures}  ({counted(report['n_samples'], 'row')})"
