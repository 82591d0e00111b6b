"""Load a CSV file with a header row as a `Dataset`, with readable one-line errors.

Cells are separated by commas. A plain file (ASCII numbers, header on the first line) is read by
numpy's C parser (`plain_csv`), five times faster and in a quarter of the memory; anything else by
the stdlib `csv` module, to the same values. Feature columns must be numeric;
the target column(s) are the last column unless named. Every problem a user can make in a file (a
bad cell, a ragged row, an unknown column) raises `DataError` naming the file's line, the column
and the value: `line 6` is line 6 of the file as an editor numbers it (the header is usually line
1), whatever blank lines or skipped rows come before it. Numbers are plain ASCII decimal or
scientific notation (`5.1`, `-2`, `1e-3`): Python's `float` would also take `5_1` and non-ASCII
digits, which are refused here. Files larger than `MAX_CSV_BYTES` (256 MiB) are refused before
they are read whole.

Column names and text class labels end up in the model file, whose reader refuses control
characters and names over `MAX_NAME_LEN` characters: such names are refused here, before any
training, and messages quote names and cells with `repr` so a control character never reaches
the terminal raw. Column names are matched after Unicode NFC normalisation (`names.nfc`), so a
file saved with decomposed accents still finds `größe`; names that differ only so are duplicates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import sys
import warnings
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from nnfunc.arrays import freeze
from nnfunc.datasets import MAX_INTEGER_CLASSES, TASKS, Dataset
from nnfunc.names import counted, dataset_name, listed, name_problem, nfc, quoted, shown_path
from nnfunc.plain_csv import plain_first_row, plain_header, plain_table

# The largest CSV input read (a file or stdin): generous for a numpy MLP, and a bound on memory.
MAX_CSV_BYTES = 256 * 1024 * 1024
# Cells that pandas reads as missing values by default (its `na_values`, less the empty cell,
# which is refused here), and the UCI repository's "?": as class labels, most likely not classes.
MISSING_MARKERS = frozenset(
    {
        *("#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"),
        *("<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "?"),
    }
)


class MissingLabelWarning(UserWarning):
    """A class label that pandas and most tools read as a missing value ("NA", "null", "?")."""


class DataError(ValueError):
    """A data file that cannot be used, with a one-line message saying where and why."""


def load_csv(
    path: str | os.PathLike[str],
    *,
    target: str | Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    task: str | None = None,
) -> Dataset:
    """Read the CSV at `path` into a Dataset named after the file (`dataset_name`).

    The sha256 is that of the file's bytes.
    """
    data = read_csv_bytes(path)
    return parse_csv(
        data,
        source=shown_path(path),
        name=dataset_name(path),
        target=target,
        features=features,
        task=task,
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
    features: Sequence[str] | None = None,
    task: str | None = None,
) -> Dataset:
    """Parse CSV bytes (UTF-8, optional BOM) into a Dataset; `source` names the data in errors.

    `features` picks the feature columns (default: every column that is not a target).
    """
    if task is not None and task not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)} or None, got {task!r}")
    digest = hashlib.sha256(data).hexdigest()
    header = plain_header(data)
    if header is not None:  # numpy's C reader, when the file is plain; else the careful one
        targets, features = _columns(header, target, features, task, source)
        quick = _plain_arrays(data, header, features, targets, task)
        if quick is not None:
            X, y, task = quick
            return Dataset(freeze(X), freeze(y), features, targets, task, name, digest)
    header, body, lines = numbered_table(data, source, skip_empty=True)
    targets, features = _columns(header, target, features, task, source)
    columns = {column: [row[i] for row in body] for i, column in enumerate(header)}
    advice = (
        "; feature columns must hold numbers: fix the cell, or leave the column out with "
        "--features (or predict it with --target)"
    )
    X = numeric_columns([columns[c] for c in features], features, source, lines, advice=advice)
    if task is None:
        task = _infer_task(targets, columns, source, lines)
    if task == "classify":
        y = _labels(columns[targets[0]], targets[0], source, lines)
    else:
        y = numeric_columns([columns[c] for c in targets], targets, source, lines)
    return Dataset(freeze(X), freeze(y), features, targets, task, name, digest)


def _columns(
    header: list[str],
    target: str | Sequence[str] | None,
    features: Sequence[str] | None,
    task: str | None,
    source: str,
) -> tuple[list[str], list[str]]:
    """The target and feature columns the arguments pick, with the header's own checks on the
    columns used (with `features` given, the others may be anything: the unnamed index column of
    a pandas export, Excel's trailing empty columns, a repeated note)."""
    if features is None:
        _check_header(header, source)  # every column is used
        targets = _target_columns(header, target, source)
        features = [column for column in header if column not in targets]
    else:
        targets = _target_columns(header, target, source)
        features = _feature_columns(header, features, targets, source)
        _check_header(header, source, used=[*targets, *features])
    if not features:
        raise DataError(
            f"{source}: no feature columns left after taking target(s) {listed(targets)}"
            + delimiter_hint(header)
        )
    # After the check above, so that a tab-separated file gets its hint rather than this refusal.
    _check_storable(header, source, used=[*targets, *features])
    if len(targets) > 1 and task == "classify":
        raise DataError(f"{source}: classification takes one target column, got {listed(targets)}")
    return targets, list(features)


def _plain_arrays(
    data: bytes, header: list[str], features: list[str], targets: list[str], task: str | None
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """X, y and the task as the careful reader would make them, through `plain_csv`; None when
    the file is not plain or the careful reader would refuse it (it then says why).

    The first row picks the one read worth trying (numbers throughout, or a text target), so a
    file that is not plain costs at most one fast read before the careful one.
    """
    first = plain_first_row(data)
    if first is None or len(first) != len(header):
        return None
    first_cells = dict(zip(header, first))
    if not all(is_number(first_cells[column]) for column in features):
        return None
    if is_number(first_cells[targets[0]]) or len(targets) > 1:
        table = plain_table(data, header, [*features, *targets])
        if table is None:
            return None
        X = np.ascontiguousarray(table.numbers[:, : len(features)])
        y = np.ascontiguousarray(table.numbers[:, len(features) :])
        labels = _whole_labels(y[:, 0]) if len(targets) == 1 else None
        if task is None:
            few = labels is not None and len(np.unique(labels)) <= MAX_INTEGER_CLASSES
            task = "classify" if few else "regress"
        if task == "regress":
            return X, y, task
        if labels is None or len(np.unique(labels)) < 2:
            return None
        return X, labels, task
    if task == "regress":
        return None
    table = plain_table(data, header, features, text=targets)
    if table is None:
        return None
    cells = table.texts[targets[0]]
    if not MISSING_MARKERS.isdisjoint(cells):
        return None  # the careful reader warns about them, naming their lines
    try:  # the careful reader's own rules for a text target, on its cells
        task = task or _infer_task(targets, {targets[0]: cells}, "", None)
        if task != "classify":
            return None
        labels = _labels(cells, targets[0], "", None)
    except DataError:
        return None
    return np.ascontiguousarray(table.numbers), labels, task


def _whole_labels(values: np.ndarray) -> np.ndarray | None:
    """float64 values as int64 class codes when each is a whole number below 2**53 (past that,
    the careful reader keeps the cells' text as labels), else None."""
    if (np.abs(values) < 2.0**53).all() and np.array_equal(values, np.round(values)):
        return values.astype(np.int64)
    return None


def numbered_table(
    data: bytes, source: str, *, skip_empty: bool = False
) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the data rows and each data row's line in the file (for messages).

    An empty file, a header with no rows after it, and a row whose cell count differs from the
    header's are refused; `skip_empty` is as for `numbered_rows`.
    """
    rows, lines = numbered_rows(data, source, skip_empty=skip_empty)
    if not rows:
        raise DataError(f"{source}: file is empty")
    if len(rows) == 1:
        raise DataError(f"{source}: header only, no data rows")
    check_rectangular(rows[0], rows[1:], source, lines[1:])
    return rows[0], rows[1:], lines[1:]


def numbered_rows(
    data: bytes, source: str, *, skip_empty: bool = False
) -> tuple[list[list[str]], list[int]]:
    """The rows of CSV bytes (UTF-8, optional BOM), cells stripped, and the line each starts on.

    Any line ending works (LF, CRLF, and the CR of old Mac and Excel exports); a space after a
    comma does not stop a quoted cell (`1, "2"` is 1 and 2). Blank lines are skipped, as pandas
    skips them. A row of empty cells (Excel's trailing `,,,`) is skipped with `skip_empty` (as
    training does); otherwise it is refused naming its line, since predict and evaluate answer
    every row and a dropped one would shift every answer after it.
    """
    reader = csv.reader(io.StringIO(_text(data, source), newline=""), skipinitialspace=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1  # the line the next row starts on
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            line, start = start, reader.line_num + 1
            if any(cells):
                rows.append(cells)
                lines.append(line)
            elif len(cells) > 1 and not skip_empty:
                raise DataError(
                    f"{source}: line {line} has no values (only commas): every row gets one "
                    "prediction, so fill it or delete it"
                )
    except csv.Error as exc:
        raise DataError(f"{source}: line {reader.line_num}: malformed CSV: {exc}") from None
    return rows, lines


def _text(data: bytes, source: str) -> str:
    """CSV bytes as text: UTF-8 with an optional BOM; UTF-16 and other encodings are refused
    saying so, with the line of the first byte that is not UTF-8."""
    fix = "save it as UTF-8 (in Excel: CSV UTF-8)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{source}: looks like UTF-16 text (it starts with a UTF-16 mark); {fix}")
    if b"nnfunc-model" in data[:64]:  # a model file's envelope names its format at the start
        raise DataError(f"{source}: is an nnfunc model file, not a CSV file")
    if b"\x00" in data:
        raise DataError(f"{source}: holds NUL bytes, as UTF-16 text or a binary file does; {fix}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        raise DataError(
            f"{source}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start:,}; perhaps Latin-1 or Windows-1252); {fix}"
        ) from None


def row_name(index: int, lines: Sequence[int] | None) -> str:
    """How a message names the data row at `index`: `line 6`, its line in the file, when the
    lines are known; else `row 5`, counting data rows from 1 (the first after the header)."""
    return f"line {lines[index]}" if lines is not None else f"row {index + 1}"


def check_rectangular(
    header: list[str], body: list[list[str]], source: str, lines: Sequence[int] | None = None
) -> None:
    """Refuse a row whose cell count differs from the header's (naming its line, or row)."""
    for index, row in enumerate(body):
        if len(row) != len(header):
            raise DataError(
                f"{source}: {row_name(index, lines)} has {counted(len(row), 'cell')}, expected "
                f"{len(header)} (one per header column)" + delimiter_hint(header)
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


def _check_header(header: list[str], source: str, used: Sequence[str] | None = None) -> None:
    """Refuse empty column names, and names that are the same after NFC normalisation, among
    the columns `used` (every column when None)."""
    wanted = None if used is None else {nfc(name) for name in used}
    for index, column in enumerate(header, start=1):
        if not column and (wanted is None or "" in wanted):
            raise DataError(
                f"{source}: header column {index} has an empty name (a pandas export's index? "
                "save it with index=False, or pick the columns to use with --features)"
            )
    first: dict[str, int] = {}
    for index, column in enumerate(header, start=1):
        if wanted is not None and nfc(column) not in wanted:
            continue
        earlier = first.setdefault(nfc(column), index)
        if earlier == index:
            continue
        other = header[earlier - 1]
        if other == column:
            raise DataError(
                f"{source}: duplicate column name: {quoted(column)} (header columns {earlier} and "
                f"{index}); rename one"
            )
        raise DataError(  # ascii() shows the difference that the two spellings hide
            f"{source}: header columns {earlier} ({ascii(other)}) and {index} ({ascii(column)}) "
            "are one name in two Unicode forms: rename one"
        )


def _check_storable(header: list[str], source: str, used: Sequence[str]) -> None:
    """Refuse names of `used` columns a model file cannot store (a control character, too long)."""
    wanted = set(used)
    for index, column in enumerate(header, start=1):
        problem = name_problem(column) if column in wanted else None
        if problem is not None:
            raise DataError(
                f"{source}: header column {index} {quoted(column)} {problem}: a model file "
                "cannot store it as a column name; rename the column"
            )


def _find_column(header: list[str], name: str, source: str, role: str) -> str:
    """The header's spelling of column `name` (matched after NFC normalisation), else refuse."""
    for column in header:
        if nfc(column) == nfc(name):
            return column
    raise DataError(
        f"{source}: unknown {role} column {quoted(name)}; available columns: {listed(header)}"
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
    found = [_find_column(header, column, source, "target") for column in wanted]
    if len(set(found)) != len(found):
        raise DataError(f"{source}: target column(s) repeated: {listed(wanted)}")
    return found


def _feature_columns(
    header: list[str], features: Sequence[str], targets: list[str], source: str
) -> list[str]:
    """Resolve the features argument to known column names that are not targets."""
    found = [_find_column(header, column, source, "feature") for column in features]
    if len(set(found)) != len(found):
        raise DataError(f"{source}: feature column(s) repeated: {listed(list(features))}")
    both = [column for column in found if column in targets]
    if both:
        raise DataError(
            f"{source}: {quoted(both[0])} is both a feature and a target column; give it once"
        )
    return found


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


def _numeric_column(
    cells: list[str], column: str, source: str, lines: Sequence[int] | None, advice: str
) -> np.ndarray:
    """Convert one column of cells to float64, naming the first bad cell on failure."""
    values = parse_floats(cells)
    if values is not None:
        return values
    for index, cell in enumerate(cells):
        where = f"{source}: {row_name(index, lines)}, column {quoted(column)}"
        if not cell:
            raise DataError(f"{where}: missing value{advice}")
        if not is_number(cell):
            raise DataError(f"{where}: {quoted(cell)} is not a number{advice}")
    raise AssertionError("unreachable: a column refused whose every cell is a number")


def numeric_columns(
    cells: Sequence[list[str]],
    names: Sequence[str],
    source: str,
    lines: Sequence[int] | None = None,
    *,
    advice: str = "",
) -> np.ndarray:
    """Columns of cells as a finite float64 array (rows, columns); bad cells raise DataError.

    `lines` (each row's line in the file) numbers rows in messages (see `row_name`); `advice` is
    added to the message for a cell that is missing or not a number.
    """
    values = np.column_stack(
        [_numeric_column(c, name, source, lines, advice) for c, name in zip(cells, names)]
    )
    _check_finite(values, names, dict(zip(names, cells)), source, lines)
    return values


def _check_finite(
    values: np.ndarray,
    names: Sequence[str],
    columns: dict[str, Sequence[str]],
    source: str,
    lines: Sequence[int] | None,
) -> None:
    """Refuse NaN or infinite numbers, naming the first one."""
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        column = names[col]
        raise DataError(
            f"{source}: {row_name(int(row), lines)}, column {quoted(column)}: "
            f"{quoted(columns[column][row])} is not a finite number"
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


def _infer_task(
    targets: list[str], columns: dict[str, list[str]], source: str, lines: Sequence[int] | None
) -> str:
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
                f"{source}: target column {targets[0]!r} holds numbers but "
                f"{row_name(row, lines)} holds {quoted(cells[row])}: nnfunc has no missing "
                "values; fill or drop such rows (or give --task classify if the column holds "
                "class labels)"
            )
        # Non-numeric, or a missing cell; `_labels` reports a missing cell by row.
        return "classify"
    integral = _is_integral_column(cells)
    if integral is not None and len(np.unique(integral)) <= MAX_INTEGER_CLASSES:
        return "classify"
    return "regress"


def _warn_missing_markers(
    cells: list[str], column: str, source: str, lines: Sequence[int] | None
) -> None:
    """Warn about text labels such as "NA": trained as a class, though they likely mark gaps."""
    for marker in dict.fromkeys(cell for cell in cells if cell in MISSING_MARKERS):
        rows = [i for i, cell in enumerate(cells) if cell == marker]
        where = row_name(rows[0], lines)
        more = f" and {counted(len(rows) - 1, 'more row')}" if len(rows) > 1 else ""
        warnings.warn(
            MissingLabelWarning(
                f"{source}: target column {column!r} holds {quoted(marker)} ({where}{more}), "
                "which pandas reads as a missing value; it is trained as a class of its own: "
                "drop those rows if it marks a missing label"
            ),
            stacklevel=_caller_level(),
        )


def _caller_level() -> int:
    """The `stacklevel` that makes a warning point at the first caller outside nnfunc, however
    many of nnfunc's functions lie between (load_csv, parse_csv, the CLI's own readers)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _labels(cells: list[str], column: str, source: str, lines: Sequence[int] | None) -> np.ndarray:
    """Class labels: int64 when every cell is integral, else the stripped strings.

    Text labels are stored in the model file, so they must be names it can store.
    """
    for index, cell in enumerate(cells):
        if not cell:
            raise DataError(f"{source}: {row_name(index, lines)}, column {column!r}: missing value")
    integral = _is_integral_column(cells)
    values = parse_floats(cells) if integral is None else None
    fractional = None if values is None else np.isfinite(values) & (values != np.round(values))
    if fractional is not None and fractional.any():  # as scikit-learn's "continuous" refusal
        row = int(np.flatnonzero(fractional)[0])
        raise DataError(
            f"{source}: target column {column!r} holds numbers that are not whole ("
            f"{row_name(row, lines)}: {quoted(cells[row])}): a continuous target is regressed, "
            "not classified (--task regress)"
        )
    if integral is None:
        for label in dict.fromkeys(cells):  # each distinct label, in order of first appearance
            problem = name_problem(label)
            if problem is not None:
                raise DataError(
                    f"{source}: {row_name(cells.index(label), lines)}, column {column!r}: class "
                    f"label {quoted(label)} {problem}: a model file cannot store it; rename the "
                    "class"
                )
    if integral is None:
        _warn_missing_markers(cells, column, source, lines)
    labels = integral if integral is not None else np.array(cells, dtype=str)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DataError(
            f"{source}: target column {column!r} has a single class {classes[0].item()!r}; "
            "classification needs at least 2"
        )
    return labels
