"""New data in a trained model's terms: a CSV table's columns picked by the model's own names.

What `nnfunc predict` and `nnfunc evaluate` read: the feature columns by name (any order, extra
columns ignored), and the target columns as class codes or numbers. Messages name a row by its
line in the file when `lines` (from `csvdata.numbered_table`) is given, else count data rows from
1, the first row after the header.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np

from nnfunc.csvdata import (
    DataError,
    delimiter_hint,
    is_number,
    numbered_table,
    numeric_columns,
    row_name,
)
from nnfunc.model import Model
from nnfunc.names import spelled_as
from nnfunc.plain_csv import plain_header, plain_table, row_line


def model_table(
    model: Model, data: bytes, source: str, *, skip_empty: bool = False
) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, rows and their lines of CSV bytes, with the header's column names spelled as
    the model spells them when they match only after Unicode normalisation (NFC and NFD). Rows of
    empty cells are refused unless `skip_empty` (see `csvdata.numbered_rows`)."""
    header, body, lines = numbered_table(data, source, skip_empty=skip_empty)
    return spelled_as(header, (*model.feature_names, *model.target_names)), body, lines


def table_inputs(model: Model, data: bytes, source: str) -> tuple[np.ndarray, Callable[[int], int]]:
    """The model's feature columns of CSV bytes as float64, and a function giving the line of a
    row (counted from 0) for messages. A plain file goes through numpy's C reader (`plain_csv`),
    anything else through the careful reader, which names what is wrong."""
    header = plain_header(data)
    if header is not None:
        header = spelled_as(header, model.feature_names)
        if all(header.count(name) == 1 for name in model.feature_names):
            table = plain_table(data, header, model.feature_names)
            if table is not None:  # lines are only needed for a message: found then
                return table.numbers, lambda row: row_line(data, row)
    header, body, lines = model_table(model, data, source)
    return model_inputs(model, header, body, source, lines), lines.__getitem__


def table_inputs_and_columns(
    model: Model, data: bytes, source: str, names: Sequence[str]
) -> tuple[np.ndarray, Callable[[int], int], list[list[str]]]:
    """As `table_inputs`, plus the cells of the columns `names` as text, with surrounding spaces
    removed as everywhere (any columns of the file, features included: `nnfunc predict --keep`
    copies them). A plain file goes through the fast reader, which keeps only these columns'
    cells as Python strings."""
    header = plain_header(data)
    if header is not None:
        fast = _plain_inputs_and_columns(model, data, header, names)
        if fast is not None:
            return fast
    header, body, lines = numbered_table(data, source)
    X = model_inputs(model, spelled_as(header, model.feature_names), body, source, lines)
    kept_header = spelled_as(header, names)  # apart: a kept name may spell a feature otherwise
    index = [_column(kept_header, name, source, "kept") for name in names]
    return X, lines.__getitem__, [[row[i] for row in body] for i in index]


def _plain_inputs_and_columns(
    model: Model, data: bytes, header: list[str], names: Sequence[str]
) -> tuple[np.ndarray, Callable[[int], int], list[list[str]]] | None:
    """The fast reader's features and kept columns, or None: the careful reader then reads
    the file (and names whatever is wrong with it)."""
    merged = []
    for feature, kept in zip(spelled_as(header, model.feature_names), spelled_as(header, names)):
        is_feature, is_kept = feature in model.feature_names, kept in names
        if is_feature and is_kept and feature != kept:
            return None  # one column under two spellings
        merged.append(feature if is_feature else kept)
    if not all(merged.count(name) == 1 for name in (*model.feature_names, *names)):
        return None
    table = plain_table(data, merged, model.feature_names, text=names)
    if table is None:
        return None
    return table.numbers, lambda row: row_line(data, row), [table.texts[name] for name in names]


def read_table(data: bytes, source: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of CSV bytes (UTF-8, optional BOM); ragged rows or empty data raise."""
    header, body, _ = numbered_table(data, source)
    return header, body


def _column(header: list[str], name: str, source: str, role: str) -> int:
    if name not in header:
        raise DataError(
            f"{source}: missing {role} column {name!r}; the file has: "
            f"{', '.join(map(repr, header))}" + delimiter_hint(header)
        )
    if header.count(name) > 1:  # duplicates among the columns a model ignores do not matter
        raise DataError(f"{source}: {role} column {name!r} appears more than once in the header")
    return header.index(name)


def _numbers(
    header: list[str],
    body: list[list[str]],
    names: tuple[str, ...],
    source: str,
    role: str,
    lines: Sequence[int] | None,
) -> np.ndarray:
    """The named columns as finite float64 (plain ASCII numbers only), column by column."""
    index = [_column(header, name, source, role) for name in names]
    return numeric_columns([[row[i] for row in body] for i in index], names, source, lines)


def model_inputs(
    model: Model,
    header: list[str],
    body: list[list[str]],
    source: str,
    lines: Sequence[int] | None = None,
) -> np.ndarray:
    """The model's feature columns (by name, any order, extra columns ignored) as float64."""
    return _numbers(header, body, model.feature_names, source, "feature", lines)


def model_targets(
    model: Model,
    header: list[str],
    body: list[list[str]],
    source: str,
    lines: Sequence[int] | None = None,
) -> np.ndarray:
    """Class codes (classifiers) or float64 targets (regressors) from the model's target columns."""
    if model.task == "regress":
        return _numbers(header, body, model.target_names, source, "target", lines)
    name = model.target_names[0]
    i = _column(header, name, source, "target")
    codes = {str(c): k for k, c in enumerate(model.classes)}
    integral = all(type(c) is int for c in model.classes)
    out = np.empty(len(body), np.int64)
    for r, row in enumerate(body):
        cell = row[i]
        if not cell:
            raise DataError(f"{source}: {row_name(r, lines)}, column {name!r}: missing value")
        if integral and cell not in codes and is_number(cell):
            with contextlib.suppress(ValueError, OverflowError):
                value = float(cell)
                cell = str(int(value)) if value == int(value) else cell
        if cell not in codes:
            raise DataError(
                f"{source}: {row_name(r, lines)}, column {name!r}: unknown class {row[i]!r}; "
                f"the model knows: {', '.join(repr(c) for c in model.classes)}"
            )
        out[r] = codes[cell]
    return out
