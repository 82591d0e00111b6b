"""The fast reader for plain CSV files reads exactly what the careful reader reads, or nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfunc import csvdata
from nnfunc.csvdata import DataError, parse_csv
from nnfunc.plain_csv import plain_header, plain_table

# Cells each reader might take differently: spellings of numbers, words, quotes and spaces.
CELLS = [
    "1", "-2", "+3", "-0", ".5", "5.", "1e5", "1E+05", "0003", "2.5e-3", " 4 ", "\t6", '"7"',
    ' "8"', "x\x00y", "", "inf", "nan", "NaN", "-Infinity", "1e400", "1_0", "0x1p3", "1.5.",
    "3 4", "True", "abc", "\u0663", "setosa", "9007199254740993", "1.0", "2",
]  # fmt: skip


def careful(data, **options):
    """parse_csv with the fast reader switched off."""
    saved = csvdata.plain_header
    csvdata.plain_header = lambda data: None
    try:
        return parse_csv(data, source="t.csv", name="t", **options)
    finally:
        csvdata.plain_header = saved


def outcome(read, data, **options):
    try:
        d = read(data, **options)
    except DataError:
        return "refused"
    return (d.X.dtype, d.X.tobytes(), d.X.shape, d.y.dtype, d.y.tobytes(), d.y.shape,
            d.feature_names, d.target_names, d.task, d.sha256)  # fmt: skip


PLAIN = ["1", "-2", "+3", "-0", ".5", "5.", "1e5", "0003", "2.5e-3", " 4 ", '"7"', "1.0", "2"]
LABELS = ["setosa", "virginica", " x ", "1", "2"]


@st.composite
def csv_files(draw):
    """Header and rows: all plain numbers, plain numbers and a label column, or any cells."""
    width = draw(st.integers(2, 4))
    kind = draw(st.sampled_from(["plain", "labels", "any"]))
    cells = st.sampled_from(CELLS if kind == "any" else PLAIN)
    last = st.sampled_from(LABELS) if kind == "labels" else cells
    row = st.tuples(st.lists(cells, min_size=width - 1, max_size=width - 1), last)
    rows = [[*r, end] for r, end in draw(st.lists(row, min_size=0, max_size=6))]
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    names = [f"c{i}" for i in range(width)]
    if draw(st.integers(0, 9)) == 0:  # a stray quote: `x"y,"t` opens a cell into the next line
        names[draw(st.integers(0, width - 1))] = draw(st.sampled_from(['x"y', '"t', '"u"v']))
    lines = [",".join(names)]
    for row in rows:
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append("")  # a blank line
        lines.append(",".join(row) if draw(st.integers(0, 19)) else ",".join(row[:-1]))
    return (ending.join(lines) + ending * draw(st.integers(0, 1))).encode()


FAST = {"read": 0}


def fast(data, **options):
    """parse_csv as it is, counting the files the fast reader took."""
    header = plain_header(data)
    if header is not None and len(set(header)) == len(header):
        FAST["read"] += plain_table(data, header, header) is not None
    return parse_csv(data, source="t.csv", name="t", **options)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=csv_files(), task=st.sampled_from([None, "classify", "regress"]))
def test_the_fast_reader_agrees_with_the_careful_one(data, task):
    assert outcome(fast, data, task=task) == outcome(careful, data, task=task)


def test_the_comparison_above_saw_the_fast_reader_at_work():
    assert FAST["read"] >= 50  # runs after it (pytest keeps the file's order)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=20))
def test_numbers_are_read_to_the_same_bits(values):
    spellings = [repr, "{:.17g}".format, "{:e}".format, "{:.3f}".format]
    text = "a,y\n" + "".join(f"{spellings[i % 4](v)},{i % 2}\n" for i, v in enumerate(values))
    assert outcome(careful, text.encode()) != "refused"
    assert table_values(text.encode()) == outcome(careful, text.encode())[1]


def table_values(data):
    header = plain_header(data)
    return np.ascontiguousarray(plain_table(data, header, ["a"]).numbers).tobytes()


@pytest.mark.filterwarnings("ignore::nnfunc.csvdata.MissingLabelWarning")  # the "NA" label
def test_the_review_s_cases_read_alike():
    # a quote left open in the header, and a NUL in a column the model does not use
    for data, options in (
        (b'x"y,"t\n"1",2\n3,4\n5,6\n', {}),
        (b"a,b,c\n1,x\x00y,3\n4,5,6\n", {"features": ["a"], "target": "c"}),
        (b"a,b,y\n1,2,3\n4,5,NA\n", {}),
    ):
        assert outcome(fast, data, **options) == outcome(careful, data, **options)


def test_files_that_are_not_plain_go_to_the_careful_reader():
    assert plain_header(b"\na,b\n1,2\n") is None  # a blank line before the header
    assert plain_header(b'"a\nb",c\n1,2\n') is None  # a line break inside a quoted name
    assert plain_header(b"a,b\r1,2\r") is None  # CR-only line endings
    header = ["a", "b"]
    assert plain_table(b"a,b\n1,2\n3\n", header, header) is None  # ragged
    assert plain_table(b"a,b\n1,2\n,\n", header, header) is None  # a row of empty cells
    assert plain_table(b"a,b\n1,nan\n", header, header) is None  # not finite
    assert plain_table(b"a,b\n1,1_0\n", header, header) is None  # float() would read 10
    assert plain_table(b"a,b\n", header, header) is None  # no rows
    table = plain_table(b"a,b\n1,x\n\n2,y\n", header, ["a"], text=["b"])
    assert table.numbers.tolist() == [[1.0], [2.0]] and table.texts == {"b": ["x", "y"]}
    assert plain_table(b"a,b,c\n1,x,3\n2,y\n", ["a", "b", "c"], ["a"], text=["b"]) is None


@pytest.mark.parametrize("target", [None, "c0"])
def test_column_order_and_targets_in_the_middle(target):
    data = b"c0,c1,c2\n1,2,3\n4,5,6\n7,8,9\n"
    assert outcome(lambda d, **o: parse_csv(d, source="t", name="t", **o), data, target=target) == (
        outcome(careful, data, target=target)
    )


@st.composite
def prediction_files(draw):
    """Files for the arithmetic model (features a, b), with extra columns in any order."""
    columns = draw(st.permutations(["a", "b", "note", 'n"o', '"te']))[: draw(st.integers(2, 5))]
    cells = st.sampled_from(CELLS if draw(st.booleans()) else PLAIN)
    rows = draw(st.lists(st.lists(cells, min_size=len(columns), max_size=len(columns)), max_size=5))
    lines = [",".join(columns), *(",".join(row) for row in rows)]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(1, len(lines))), "")
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=prediction_files())
def test_predict_reads_plain_files_as_the_careful_reader_does(data, arithmetic_model):
    from nnfunc.model_table import model_inputs, model_table, table_inputs

    def careful_inputs():
        header, body, lines = model_table(arithmetic_model, data, "t.csv")
        return model_inputs(arithmetic_model, header, body, "t.csv", lines)

    results = []
    for read in (lambda: table_inputs(arithmetic_model, data, "t.csv")[0], careful_inputs):
        try:
            X = read()
            results.append((X.dtype, X.shape, X.tobytes()))
        except DataError as exc:
            results.append(str(exc))
    assert results[0] == results[1]


@pytest.fixture(scope="module")
def arithmetic_model():
    from pathlib import Path

    from nnfunc.modelfile import load_model

    return load_model(Path(__file__).parent.parent / "models" / "arithmetic.msgpack")
