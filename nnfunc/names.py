"""Names as model files store them and messages show them: dataset names taken from file names,
column names and class labels checked, and text quoted so a control character never reaches a
terminal raw. (The rule for what is printable is `nnfunc.schema.UNPRINTABLE`, the reader's own.)
"""

from __future__ import annotations

import os
import re

from nnfunc.schema import MAX_NAME_LEN, UNPRINTABLE, padding_problem, unprintable

# What a file name gives up in a dataset name: `UNPRINTABLE`, and the lone surrogates that stand
# for the bytes of a file name that are not UTF-8 (msgpack cannot encode them).
_UNSTORABLE = re.compile(f"{UNPRINTABLE.pattern}|[\ud800-\udfff]")


def dataset_name(path: str | os.PathLike[str]) -> str:
    """The file's name without folder or extension, made printable: a name a model file stores.

    The name only labels the data (in the model's provenance, a summary line, a default output
    file name), so an odd file name is mended rather than refused: each control character (see
    `nnfunc.schema.UNPRINTABLE`) and each undecodable byte becomes `_`, and the name is cut to
    `MAX_NAME_LEN` characters.
    """
    stem = os.path.splitext(os.path.basename(os.fsdecode(path)))[0]
    return _UNSTORABLE.sub("_", stem)[:MAX_NAME_LEN]


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as messages show it: escaped (`repr`) if it holds a control or non-UTF-8 byte."""
    text = os.fsdecode(path)
    return repr(text) if _UNSTORABLE.search(text) else text


def name_problem(name: str) -> str | None:
    """Why a model file cannot store `name` as a column name or class label, or None."""
    char = unprintable(name)
    if char is not None:
        return f"holds the control character U+{ord(char):04X}"
    if len(name) > MAX_NAME_LEN:
        return f"has {len(name):,} characters, more than the {MAX_NAME_LEN} allowed"
    return None


def column_problem(name: str) -> str | None:
    """`name_problem` for a column name or text class label, which data must also be able to
    match: no empty or space-padded name (see `schema.padding_problem`)."""
    return name_problem(name) or padding_problem(name)


def quoted(text: str, limit: int = 60) -> str:
    """`text` quoted and escaped (`repr`), cut after `limit` characters, for a one-line message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."
