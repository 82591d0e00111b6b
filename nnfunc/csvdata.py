"""Load a CSV file with a header row as a `Dataset`, with readable one-line errors.

Only the stdlib `csv` module is used, with commas between cells. Feature columns must be numeric;
the target column(s) are the last column unless named. Every problem a user can make in a file (a
bad cell, a ragged row, an unknown column) raises `DataError` naming the row, the column and the
value. Numbers are plain ASCII decimal or scientific notation (`5.1`, `-2`, `1e-3`): Python's
`float` would also take `5_1` and non-ASCII digits, which are refused here. Files larger than
`MAX_CSV_BYTES` (256 MiB) are refused before they are read whole.

Column names and text class labels end up in the model file, whose reader refuses control
characters and names over `MAX_NAME_LEN` characters: such names are refused here, before any
training, and messages quote names and cells with `repr` so a control character never reaches
the terminal raw.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from nnfunc.arrays import freeze
from nnfunc.datasets import TASKS, Dataset
from nnfunc.names import dataset_name, name_problem, quoted, shown_path

MAX_INTEGER_CLASSES = 20
# The largest CSV input read (a file or stdin): generous for a numpy MLP, and a bound on memory.
MAX_CSV_BYTES = 256 * 1024 * 1024


class DataError(ValueError):
    """A data file that cannot be used, with a one-line message saying where and why."""


def load_csv(
    path: str | os.PathLike[str],
    *,
    target: str | Sequence[str] | None = None,
    task: str | None = None,
) -> Dataset:
    """Read the CSV at `path` into a Dataset named after the file (`dataset_name`).

    The sha256 is that of the file's bytes.
    """
    data = read_csv_bytes(path)
    return parse_csv(
        data, source=shown_path(path), name=dataset_name(path), target=target, task=task
    )


def read_csv_bytes(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> bytes:
    """The bytes of a CSV file or a pipe, at most `max_bytes`; a device (/dev/zero) is refused.

    `max_bytes` defaults to `MAX_CSV_BYTES`; a regular file's size is checked before reading.
    """
    source = shown_path(path)
    max_bytes = MAX_CSV_BYTES if max_bytes is None else max_bytes
    if os.path.isdir(path):
        raise DataError(f"{source}: is a directory, not a CSV file")
    try:
        with open(path, "rb") as f:
            info = os.fstat(f.fileno())
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
                raise DataError(f"{source}: is a device or special file, not a CSV file")
            if info.st_size > max_bytes:  # a regular file's size; 0 for a pipe
                raise DataError(_too_big(source, max_bytes))
            return read_stream(f, source, max_bytes=max_bytes)
    except FileNotFoundError:
        raise DataError(f"{source}: no such file") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror or exc}") from None


def read_stream(stream: BinaryIO, source: str, *, max_bytes: int | None = None) -> bytes:
    """Everything a binary stream (stdin, a pipe) holds, refusing more than `max_bytes`."""
    max_bytes = MAX_CSV_BYTES if max_bytes is None else max_bytes
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DataError(_too_big(source, max_bytes))
    return data


def _too_big(source: str, max_bytes: int) -> str:
    size = f"{max_bytes / 2**20:g} MiB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
    return f"{source}: more than {size}, the most nnfunc reads as CSV data"


def parse_csv(
    data: bytes,
    *,
    source: str,
    name: str,
    target: str | Sequence[str] | None = None,
    task: str | None = None,
) -> Dataset:
    """Parse CSV bytes (UTF-8, optional BOM) into a Dataset; `source` names the data in errors."""
    if task is not None and task not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)} or None, got {task!r}")
    rows = csv_rows(data, source)
    if not rows:
        raise DataError(f"{source}: file is empty")
    header, body = rows[0], rows[1:]
    _check_header(header, source)
    if not body:
        raise DataError(f"{source}: header only, no data rows")
    check_rectangular(header, body, source)
    targets = _target_columns(header, target, source)
    features = [column for column in header if column not in targets]
    if not features:
        raise DataError(
            f"{source}: no feature columns left after taking target(s) {targets}"
            + delimiter_hint(header)
        )
    # After the check above, so that a tab-separated file gets its hint rather than this refusal.
    _check_storable(header, source)
    if len(targets) > 1 and task == "classify":
        raise DataError(f"{source}: classification takes one target column, got {targets}")

    columns = {column: [row[i] for row in body] for i, column in enumerate(header)}
    X = numeric_columns([columns[c] for c in features], features, source)
    if task is None:
        task = _infer_task(targets, columns, source)
    if task == "classify":
        y = _labels(columns[targets[0]], targets[0], source)
    else:
        y = numeric_columns([columns[c] for c in targets], targets, source)
    digest = hashlib.sha256(data).hexdigest()
    return Dataset(freeze(X), freeze(y), features, targets, task, name, digest)


def csv_rows(data: bytes, source: str) -> list[list[str]]:
    """The rows of CSV bytes (UTF-8, optional BOM), each cell stripped of surrounding spaces.

    Any line ending works (LF, CRLF, and the CR of old Mac and Excel exports); a space after a
    comma does not stop a quoted cell (`1, "2"` is 1 and 2); blank lines and rows of empty cells
    (Excel's trailing `,,,`) are skipped and not counted as rows.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    try:
        lines = io.StringIO(text, newline="")  # as the csv module asks: it sees every ending
        cells = csv.reader(lines, skipinitialspace=True)
        rows = [[cell.strip() for cell in row] for row in cells]
    except csv.Error as exc:
        raise DataError(f"{source}: malformed CSV: {exc}") from None
    return [row for row in rows if any(row)]


def check_rectangular(header: list[str], body: list[list[str]], source: str) -> None:
    """Refuse a row whose cell count differs from the header's (naming the row)."""
    for number, row in enumerate(body, start=1):
        if len(row) != len(header):
            raise DataError(
                f"{source}: row {number} has {len(row)} cells, expected {len(header)} "
                "(one per header column)" + delimiter_hint(header)
            )


def delimiter_hint(header: Sequence[str]) -> str:
    """A note for a header read as one column that looks semicolon- or tab-separated, else ''."""
    if len(header) != 1:
        return ""
    for mark, name in ((";", "semicolon"), ("\t", "tab")):
        if mark in header[0]:
            return (
                f" (the header is one column {header[0]!r}: the file looks {name}-separated; "
                "nnfunc reads comma-separated CSV)"
            )
    return ""


def _check_header(header: list[str], source: str) -> None:
    """Refuse empty or duplicate column names."""
    for index, column in enumerate(header, start=1):
        if not column:
            raise DataError(f"{source}: header column {index} has an empty name")
    seen: set[str] = set()
    duplicates = sorted({c for c in header if c in seen or seen.add(c)})
    if duplicates:
        raise DataError(f"{source}: duplicate column name(s): {', '.join(map(repr, duplicates))}")


def _check_storable(header: list[str], source: str) -> None:
    """Refuse column names a model file cannot store (a control character, over-long)."""
    for index, column in enumerate(header, start=1):
        problem = name_problem(column)
        if problem is not None:
            raise DataError(
                f"{source}: header column {index} {quoted(column)} {problem}: a model file "
                "cannot store it as a column name; rename the column"
            )


def _target_columns(
    header: list[str], target: str | Sequence[str] | None, source: str
) -> list[str]:
    """Resolve the target argument to a list of known column names (default: the last column)."""
    if target is None:
        return [header[-1]]
    wanted = [target] if isinstance(target, str) else list(target)
    if not wanted:
        raise DataError(f"{source}: no target column given")
    for column in wanted:
        if column not in header:
            raise DataError(
                f"{source}: unknown target column {column!r}; "
                f"available columns: {', '.join(map(repr, header))}"
            )
    if len(set(wanted)) != len(wanted):
        raise DataError(f"{source}: target column(s) repeated: {', '.join(map(repr, wanted))}")
    return wanted


def parse_floats(cells: Sequence[str]) -> np.ndarray | None:
    """The cells as float64 when each is a plain ASCII number (inf and nan included), else None.

    Python's `float` (which numpy calls) also takes `5_1` (as 51) and non-ASCII digits (`٥`);
    one check over the joined column refuses those cheaply before numpy converts.
    """
    joined = "".join(cells)
    if not joined.isascii() or "_" in joined:
        return None
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        return None


def is_number(cell: str) -> bool:
    """True for a single plain ASCII number, as `parse_floats` reads it."""
    return parse_floats([cell]) is not None


def _numeric_column(cells: list[str], column: str, source: str) -> np.ndarray:
    """Convert one column of cells to float64, naming the first bad cell on failure."""
    values = parse_floats(cells)
    if values is not None:
        return values
    for number, cell in enumerate(cells, start=1):
        if not cell:
            raise DataError(f"{source}: row {number}, column {column!r}: missing value")
        if not is_number(cell):
            raise DataError(f"{source}: row {number}, column {column!r}: {cell!r} is not a number")
    raise AssertionError("unreachable: a column refused whose every cell is a number")


def numeric_columns(cells: Sequence[list[str]], names: Sequence[str], source: str) -> np.ndarray:
    """Columns of cells as a finite float64 array (rows, columns); bad cells raise DataError."""
    values = np.column_stack([_numeric_column(c, name, source) for c, name in zip(cells, names)])
    _check_finite(values, names, dict(zip(names, cells)), source)
    return values


def _check_finite(
    values: np.ndarray, names: Sequence[str], columns: dict[str, Sequence[str]], source: str
) -> None:
    """Refuse NaN or infinite numbers, naming the first one."""
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        column = names[col]
        raise DataError(
            f"{source}: row {row + 1}, column {column!r}: "
            f"{columns[column][row]!r} is not a finite number"
        )


def _is_integral_column(cells: list[str]) -> np.ndarray | None:
    """The column as int64 when every cell is a finite integral number, else None."""
    values = parse_floats(cells)
    if values is None:
        return None
    exact = np.isfinite(values) & (np.abs(values) < 2.0**53)  # exactly representable ints
    if not exact.all() or not np.array_equal(values, np.round(values)):
        return None
    return values.astype(np.int64)


def _infer_task(targets: list[str], columns: dict[str, list[str]], source: str) -> str:
    """Classify a single non-numeric or few-valued integral target; regress anything else.

    A column of numbers with a few words among them ("NA", "?") is numbers with missing values,
    not a column of class labels (which would make every number its own class): refused.
    """
    if len(targets) > 1:
        return "regress"
    cells = columns[targets[0]]
    if parse_floats(cells) is None:
        words = [i for i, cell in enumerate(cells) if cell and not is_number(cell)]
        if cells and 2 * len(words) < len(cells) and all(cells):
            row = words[0]
            raise DataError(
                f"{source}: target column {targets[0]!r} holds numbers but row {row + 1} holds "
                f"{cells[row]!r}: nnfunc has no missing values; fill or drop such rows (or give "
                "--task classify if the column holds class labels)"
            )
        # Non-numeric, or a missing cell; `_labels` reports a missing cell by row.
        return "classify"
    integral = _is_integral_column(cells)
    if integral is not None and len(np.unique(integral)) <= MAX_INTEGER_CLASSES:
        return "classify"
    return "regress"


def _labels(cells: list[str], column: str, source: str) -> np.ndarray:
    """Class labels: int64 when every cell is integral, else the stripped strings.

    Text labels are stored in the model file, so they must be names it can store.
    """
    for number, cell in enumerate(cells, start=1):
        if not cell:
            raise DataError(f"{source}: row {number}, column {column!r}: missing value")
    integral = _is_integral_column(cells)
    values = parse_floats(cells) if integral is None else None
    fractional = None if values is None else np.isfinite(values) & (values != np.round(values))
    if fractional is not None and fractional.any():  # as scikit-learn's "continuous" refusal
        row = int(np.flatnonzero(fractional)[0])
        raise DataError(
            f"{source}: target column {column!r} holds numbers that are not whole (row "
            f"{row + 1}: {cells[row]!r}): a continuous target is regressed, not classified "
            "(--task regress)"
        )
    if integral is None:
        for label in dict.fromkeys(cells):  # each distinct label, in order of first appearance
            problem = name_problem(label)
            if problem is not None:
                raise DataError(
                    f"{source}: row {cells.index(label) + 1}, column {column!r}: class label "
                    f"{quoted(label)} {problem}: a model file cannot store it; rename the class"
                )
    labels = integral if integral is not None else np.array(cells, dtype=str)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(
            f"{source}: target column {column!r} has a single class {classes[0].item()!r}; "
            "classification needs at least 2"
        )
    return labels
