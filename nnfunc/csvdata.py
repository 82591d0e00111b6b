"""Load a CSV file with a header row as a `Dataset`, with readable one-line errors.

Only the stdlib `csv` module is used. Feature columns must be numeric; the target column(s) are
the last column unless named. Every problem a user can make in a file (a bad cell, a ragged row, an
unknown column) raises `DataError` naming the row, the column and the value.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Sequence

import numpy as np

from nnfunc.arrays import freeze
from nnfunc.datasets import TASKS, Dataset

MAX_INTEGER_CLASSES = 20


class DataError(ValueError):
    """A data file that cannot be used, with a one-line message saying where and why."""


def load_csv(
    path: str | os.PathLike[str],
    *,
    target: str | Sequence[str] | None = None,
    task: str | None = None,
) -> Dataset:
    """Read the CSV at `path` into a Dataset; the sha256 is that of the file's bytes."""
    source = os.fspath(path)
    if os.path.isdir(source):
        raise DataError(f"{source}: is a directory, not a CSV file")
    try:
        with open(source, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f"{source}: no such file") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror or exc}") from None
    name = os.path.splitext(os.path.basename(source))[0]
    return parse_csv(data, source=source, name=name, target=target, task=task)


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
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise DataError(f"{source}: file is empty")
    try:
        # Blank lines come back as []; they are skipped and not counted as data rows.
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise DataError(f"{source}: malformed CSV: {exc}") from None
    header, body = rows[0], rows[1:]
    _check_header(header, source)
    if not body:
        raise DataError(f"{source}: header only, no data rows")
    for number, row in enumerate(body, start=1):
        if len(row) != len(header):
            raise DataError(
                f"{source}: row {number} has {len(row)} cells, expected {len(header)} "
                f"(one per header column)"
            )
    targets = _target_columns(header, target, source)
    features = [column for column in header if column not in targets]
    if not features:
        raise DataError(f"{source}: no feature columns left after taking target(s) {targets}")
    if len(targets) > 1 and task == "classify":
        raise DataError(f"{source}: classification takes one target column, got {targets}")

    columns = {column: [row[i] for row in body] for i, column in enumerate(header)}
    X = np.column_stack([_numeric_column(columns[c], c, source) for c in features])
    _check_finite(X, features, columns, source)
    if task is None:
        task = _infer_task(targets, columns)
    if task == "classify":
        y = _labels(columns[targets[0]], targets[0], source)
    else:
        y = np.column_stack([_numeric_column(columns[c], c, source) for c in targets])
        _check_finite(y, targets, columns, source)
    digest = hashlib.sha256(data).hexdigest()
    return Dataset(freeze(X), freeze(y), features, targets, task, name, digest)


def _check_header(header: list[str], source: str) -> None:
    """Refuse empty or duplicate column names."""
    for index, column in enumerate(header, start=1):
        if not column:
            raise DataError(f"{source}: header column {index} has an empty name")
    seen: set[str] = set()
    duplicates = sorted({c for c in header if c in seen or seen.add(c)})
    if duplicates:
        raise DataError(f"{source}: duplicate column name(s): {', '.join(duplicates)}")


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
                f"available columns: {', '.join(header)}"
            )
    if len(set(wanted)) != len(wanted):
        raise DataError(f"{source}: target column(s) repeated: {', '.join(wanted)}")
    return wanted


def _numeric_column(cells: list[str], column: str, source: str) -> np.ndarray:
    """Convert one column of cells to float64, naming the first bad cell on failure."""
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        pass
    for number, cell in enumerate(cells, start=1):
        if not cell:
            raise DataError(f"{source}: row {number}, column {column!r}: missing value")
        try:
            float(cell)
        except ValueError:
            raise DataError(
                f"{source}: row {number}, column {column!r}: {cell!r} is not a number"
            ) from None
    raise AssertionError("unreachable: numpy refused a column that float() accepts")


def _check_finite(
    values: np.ndarray, names: Sequence[str], columns: dict[str, list[str]], source: str
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
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        return None
    exact = np.isfinite(values) & (np.abs(values) < 2.0**53)  # exactly representable ints
    if not exact.all() or not np.array_equal(values, np.round(values)):
        return None
    return values.astype(np.int64)


def _infer_task(targets: list[str], columns: dict[str, list[str]]) -> str:
    """Classify a single non-numeric or few-valued integral target; regress anything else."""
    if len(targets) > 1:
        return "regress"
    cells = columns[targets[0]]
    try:
        np.array(cells, dtype=np.float64)
    except ValueError:
        # Non-numeric, or a missing cell; `_labels` reports a missing cell by row.
        return "classify"
    integral = _is_integral_column(cells)
    if integral is not None and len(np.unique(integral)) <= MAX_INTEGER_CLASSES:
        return "classify"
    return "regress"


def _labels(cells: list[str], column: str, source: str) -> np.ndarray:
    """Class labels: int64 when every cell is integral, else the stripped strings."""
    for number, cell in enumerate(cells, start=1):
        if not cell:
            raise DataError(f"{source}: row {number}, column {column!r}: missing value")
    integral = _is_integral_column(cells)
    labels = integral if integral is not None else np.array(cells, dtype=str)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(
            f"{source}: target column {column!r} has a single class {classes[0].item()!r}; "
            "classification needs at least 2"
        )
    return labels
