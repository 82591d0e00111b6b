"""CSV loading: task inference and one-line errors that name the row, column and value."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from nnfunc.csvdata import DataError, load_csv


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_string_target_is_classification(tmp_path):
    path = write(tmp_path, "x1,x2,kind\n1,2,cat\n3.5,4,dog\n5,6,cat\n")
    data = load_csv(path)
    assert data.task == "classify" and data.name == "data"
    assert data.feature_names == ("x1", "x2") and data.target_names == ("kind",)
    np.testing.assert_array_equal(data.X, [[1, 2], [3.5, 4], [5, 6]])
    assert data.X.dtype == np.float64 and data.y.tolist() == ["cat", "dog", "cat"]
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_few_integer_values_are_classes_kept_as_ints(tmp_path):
    data = load_csv(write(tmp_path, "a,b,label\n0.5,1,0\n1.5,2,1.0\n2.5,3,2\n"))
    assert data.task == "classify"
    assert data.y.dtype == np.int64 and data.y.tolist() == [0, 1, 2]


def test_many_integer_values_or_fractions_are_regression(tmp_path):
    rows = "".join(f"{i},{i * 3}\n" for i in range(25))
    data = load_csv(write(tmp_path, "x,y\n" + rows))
    assert data.task == "regress" and data.y.shape == (25, 1) and data.y.dtype == np.float64
    data = load_csv(write(tmp_path, "x,y\n1,0.5\n2,1.5\n", name="frac.csv"))
    assert data.task == "regress"


def test_explicit_task_and_several_targets(tmp_path):
    path = write(tmp_path, "a,b,s,d\n1,2,3,-1\n4,6,10,-2\n")
    data = load_csv(path, target=["s", "d"])
    assert data.task == "regress" and data.y.shape == (2, 2)
    assert data.feature_names == ("a", "b") and data.target_names == ("s", "d")
    np.testing.assert_array_equal(data.y, [[3, -1], [10, -2]])
    assert load_csv(path, target="s", task="regress").y.shape == (2, 1)
    with pytest.raises(DataError, match="one target column"):
        load_csv(path, target=["s", "d"], task="classify")


def test_target_in_the_middle(tmp_path):
    data = load_csv(write(tmp_path, "a,label,b\n1,x,2\n3,y,4\n"), target="label")
    assert data.feature_names == ("a", "b")
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])


def test_whitespace_bom_and_blank_lines_are_accepted(tmp_path):
    text = "\ufeff a , b , c \n 1 , 2 , yes \n\n3,4,no\n"
    data = load_csv(write(tmp_path, text))
    assert data.feature_names == ("a", "b") and data.target_names == ("c",)
    assert data.y.tolist() == ["yes", "no"]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        load_csv(tmp_path)


def test_empty_and_header_only(tmp_path):
    with pytest.raises(DataError, match="file is empty"):
        load_csv(write(tmp_path, ""))
    with pytest.raises(DataError, match="header only, no data rows"):
        load_csv(write(tmp_path, "a,b,c\n"))


def test_unknown_target_lists_columns(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n")
    with pytest.raises(
        DataError, match="unknown target column 'z'; available columns: 'a', 'b', 'c'"
    ):
        load_csv(path, target="z")


def test_ragged_row_names_the_row(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match="line 3 has 2 cells, expected 3"):
        load_csv(path)


def test_non_numeric_feature_names_row_column_and_value(tmp_path):
    path = write(tmp_path, "a,b,c\n1,2,x\n4,oops,y\n")
    with pytest.raises(DataError, match=r"line 3, column 'b': 'oops' is not a number") as info:
        load_csv(path)
    assert "\n" not in str(info.value)


def test_missing_cell_names_row_and_column(tmp_path):
    with pytest.raises(DataError, match="line 2, column 'a': missing value"):
        load_csv(write(tmp_path, "a,b,c\n,2,x\n4,5,y\n"))
    with pytest.raises(DataError, match="line 3, column 'c': missing value"):
        load_csv(write(tmp_path, "a,b,c\n1,2,x\n4,5,\n", name="t.csv"))


def test_nan_and_infinity_are_refused(tmp_path):
    with pytest.raises(DataError, match="line 3, column 'b': 'nan' is not a finite number"):
        load_csv(write(tmp_path, "a,b,c\n1,2,x\n4,nan,y\n"))
    with pytest.raises(DataError, match="line 2, column 'y': 'inf' is not a finite number"):
        load_csv(write(tmp_path, "a,y\n1,inf\n2,0.5\n", name="r.csv"), task="regress")


def test_non_numeric_regression_target(tmp_path):
    with pytest.raises(DataError, match="line 3, column 'y': 'big' is not a number"):
        load_csv(write(tmp_path, "a,y\n1,0.5\n2,big\n"), task="regress")


def test_single_class_is_refused(tmp_path):
    with pytest.raises(DataError, match="single class 'cat'"):
        load_csv(write(tmp_path, "a,b\n1,cat\n2,cat\n"))


def test_duplicate_and_empty_column_names(tmp_path):
    with pytest.raises(DataError, match="duplicate column name.*: 'a'"):
        load_csv(write(tmp_path, "a,b,a\n1,2,3\n"))
    with pytest.raises(DataError, match="column 2 has an empty name"):
        load_csv(write(tmp_path, "a,,c\n1,2,3\n", name="e.csv"))


def test_bad_task_and_non_utf8(tmp_path):
    path = write(tmp_path, "a,b\n1,x\n2,y\n")
    with pytest.raises(DataError, match="task must be one of"):
        load_csv(path, task="cluster")
    with pytest.raises(DataError, match="not UTF-8"):
        load_csv(write(tmp_path, "a,b\n1,é\n", name="latin.csv", encoding="latin-1"))


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_huge_integral_target_is_regression_without_overflow(tmp_path):
    data = load_csv(write(tmp_path, "a,y\n1,1e300\n2,0\n"))
    assert data.task == "regress" and data.y[0, 0] == 1e300


def test_only_plain_ascii_numbers_are_numbers(tmp_path):
    # Python's float() reads '5_1' as 51 and '\u0665' (Arabic-Indic five) as 5
    with pytest.raises(DataError, match="line 3, column 'a': '5_1' is not a number"):
        load_csv(write(tmp_path, "a,y\n1,x\n5_1,y\n"))
    with pytest.raises(DataError, match="line 2, column 'b': '\u0665' is not a number"):
        load_csv(write(tmp_path, "a,b,y\n1,\u0665,x\n2,3,y\n"))
    with pytest.raises(DataError, match="line 2, column 'b': '\uff15' is not a number"):
        load_csv(write(tmp_path, "a,b,y\n1,\uff15,x\n2,3,y\n"))  # fullwidth 5
    # a target of such cells is labels, not numbers: '1_0' is not the class 10
    data = load_csv(write(tmp_path, "a,y\n1,1_0\n2,2_0\n3,1_0\n"))
    assert data.task == "classify" and data.y.tolist() == ["1_0", "2_0", "1_0"]
    plain = load_csv(write(tmp_path, "a,b,y\n-1.5e3,+.5,x\n2.,1E-3,y\n"))
    assert plain.X.tolist() == [[-1500.0, 0.5], [2.0, 0.001]]


def test_a_semicolon_or_tab_separated_file_gets_a_hint(tmp_path):
    with pytest.raises(DataError, match="the file looks semicolon-separated; nnfunc reads comma"):
        load_csv(write(tmp_path, "a;b;y\n1;2;0\n3;4;1\n"))
    with pytest.raises(DataError, match="the file looks tab-separated"):
        load_csv(write(tmp_path, "a\tb\ty\n1\t2\t0\n3\t4\t1\n"))


def test_input_size_is_bounded_and_devices_are_refused(tmp_path, monkeypatch):
    from nnfunc.csvdata import read_csv_bytes

    path = write(tmp_path, "a,y\n" + "1,2\n" * 30)
    assert read_csv_bytes(path, max_bytes=124) == path.read_bytes()
    with pytest.raises(DataError, match="more than 123 bytes, the most nnfunc reads"):
        read_csv_bytes(path, max_bytes=123)
    monkeypatch.setattr("nnfunc.csvdata.MAX_CSV_BYTES", 50)
    with pytest.raises(DataError, match="more than 50 bytes"):
        load_csv(path)
    with pytest.raises(DataError, match="/dev/zero: is a device or special file"):
        load_csv("/dev/zero")


# --- names a model file can store -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"a\tb",y\n1,x\n2,z\n', r"header column 1 'a\\tb' holds the control character U\+0009"),
        ("a,y\x1b\n1,x\n2,z\n", r"header column 2 'y\\x1b' holds the control character U\+001B"),
        ("a\u202e,y\n1,x\n2,z\n", r"header column 1 'a\\u202e' holds the control character"),
        (
            "a," + "y" * 1025 + "\n1,x\n2,z\n",
            r"header column 2 'y{60}'\.\.\. has 1,025 characters, more",
        ),
    ],
)
def test_column_names_a_model_file_cannot_store_are_refused(tmp_path, text, message):
    with pytest.raises(DataError, match=message) as info:
        load_csv(write(tmp_path, text))
    assert "cannot store it as a column name" in str(info.value)
    assert info.value.args[0].isprintable()


def test_text_class_labels_a_model_file_cannot_store_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"line 3, column 'y': class label 'c\\x1bat' holds the"):
        load_csv(write(tmp_path, "a,y\n1,dog\n2,c\x1bat\n3,dog\n"))
    long = "b" * 1025
    with pytest.raises(
        DataError, match=r"line 2, column 'y': class label 'b{60}'\.\.\. has 1,025 char"
    ):
        load_csv(write(tmp_path, f"a,y\n1,{long}\n2,dog\n"))
    load_csv(write(tmp_path, "a,y\n1," + "b" * 1024 + "\n2,dog\n"))  # the limit itself is fine


def test_the_dataset_name_from_a_file_name_is_made_printable(tmp_path):
    text = "a,y\n1,x\n2,z\n"
    assert load_csv(write(tmp_path, text, name="f\x1bx.csv")).name == "f_x"
    assert load_csv(write(tmp_path, text, name="t\u2028y.csv")).name == "t_y"
    odd = os.fsencode(tmp_path) + b"/g\xff.csv"  # a file name that is not UTF-8
    with open(odd, "wb") as f:
        f.write(text.encode())
    assert load_csv(odd).name == "g_"
    assert load_csv(os.fsdecode(odd)).name == "g_"


def test_messages_quote_names_and_paths_escaped(tmp_path):
    with pytest.raises(DataError) as info:
        load_csv(write(tmp_path, "a\x1b,b,c\n1,2,3\n"), target="z")
    assert "available columns: 'a\\x1b', 'b', 'c'" in str(info.value)
    with pytest.raises(DataError, match=r"duplicate column name: 'b\\x1b'"):
        load_csv(write(tmp_path, "a,b\x1b,b\x1b\n1,2,3\n"))
    with pytest.raises(DataError, match=r"target column\(s\) repeated: 'b', 'b'"):
        load_csv(write(tmp_path, "a,b,c\n1,2,3\n"), target=["b", "b"])
    with pytest.raises(DataError) as info:
        load_csv(write(tmp_path, "a,y\nzz,x\n", name="h\x1b.csv"))
    assert str(info.value).startswith("'") and "h\\x1b.csv': line 2, column 'a'" in str(info.value)
    assert str(info.value).isprintable()


def test_classifying_a_continuous_target_is_refused(tmp_path):
    # scikit-learn's "Unknown label type: continuous": 200 rows would have made 200 classes
    path = write(tmp_path, "a,b,sum\n1,2,3\n0.5,1.25,1.75\n2,2,4\n")
    with pytest.raises(DataError) as info:
        load_csv(path, target="sum", task="classify")
    assert str(info.value) == (
        f"{path}: target column 'sum' holds numbers that are not whole (line 3: '1.75'): a "
        "continuous target is regressed, not classified (--task regress)"
    )
    assert load_csv(path, target="sum").task == "regress"
    whole = write(tmp_path, "a,b,kind\n1,2,3\n0.5,1.25,3.0\n2,2,4\n", name="whole.csv")
    assert load_csv(whole, target="kind", task="classify").y.tolist() == [3, 3, 4]


def test_a_numeric_target_with_missing_value_markers_is_refused_not_classified(tmp_path):
    # "NA" made the column text, and every number became its own class (test accuracy 0)
    rows = "".join(f"{i},{i * 0.37:.3f}\n" if i != 3 else "3,NA\n" for i in range(20))
    with pytest.raises(DataError, match=r"target column 'y' holds numbers but line 5 holds 'NA'"):
        load_csv(write(tmp_path, "x,y\n" + rows))
    labels = write(tmp_path, "x,y\n1,NA\n2,cat\n3,NA\n", name="labels.csv")  # words: labels
    with pytest.warns(UserWarning, match="'NA' .line 2 and 1 more row., which pandas reads"):
        assert load_csv(labels).task == "classify"


@pytest.mark.parametrize(
    "text",
    [
        "a,b,label\r1,2,x\r3,4,y\r",  # old Mac / Excel "CSV (Macintosh)" line endings
        'a, "b", label\n1, "2", x\n3, 4, "y"\n',  # a space after the comma, then quotes
        "a,b,label\n1,2,x\n   \n,,\n3,4,y\n",  # blank-looking lines and Excel's empty rows
    ],
)
def test_everyday_csv_variants_read_as_the_plain_file(tmp_path, text):
    plain = load_csv(write(tmp_path, "a,b,label\n1,2,x\n3,4,y\n", name="plain.csv"))
    variant = load_csv(write(tmp_path, text, name="plain.csv"))
    assert variant.feature_names == plain.feature_names == ("a", "b")
    np.testing.assert_array_equal(variant.X, plain.X)
    assert variant.y.tolist() == plain.y.tolist() == ["x", "y"]


def test_whole_number_labels_beyond_float_precision_are_kept_as_text(tmp_path):
    rows = "".join(f"{i},{9007199254740993 + 2 * (i % 2)}\n" for i in range(6))
    data = load_csv(write(tmp_path, "x,code\n" + rows), task="classify")
    assert sorted(set(data.y.tolist())) == ["9007199254740993", "9007199254740995"]


def test_a_semicolon_file_with_decimal_commas_gets_the_delimiter_hint(tmp_path):
    with pytest.raises(DataError, match="the file looks semicolon-separated"):
        load_csv(write(tmp_path, "a;b;label\n1,5;2;x\n2;3,1;y\n"))


def test_a_missing_value_marker_among_text_labels_warns_on_both_readers(tmp_path):
    from nnfunc.csvdata import MissingLabelWarning

    # the plain fast reader hands such a file to the careful one, which names the line
    for text in ("a,y\n1,dog\n2,?\n3,cat\n", 'a,y\n1,dog\n2,"?"\n3,cat\n'):
        with pytest.warns(MissingLabelWarning, match=r"/data\.csv: target column 'y' holds '\?' "):
            dataset = load_csv(write(tmp_path, text))
        assert list(dataset.y) == ["dog", "?", "cat"]
        with pytest.warns(MissingLabelWarning, match=r"\(line 3\)"):
            load_csv(write(tmp_path, text))


def test_the_missing_label_warning_points_at_the_callers_line(tmp_path):
    import warnings

    path = write(tmp_path, "a,y\n1,dog\n2,NA\n3,cat\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        load_csv(path)  # this line, not one inside nnfunc
    (warning,) = seen
    assert warning.filename == __file__
