"""Names as model files store them and messages show them: dataset names taken from file names,
column names and class labels checked, and text quoted so a control character never reaches a
terminal raw. (The rule for what is printable is `nnfunc.schema.UNPRINTABLE`, the reader's own.)
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence

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


def nfc(name: str) -> str:
    """`name` in Unicode NFC form: how names are compared (never stored), so that `größe` typed
    with one code point per letter matches the decomposed spelling some systems save (NFD)."""
    return unicodedata.normalize("NFC", name)


def spelled_as(header: Sequence[str], names: Iterable[str]) -> list[str]:
    """`header` with each column name that matches one of `names` only after NFC normalisation
    spelled as `names` spell it, so that a model's columns are found in a file saved in NFD."""
    wanted = list(names)
    by_form = {nfc(name): name for name in wanted}
    exact = set(wanted)
    return [column if column in exact else by_form.get(nfc(column), column) for column in header]


def counted(n: int, noun: str) -> str:
    """`1 row`, `2 rows`: a count with its noun, plural when it is not 1."""
    return f"{n} {noun}{'s' * (n != 1)}"


def listed(names: Sequence[str], limit: int = 20) -> str:
    """Names quoted and joined for a message (`'a', 'b'`), the first `limit` then `and N more`."""
    shown = ", ".join(quoted(name) for name in names[:limit])
    rest = len(names) - limit
    return f"{shown} and {rest:,} more" if rest > 0 else shown
