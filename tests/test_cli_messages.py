"""Messages and options of the `nnfunc` commands: rows named by their line, names matched after
Unicode normalisation, file names escaped, help texts that say what the options do."""

import json
import shutil
import subprocess
import sys
import unicodedata

import pytest
from click.testing import CliRunner

from nnfunc.cli import main
from nnfunc.modelfile import load_model

IRIS_HEADER = "sepal_length,sepal_width,petal_length,petal_width"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def assert_fails(result, code, *messages):
    """Exit `code` with one `Error: ...` line on stderr holding every message, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for message in messages:
        assert message in lines[0], lines[0]
    assert result.stdout == ""


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    """An Iris classifier made by `nnfunc train`."""
    path = tmp_path_factory.mktemp("models") / "iris.msgpack"
    assert run("train", "--epochs", 20, "--out", path, "-q").exit_code == 0
    return path


# --- rows: one answer per row, named by line -----------------------------------------------------


def test_predict_refuses_a_row_of_empty_cells_instead_of_dropping_it(iris):
    data = f"{IRIS_HEADER}\n5,3,1,0.2\n,,,\n7,3,6,2\n\n6,3,4,1.3\n"
    assert_fails(
        run("predict", iris, "--data", "-", input=data),
        2,
        "<stdin>: line 3 has no values",
        "every row gets one prediction, so fill it or delete it",
    )
    # evaluate skips them as training does: a model evaluates on the file it was trained on
    labelled = f"{IRIS_HEADER},species\n5,3,1,0.2,setosa\n,,,,\n7,3,6,2,virginica\n"
    result = run("evaluate", iris, "--data", "-", "--json", input=labelled)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["n_samples"] == 2


def test_predict_skips_blank_lines_and_answers_every_other_row(iris):
    data = f"{IRIS_HEADER}\n5,3,1,0.2\n\n7,3,6,2\n\n6,3,4,1.3\n\n"
    result = run("predict", iris, "--data", "-", "--json", input=data)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["labels"]) == 3


def test_training_messages_name_the_line_after_skipped_rows(tmp_path):
    out = tmp_path / "m.msgpack"
    # line 3 is Excel's `,,,` and line 4 is blank: both skipped, and the bad cell is on line 6
    data = "a,b,y\n1,2,x\n,,\n\n3,4,y\n5,oops,x\n7,8,y\n"
    result = run("train", "--data", "-", "--out", out, input=data)
    assert_fails(result, 2, "<stdin>: line 6, column 'b': 'oops' is not a number")
    assert_fails(
        run("train", "--data", "-", "--out", out, input="a,b,y\n1,2,x\n\n3\n"),
        2,
        "<stdin>: line 4 has 1 cell, expected 3",
    )


def test_rows_a_model_cannot_answer_are_named_by_their_line(iris):
    data = f"{IRIS_HEADER}\n1,1,1,1\n\n1,1e308,1,1\n"
    assert_fails(
        run("predict", iris, "--data", "-", input=data),
        2,
        "<stdin>: inputs out of range: line 4, feature 'sepal_width'",
    )


# --- column names in NFC and NFD ------------------------------------------------------------------

NFC = unicodedata.normalize("NFC", "größe")
NFD = unicodedata.normalize("NFD", "größe")


def test_columns_match_after_unicode_normalisation(tmp_path):
    assert NFC != NFD
    rows = "".join(f"{i % 7},{i % 3},{'ab'[i % 2]}\n" for i in range(20))
    (tmp_path / "nfc.csv").write_text(f"{NFC},breite,art\n{rows}")
    (tmp_path / "nfd.csv").write_text(f"{NFD},breite,art\n{rows}")
    model = tmp_path / "m.msgpack"
    result = run("train", "--data", tmp_path / "nfc.csv", "--epochs", 3, "--out", model, "-q")
    assert result.exit_code == 0, result.output
    assert load_model(model).feature_names == (NFC, "breite")  # stored as written
    expected = run("predict", model, "--data", tmp_path / "nfc.csv")
    result = run("predict", model, "--data", tmp_path / "nfd.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == expected.stdout
    result = run("evaluate", model, "--data", tmp_path / "nfd.csv")
    assert result.exit_code == 0, result.output
    # a target or feature named in the other form is found too
    other = tmp_path / "o.msgpack"
    nfd = tmp_path / "nfd.csv"
    result = run("train", "--data", nfd, "--target", "art", "--features", NFC, "--out", other)
    assert result.exit_code == 0, result.output
    assert load_model(other).feature_names == (NFD,)  # the file's spelling
    result = run("train", "--data", nfd, "--target", NFC, "--features", "breite", "--out", other)
    assert result.exit_code == 0, result.output
    assert load_model(other).target_names == (NFD,)


def test_training_refuses_a_header_with_one_name_in_two_unicode_forms(tmp_path):
    data = f"{NFC},{NFD},y\n1,2,x\n3,4,y\n"
    assert_fails(
        run("train", "--data", "-", "--out", tmp_path / "m.msgpack", input=data),
        2,
        "header columns 1 ('gr\\xf6\\xdfe') and 2 ('gro\\u0308\\xdfe') are one name in two "
        "Unicode forms",
    )


# --- train options --------------------------------------------------------------------------------


def test_an_output_activation_without_a_loss_gets_the_loss_it_calls_for(tmp_path):
    out = tmp_path / "xor.msgpack"
    result = run(
        "train", "--dataset", "xor", "--output-activation", "softmax", "--epochs", 3, "--out", out
    )
    assert result.exit_code == 0, result.output
    assert load_model(out).spec.loss == "softmax_cross_entropy"
    # a loss given explicitly is still checked against the output
    result = run(
        "train", "--dataset", "xor", "--output-activation", "softmax", "--loss",
        "binary_cross_entropy", "--out", out,
    )  # fmt: skip
    assert_fails(result, 2, "binary_cross_entropy")


def test_early_stopping_without_validation_rows_warns(tmp_path):
    out = tmp_path / "m.msgpack"
    result = run("train", "--early-stopping", "--test-split", 0, "--epochs", 3, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning: --early-stopping has no validation rows") == 1
    result = run("train", "--early-stopping", "--val-split", 0.2, "--epochs", 3, "--out", out)
    assert result.exit_code == 0 and result.stderr == "", result.output


def test_patience_without_early_stopping_is_refused(tmp_path):
    out = tmp_path / "m.msgpack"
    assert_fails(
        run("train", "--patience", 5, "--out", out), 2, "--patience needs --early-stopping"
    )
    result = run("train", "--early-stopping", "--patience", 5, "--epochs", 3, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert load_model(out).config["patience"] == 5


def test_a_large_l2_that_diverges_is_named_in_the_hint(tmp_path):
    result = run("train", "--dataset", "moons", "--l2", "1e308", "--out", tmp_path / "m.msgpack")
    assert_fails(result, 1, "training diverged", "--l2 1e+308 is large", "try a smaller --l2")
    assert not (tmp_path / "m.msgpack").exists()


def test_features_picks_columns_and_a_text_feature_says_how_to_drop_it(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,name,b,y\n" + "".join(f"{i},n{i},{i % 3},{i % 2}\n" for i in range(12)))
    out = tmp_path / "m.msgpack"
    assert_fails(
        run("train", "--data", path, "--out", out),
        2,
        "line 2, column 'name': 'n0' is not a number",
        "feature columns must hold numbers",
        "--features",
    )
    result = run("train", "--data", path, "--features", "b,a", "--epochs", 2, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert load_model(out).feature_names == ("b", "a")
    assert_fails(run("train", "--data", path, "--features", "a,y", "--out", out), 2, "'y' is both")
    assert_fails(
        run("train", "--data", path, "--features", "z", "--out", out), 2, "unknown feature"
    )
    assert_fails(run("train", "--features", "a", "--out", out), 2, "--features selects columns")


def test_messages_join_names_and_count_with_plurals(tmp_path):
    out = tmp_path / "m.msgpack"
    result = run("train", "--epochs", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert " for 1 epoch in " in result.stdout
    data = "a,b,c\n1,2,3\n4,5,6\n"
    result = run(
        "train", "--data", "-", "--target", "b,c", "--task", "classify", "--out", out, input=data
    )
    assert_fails(result, 2, "classification takes one target column, got 'b', 'c'")
    assert "[" not in result.stderr


# --- files in other encodings, names with control characters ------------------------------------


def test_utf16_and_latin1_files_say_what_they_look_like(tmp_path):
    out = tmp_path / "m.msgpack"
    text = "a,b,y\n1,2,x\n3,4,y\n"
    for encoding in ("utf-16", "utf-16-be"):
        data = text.encode(encoding)
        if encoding == "utf-16-be":
            data = b"\xfe\xff" + data
        (tmp_path / "u.csv").write_bytes(data)
        result = run("train", "--data", tmp_path / "u.csv", "--out", out)
        assert_fails(result, 2, "looks like UTF-16 text", "save it as UTF-8")
    (tmp_path / "l.csv").write_bytes("a,b,y\n1,2,x\n3,4,caf\xe9\n".encode("latin-1"))
    result = run("train", "--data", tmp_path / "l.csv", "--out", out)
    assert_fails(result, 2, "l.csv: line 3 is not UTF-8 text (byte 0xe9", "save it as UTF-8")


def test_inspect_and_evaluate_escape_control_characters_in_file_names(iris, tmp_path):
    odd = tmp_path / "esc\x1b[31mred.msgpack"
    shutil.copy(iris, odd)
    result = run("inspect", odd)
    assert result.exit_code == 0, result.output
    assert "esc\\x1b[31mred.msgpack'" in result.stdout.splitlines()[0]
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text(f"{IRIS_HEADER},species\n5.1,3.5,1.4,0.2,setosa\n")
    result = run("evaluate", odd, "--data", csv_path)
    assert result.exit_code == 0, result.output
    assert "esc\\x1b[31mred.msgpack' on " in result.stdout.splitlines()[0]
    (tmp_path / "bad\x1b.msgpack").write_bytes(b"not a model")
    assert_fails(run("inspect", tmp_path / "bad\x1b.msgpack"), 2, "bad\\x1b.msgpack'")


def test_inspect_shows_the_first_feature_names_and_counts_the_rest(tmp_path):
    names = [f"f{i}" for i in range(25)]
    rows = "".join(",".join(str((i * j) % 5) for j in range(25)) + f",{i % 2}\n" for i in range(8))
    (tmp_path / "wide.csv").write_text(",".join(names) + ",y\n" + rows)
    out = tmp_path / "wide.msgpack"
    result = run("train", "--data", tmp_path / "wide.csv", "--epochs", 1, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    text = run("inspect", out).stdout
    line = next(line for line in text.splitlines() if line.startswith("Inputs:"))
    assert line.startswith("Inputs: 25 features: f0, f1,") and "f19, ... and 5 more" in line
    assert "f20" not in line
    assert json.loads(run("inspect", out, "--json").stdout)["feature_names"] == names


# --- sweep, help texts, predict --json ------------------------------------------------------------


def test_sweep_with_one_job_needs_no_joblib(tmp_path, monkeypatch):
    from nnfunc import sweep_backends

    def no_joblib(n_jobs):
        raise ImportError("joblib is not installed")

    monkeypatch.setattr(sweep_backends, "joblib_backend", no_joblib)
    out = tmp_path / "s.csv"
    result = run("sweep", "--dataset", "xor", "--epochs", 2, "--trials", 1, "-j", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_help_texts_say_what_the_options_take():
    train = " ".join(run("train", "--help").stdout.split())
    assert "NAME:PARAM" in train and "leaky_relu:0.1" in train and "tanh" in train
    assert "the one that output calls for" in train
    assert ".svg" in train and "--plot FILE" in train
    assert "training loss is watched" in train
    assert "TCP port" in " ".join(run("serve", "--help").stdout.split())
    assert "--plot FILE" in run("sweep", "--help").stdout


def test_predict_json_is_format_json(iris):
    data = f"{IRIS_HEADER}\n5,3,1,0.2\n7,3,6,2\n"
    expected = run("predict", iris, "--data", "-", "--format", "json", input=data)
    result = run("predict", iris, "--data", "-", "--json", input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout == expected.stdout and json.loads(result.stdout)["labels"]
    assert_fails(
        run("predict", iris, "--data", "-", "--json", "--format", "csv", input=data),
        2,
        "give --json or --format csv, not both",
    )


def test_predict_and_evaluate_name_bad_cells_by_their_line(iris):
    # a bad cell on line 6 was reported as "row 3" when blank lines came before it
    data = f"{IRIS_HEADER}\n5,3,1,0.2\n\n7,3,6,2\n\n6,x,4,1.3\n"
    assert_fails(run("predict", iris, "--data", "-", input=data), 2, "line 6, column 'sepal_width'")
    labelled = f"{IRIS_HEADER},species\n5,3,1,0.2,setosa\n\n7,3,6,2,rose\n"
    assert_fails(
        run("evaluate", iris, "--data", "-", input=labelled),
        2,
        "line 4, column 'species': unknown class 'rose'",
    )


def test_a_text_file_given_as_a_model_is_named_as_text(tmp_path):
    csv = tmp_path / "iris.csv"
    csv.write_text(f"{IRIS_HEADER}\n5,3,1,0.2\n")
    assert_fails(run("inspect", csv), 2, "not a readable model file", "the file holds text")
    odd = tmp_path / "no\x1bsuch.msgpack"
    assert_fails(run("inspect", odd), 2, "no\\x1bsuch.msgpack': no such file")


def test_a_model_file_given_as_training_data_is_named_as_such(iris, tmp_path):
    # it was called binary or UTF-16 text, with advice about saving from Excel
    result = run("train", "--data", iris, "--out", tmp_path / "m.msgpack")
    assert_fails(result, 2, "is an nnfunc model file, not a CSV file")


def test_evaluate_tables_align_wide_class_names_on_screen():
    # len() counts a CJK character as one column; a terminal shows it as two
    from nnfunc.cli.evaluate import _table

    lines = _table([["", "猫", "dog"], ["猫", "12", "3"], ["dog", "1", "40"]])

    def shown(line):
        return sum(2 if unicodedata.east_asian_width(c) == "W" else 1 for c in line)

    assert [shown(line) for line in lines] == [shown(lines[0])] * 3  # rows end in one column


def test_sweep_quiet_prints_nothing_but_writes_its_table(tmp_path):
    out = tmp_path / "q.csv"
    result = run("sweep", "--dataset", "xor", "--hidden", "2,3", "--trials", 1, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and out.exists() and out.with_suffix(".json").exists()


def test_warnings_stay_one_line_warnings_under_python_w_error(tmp_path):
    # -W error turns warnings into exceptions; the command still reports them as it always does
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "nnfunc", "train", "--dataset", "xor", "-q"]
        + ["--activation", "binary_step", "--epochs", "3", "--out", str(tmp_path / "m.msgpack")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Warning: binary_step after dense layer 1 has a zero deriv")
    assert "Traceback" not in result.stderr and (tmp_path / "m.msgpack").exists()


def test_a_column_name_holding_a_comma_is_quoted_as_in_the_header(tmp_path):
    data = tmp_path / "t.csv"
    rows = "".join(f"{i},{i + 1},{i % 2}\n" for i in range(12))
    data.write_text('id,"BMI, kg/m2","outcome, 1yr"\n' + rows)
    out = tmp_path / "m.msgpack"
    args = ["--target", '"outcome, 1yr"', "--features", '"BMI, kg/m2"', "--epochs", 2, "-q"]
    result = run("train", "--data", data, *args, "--out", out)
    assert result.exit_code == 0, result.output
    model = load_model(out)
    assert model.feature_names == ("BMI, kg/m2",) and model.target_names == ("outcome, 1yr",)


def test_columns_left_out_with_features_may_be_unnamed_or_repeated(tmp_path):
    # a pandas export's unnamed index column, or a repeated note, need not stop training on others
    data = tmp_path / "t.csv"
    data.write_text(
        ",a,b,note,note,y\n" + "".join(f"{i},{i},{i + 1},x,x,{i % 2}\n" for i in range(8))
    )
    out = tmp_path / "m.msgpack"
    result = run("train", "--data", data, "--target", "y", "--features", "a,b", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert load_model(out).feature_names == ("a", "b")
    assert_fails(run("train", "--data", data, "--target", "y"), 2, "index=False")
    repeated = run("train", "--data", data, "--target", "y", "--features", "a,note")
    assert_fails(repeated, 2, "duplicate column name: 'note'")


def test_a_text_label_that_marks_a_missing_value_is_trained_with_a_warning(tmp_path):
    # R and pandas write a missing label as "NA": it becomes a class, so train says so, by line
    data = tmp_path / "t.csv"
    labels = ["a", "b", "NA", "a", "b", "NA", "a", "b", "null", "a"]
    data.write_text("x,y\n" + "".join(f"{i},{y}\n" for i, y in enumerate(labels)))
    out = tmp_path / "m.msgpack"
    result = run("train", "--data", data, "--target", "y", "--epochs", 2, "-q", "--out", out)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "pandas reads" in line]
    assert warned == [
        f"Warning: {data}: target column 'y' holds 'NA' (line 4 and 1 more row), which pandas "
        "reads as a missing value; it is trained as a class of its own: drop those rows if it "
        "marks a missing label",
        f"Warning: {data}: target column 'y' holds 'null' (line 10), which pandas reads as a "
        "missing value; it is trained as a class of its own: drop those rows if it marks a "
        "missing label",
    ]
    assert load_model(out).labels.classes == ("NA", "a", "b", "null")
    clean = data.with_name("clean.csv")
    clean.write_text("x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(10)))
    result = run("train", "--data", clean, "--target", "y", "--epochs", 2, "-q", "--out", out)
    assert result.exit_code == 0 and "pandas" not in result.stderr


def test_a_data_warning_is_shown_even_when_a_later_check_fails(tmp_path):
    data = tmp_path / "t.csv"
    data.write_text("x,y\n" + "".join(f"{i},{['a', 'b', 'NA'][i % 3]}\n" for i in range(9)))
    out = tmp_path / "m.msgpack"
    args = ["--data", data, "--target", "y", "--layers", "100000,100000", "--out", out]
    result = run("train", *args)
    assert result.exit_code == 2 and not out.exists()
    warning, error = result.stderr.splitlines()
    assert warning.startswith(f"Warning: {data}: target column 'y' holds 'NA'")
    assert error.startswith("Error: ")
