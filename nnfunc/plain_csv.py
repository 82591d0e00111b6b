"""A fast reader for plain CSV files: numpy's C parser (`np.loadtxt`) instead of the csv module.

A million rows of twenty numbers take about 5 s this way, in little more memory than the file
and its numbers; through the csv module's lists of strings they took 24 s and 14 times the file's
size. The fast reader takes only what the careful reader in `csvdata` reads to the very same
values: a header on the first line, ASCII rows, every converted cell a plain finite number (no
`_`, which `float` would take), rows of the header's width. For anything else it returns None and
the careful reader parses the file, naming what is wrong and its line.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

BOM = b"\xef\xbb\xbf"


class PlainTable(NamedTuple):
    """The numeric columns asked for, as a float64 matrix in that order, and the stripped cells
    of the text columns asked for, by name."""

    numbers: np.ndarray
    texts: dict[str, list[str]]


def _first_line_end(data: bytes) -> int:
    end = data.find(b"\n")
    return len(data) if end < 0 else end


def plain_header(data: bytes) -> list[str] | None:
    """The header's cells (stripped) when it is the file's first line, all of it on that line
    (no CR-only line endings, no quoted line break); else None."""
    first = data[: _first_line_end(data)].removeprefix(BOM).removesuffix(b"\r")
    if b"\r" in first or b"\x00" in first:
        return None
    try:
        text = first.decode("utf-8")
        # strict: a quote left open (`x"y,"t`, which the csv module would carry on into the
        # next line) is an error here rather than the end of the header
        row = next(csv.reader([text], skipinitialspace=True, strict=True), [])
    except (UnicodeDecodeError, csv.Error):
        return None
    cells = [cell.strip() for cell in row]
    return cells if any(cells) else None


def plain_first_row(data: bytes) -> list[str] | None:
    """The stripped cells of the first line after the header that holds any, or None when there
    is none or it is not plain (a quote left open, not ASCII): a cheap look before a whole read."""
    lines = data[_first_line_end(data) + 1 :].split(b"\n", 64)[:64]
    for line in lines:
        line = line.removesuffix(b"\r")
        if not line.strip():
            continue
        if not line.isascii():
            return None
        try:
            row = next(csv.reader([line.decode("ascii")], skipinitialspace=True, strict=True))
        except csv.Error:
            return None
        return [cell.strip() for cell in row]
    return None


def row_line(data: bytes, row: int) -> int:
    """The line of the file on which data row `row` (from 0; blank lines are not rows) starts,
    counted as the careful reader counts it, without keeping any cell: for messages."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, skipinitialspace=True)
    start, index = 1, -1  # the first row that holds anything is the header, row -1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if any(cell.strip() for cell in cells):
            if index == row:
                return line
            index += 1
    raise IndexError(f"no data row {row}")


def plain_table(
    data: bytes, header: Sequence[str], numeric: Sequence[str], text: Sequence[str] = ()
) -> PlainTable | None:
    """The rows after the header line, read fast when they are plain (see the module's note).

    `header` is `plain_header(data)` (names unique); `numeric` and `text` name its columns.
    """
    body = data[_first_line_end(data) + 1 :]
    if not body.isascii() or b"_" in body or b"\x00" in body:  # NUL: the careful reader refuses
        return None
    index = {name: i for i, name in enumerate(header)}
    columns = [index[name] for name in numeric]
    everything = None if text else _numbers(body, None)  # also checks that rows are as wide
    if everything is not None and everything.shape[1] == len(header):
        numbers = everything if columns == list(range(len(header))) else everything[:, columns]
        return PlainTable(numbers, {}) if _finite(numbers) else None
    numbers = _numbers(body, columns)  # other columns hold text: read the rest on their own
    if numbers is None or not _finite(numbers):
        return None
    texts = _text_columns(body, len(header), [index[name] for name in text], len(numbers))
    return None if texts is None else PlainTable(numbers, dict(zip(text, texts)))


def _numbers(body: bytes, columns: list[int] | None) -> np.ndarray | None:
    """The body's `columns` (None: all) through `np.loadtxt`, or None where it cannot read them
    as numbers (a word, an empty cell, rows of another width, no rows at all)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "input contained no data": a header-only file
            numbers = np.loadtxt(
                io.BytesIO(body),
                dtype=np.float64,
                delimiter=",",
                comments=None,
                quotechar='"',
                ndmin=2,
                encoding="utf-8",
                usecols=columns,
            )
    except (ValueError, UserWarning):
        return None
    return numbers if numbers.size else None


def _finite(numbers: np.ndarray) -> bool:
    return bool(np.isfinite(numbers).all())


def _text_columns(
    body: bytes, width: int, columns: list[int], n_rows: int
) -> list[list[str]] | None:
    """The stripped cells of `columns`, row by row, checking that every row that is not blank
    has `width` cells and that there are as many as loadtxt read; else None."""
    cells: list[list[str]] = [[] for _ in columns]
    rows = 0
    lines = io.TextIOWrapper(io.BytesIO(body), encoding="ascii", newline="")  # decoded as read
    try:
        for row in csv.reader(lines, skipinitialspace=True):
            if len(row) != width:
                if any(cell.strip() for cell in row):
                    return None  # a ragged row: the careful reader names it
                continue  # a blank line, skipped by both readers
            for out, i in zip(cells, columns):
                out.append(row[i].strip())
            rows += 1
    except csv.Error:
        return None
    return cells if rows == n_rows else None
