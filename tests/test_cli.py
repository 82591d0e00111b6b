"""The `nnfunc` command line through click's CliRunner, plus real subprocess calls."""

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nnfunc.cli import main
from nnfunc.datasets import dataset_names, load_dataset
from nnfunc.model import predict as model_predict
from nnfunc.model import predict_proba, predict_values
from nnfunc.modelfile import load_model, loads_model

IRIS_CSV = Path(__file__).parent.parent / "nnfunc" / "data" / "iris.csv"


def run(*args, input=None, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env)


def assert_fails(result, code, message):
    """Exit `code`, exactly one `Error: ...` line on stderr mentioning `message`, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
    assert result.stdout == ""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A classifier and a regressor made by `nnfunc train`, and CSV inputs."""
    folder = tmp_path_factory.mktemp("cli")
    iris = folder / "iris.msgpack"
    assert run("train", "--epochs", 60, "--out", iris, "--quiet").exit_code == 0
    arithmetic = folder / "arithmetic.msgpack"
    result = run("train", "--dataset", "arithmetic", "--epochs", 3, "--out", arithmetic, "-q")
    assert result.exit_code == 0
    features = folder / "features.csv"
    rows = list(csv.reader(IRIS_CSV.read_text().splitlines()))
    features.write_text("\n".join(",".join(r[:4][::-1]) for r in rows[:11]) + "\n")
    return {"iris": iris, "arithmetic": arithmetic, "features": features, "folder": folder}


# --- train ----------------------------------------------------------------------------------------


def test_train_with_no_arguments_writes_models_iris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("train")
    assert result.exit_code == 0, result.output
    assert "test       accuracy 0.9" in result.stdout
    assert "wrote models/iris.msgpack" in result.stdout
    assert result.stderr == ""  # no progress bar off a terminal
    model = load_model(tmp_path / "models" / "iris.msgpack")
    assert model.config["epochs"] == 300 and model.config["hidden"] == [6]
    with pytest.raises(TypeError, match="read-only"):
        model.config["hidden"].append(7)  # the record's data is as immutable as its weights
    assert "created" not in model.provenance  # no clock reading unless --timestamp


def test_train_json_summary_matches_the_file(tmp_path):
    out = tmp_path / "xor.msgpack"
    env = {"SOURCE_DATE_EPOCH": "0"}
    result = run("train", "--dataset", "xor", "--out", out, "--json", "--timestamp", env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    blob = out.read_bytes()
    assert summary["bytes"] == len(blob) and summary["model"] == str(out)
    assert summary["sha256"] == hashlib.sha256(blob).hexdigest()
    model = loads_model(blob)
    assert summary["metrics"] == model.metrics and summary["sizes"] == [2, 8, 1]
    assert model.provenance["created"] == "1970-01-01T00:00:00Z"
    again = tmp_path / "again.msgpack"
    args = ["--dataset", "xor", "--out", again, "-q", "--timestamp"]
    assert run("train", *args, env=env).exit_code == 0
    assert again.read_bytes() == blob


def test_the_same_seed_gives_the_same_file_bytes_by_default(tmp_path):
    first, second, stamped = (tmp_path / f"{n}.msgpack" for n in ("a", "b", "c"))
    assert run("train", "--dataset", "xor", "--out", first, "-q").exit_code == 0
    # SOURCE_DATE_EPOCH alone asks for nothing: only --timestamp records a time
    result = run("train", "--dataset", "xor", "--out", second, "-q", env={"SOURCE_DATE_EPOCH": "5"})
    assert result.exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    assert "created" not in load_model(first).provenance
    assert run("train", "--dataset", "xor", "--out", stamped, "-q", "--timestamp").exit_code == 0
    assert load_model(stamped).provenance["created"].endswith("Z")
    result = run("train", "--timestamp", "--out", stamped, env={"SOURCE_DATE_EPOCH": "soon"})
    assert_fails(result, 2, "SOURCE_DATE_EPOCH='soon' is not a Unix time")


def test_every_training_option_reaches_the_model(tmp_path):
    out = tmp_path / "m.msgpack"
    args = [
        "--data", IRIS_CSV, "--target", "species", "--task", "classify", "--layers", "8,5",
        "--activation", "leaky_relu:0.1", "--output-activation", "softmax",
        "--loss", "softmax_cross_entropy", "--init", "glorot_normal", "--optimizer", "nesterov",
        "--lr", "0.05", "--schedule", "cosine", "--batch-size", "8", "--epochs", "40",
        "--l2", "0.0001", "--clip-norm", "5", "--seed", "3", "--val-split", "0.2",
        "--test-split", "0.25", "--early-stopping", "--patience", "50", "--dtype", "float32",
        "--out", out,
    ]  # fmt: skip
    result = run("train", *args)
    assert result.exit_code == 0, result.output
    model = load_model(out)
    expected = {
        "hidden": [8, 5], "activation": "leaky_relu:0.1", "output_activation": "softmax",
        "loss": "softmax_cross_entropy", "init": "glorot_normal", "optimizer": "nesterov",
        "lr": 0.05, "schedule": "cosine", "batch_size": 8, "epochs": 40, "l2": 0.0001,
        "clip_norm": 5.0, "seed": 3, "val_split": 0.2, "test_split": 0.25,
        "early_stopping": True, "patience": 50, "dtype": "float32",
    }  # fmt: skip
    assert {k: model.config[k] for k in expected} == expected
    assert model.spec.sizes == (4, 8, 5, 3) and model.params.dtype == np.float32
    assert set(model.metrics) == {"train", "validation", "test"}
    assert len(model.history.val_loss) == 40
    assert "validation" in result.stdout and model.provenance["dataset"] == "iris"


def test_train_regression_on_a_csv_with_several_targets(tmp_path):
    data = load_dataset("sum", n_samples=200)
    path = tmp_path / "adds.csv"
    lines = ["a,b,total,double"]
    lines += [f"{a!r},{b!r},{a + b!r},{2 * (a + b)!r}" for a, b in data.X.tolist()]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "adds.msgpack"
    result = run("train", "--data", path, "--target", "total,double", "--out", out, "--epochs", 30)
    assert result.exit_code == 0, result.output
    assert "R2 " in result.stdout
    model = load_model(out)
    assert model.task == "regress" and model.target_names == ("total", "double")


def test_plot_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "moons.msgpack", tmp_path / "moons.png"
    args = ["--dataset", "moons", "--epochs", 2, "--val-split", 0.2, "--out", out, "--plot", png]
    result = run("train", *args)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {png}" in result.stdout
    width = int.from_bytes(png.read_bytes()[16:20], "big")
    assert width == 1500  # three panels: loss, accuracy, decision regions


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_draws_the_format_its_name_asks_for(tmp_path, suffix, magic):
    # every --plot file used to be a PNG, whatever its name said
    pytest.importorskip("matplotlib")
    image = tmp_path / f"xor{suffix}"
    result = run("train", "--dataset", "xor", "--out", tmp_path / "x.msgpack", "--plot", image)
    assert result.exit_code == 0, result.output
    assert image.read_bytes().startswith(magic)
    refused = run("train", "--dataset", "xor", "--out", tmp_path / "x.msgpack", "--plot", "x.foo")
    assert_fails(refused, 2, "matplotlib cannot draw .foo files")


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch):
    import nnfunc.cli.train as train_module

    monkeypatch.setattr(train_module, "is_terminal", lambda stream=None: True)
    updates = []
    real = train_module.Progress.__call__
    monkeypatch.setattr(
        train_module.Progress, "__call__", lambda self, r: updates.append(r.epoch) or real(self, r)
    )
    result = run("train", "--dataset", "iris", "--epochs", 5, "--out", tmp_path / "x.msgpack")
    assert result.exit_code == 0 and updates == [1, 2, 3, 4, 5]
    monkeypatch.setattr(train_module, "is_terminal", lambda stream=None: False)
    result = run("train", "--dataset", "iris", "--epochs", 5, "--out", tmp_path / "x.msgpack")
    assert result.exit_code == 0 and updates == [1, 2, 3, 4, 5] and result.stderr == ""


def test_more_parameters_than_rows_is_one_warning_line(tmp_path):
    result = run(
        "train", "--dataset", "iris", "--layers", 64, "--out", tmp_path / "x.msgpack", "-q"
    )
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "Warning: the network has 515 parameters for 120 training rows: it can memorise them "
        "(fewer hidden units, l2 or more data generalise better)"
    ]


def test_a_truth_table_with_no_held_out_rows_is_not_warned_for_being_memorised(tmp_path):
    # xor: 17 parameters for 4 rows, but fitting all four rows is the point
    result = run("train", "--dataset", "xor", "--out", tmp_path / "x.msgpack", "-q")
    assert result.exit_code == 0 and result.stderr == ""


# --- bad input: exit 2 (1 when diverged), one line, and the existing model file left intact ------


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,x\n3,oops,y\n")
    (tmp_path / "nan.csv").write_text("a,b,y\n1,2,x\n3,nan,y\n")
    (tmp_path / "one.csv").write_text("a,b,y\n1,2,x\n3,4,x\n")
    (tmp_path / "good.csv").write_text("a,b,y\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "old.msgpack").write_bytes(b"previous model")
    (tmp_path / "huge_feature.csv").write_text("a,b,y\n9e200,1,x\n-9e200,2,y\n1,3,x\n2,4,y\n")
    (tmp_path / "huge_target.csv").write_text("a,t\n1,2e300\n2,-2e300\n3,0.5\n4,1.5\n5,2\n")
    (tmp_path / "two.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    (tmp_path / "semicolons.csv").write_text("a;b;y\n1;2;x\n3;4;y\n")
    (tmp_path / "underscore.csv").write_text("a,b,y\n5_1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    (tmp_path / "arabic.csv").write_text("a,b,y\n1,2,x\n\u0665,4,y\n5,6,x\n7,8,y\n")
    return tmp_path


TRAIN_ERRORS = [
    (["--data", "missing.csv"], "missing.csv: no such file"),
    (["--data", "bad.csv"], "bad.csv: line 3, column 'b': 'oops' is not a number"),
    (["--data", "nan.csv"], "nan.csv: line 3, column 'b': 'nan' is not a finite number"),
    (["--data", "one.csv"], "target column 'y' has a single class 'x'"),
    (["--data", "good.csv", "--target", "zz"], "unknown target column 'zz'; available columns"),
    (["--lr", "-0.1"], "Invalid value for '--lr': -0.1 is not in the range x>0"),
    (["--lr", "nan"], "'nan' is not a finite number"),
    (["--epochs", "0"], "Invalid value for '--epochs'"),
    (["--layers", "8,x"], "'8,x' is not a comma-separated list of integers"),
    (["--activation", "softmax"], "softmax can only be the output activation"),
    (["--activation", "swoosh"], "unknown activation 'swoosh'"),
    (["--optimizer", "lbfgs"], "Invalid value for '--optimizer'"),
    (["--val-split", "1.5"], "Invalid value for '--val-split'"),
    (["--data", "good.csv", "--dataset", "xor"], "give --data or --dataset, not both"),
    (["--dataset", "iris", "--target", "species"], "--target selects a column of a --data CSV"),
    (["--dataset", "iris", "--task", "regress"], "cannot regress on non-numeric target labels"),
    (["--dataset", "sum", "--loss", "binary_cross_entropy"], "regression uses the mse loss"),
    (["--loss", "mse"], "the mse loss needs numeric targets to regress on, but 'species' holds"),
    (["--loss", "binary_cross_entropy"], "binary_cross_entropy takes exactly 2 classes"),
    (["--layers", "100000,100000"], "network has 10,000,900,003 parameters"),
    (["--layers", "6000,6000", "--epochs", "1"], "more than a model file holds (256 MiB)"),
    (["--data", "huge_feature.csv"], "feature column 'a' holds values up to 9e+200, too large"),
    (["--data", "huge_target.csv"], "target column 't' holds values up to 2e+300, too large"),
    (["--data", "two.csv", "--val-split", "0.5"], "2 rows are too few for test_split 0.2 and"),
    (["--data", "two.csv", "--val-split", "0.5"], "lower test_split or val_split (nnfunc train's"),
    (["--data", "semicolons.csv"], "the file looks semicolon-separated"),
    (["--data", "underscore.csv"], "line 2, column 'a': '5_1' is not a number"),
    (["--data", "arabic.csv"], "line 3, column 'a': '\u0665' is not a number"),
    (["--data", "/dev/zero"], "/dev/zero: is a device or special file, not a CSV file"),
    (["--out", ""], "Invalid value for '--out': empty path"),
]


@pytest.mark.parametrize(("args", "message"), TRAIN_ERRORS)
def test_train_refuses_bad_input(workspace, monkeypatch, args, message):
    monkeypatch.chdir(workspace)
    before = sorted(os.listdir(workspace))
    result = run("train", "--out", "old.msgpack", *args)
    assert_fails(result, 2, message)
    assert (workspace / "old.msgpack").read_bytes() == b"previous model"
    assert sorted(os.listdir(workspace)) == before


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("no_such_folder/m.msgpack", "folder no_such_folder does not exist"),
        ("a_dir", "a_dir: is a directory"),
        ("new_dir/", "new_dir/: names a folder; give a file name"),
        ("good.csv/m.msgpack", "folder good.csv does not exist"),
    ],
)
def test_train_refuses_unusable_output_paths(workspace, monkeypatch, out, message):
    monkeypatch.chdir(workspace)
    before = sorted(os.listdir(workspace))
    assert_fails(run("train", "--dataset", "xor", "--out", out), 2, message)
    assert_fails(run("train", "--dataset", "xor", "--plot", out), 2, message)
    assert sorted(os.listdir(workspace)) == before


def test_train_never_writes_over_its_input(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    (workspace / "link.csv").symlink_to(workspace / "good.csv")
    os.link(workspace / "good.csv", workspace / "hard.csv")
    before = (workspace / "good.csv").read_bytes()
    for out in ("good.csv", "./good.csv", str(workspace / "good.csv"), "link.csv", "hard.csv"):
        for option in ("--out", "--plot"):
            result = run("train", "--data", "good.csv", option, out)
            assert_fails(result, 2, f"{out}: is also the --data file; give another path")
    assert_fails(
        run("train", "--dataset", "xor", "--out", "m.msgpack", "--plot", "./m.msgpack"),
        2,
        "./m.msgpack: is also the --out file",
    )
    assert (workspace / "good.csv").read_bytes() == before
    assert (workspace / "link.csv").is_symlink() and not (workspace / "m.msgpack").exists()


def test_train_refuses_to_replace_a_fifo_or_device(workspace):
    fifo = workspace / "pipe"
    os.mkfifo(fifo)
    for option in ("--out", "--plot"):
        result = run("train", "--dataset", "xor", option, fifo)
        assert_fails(result, 2, f"{fifo}: exists and is not a regular file")
    assert fifo.is_fifo()


def test_train_checks_the_network_size_against_memory_before_training(workspace, monkeypatch):
    monkeypatch.setattr("nnfunc.capacity.memory_limit", lambda: 1_000_000)
    result = run("train", "--layers", "3000", "--out", workspace / "old.msgpack")
    assert_fails(result, 2, "training a 4-3000-3 network on 120 rows needs about")
    assert "of memory, more than the 1.0 MB available" in result.stderr
    assert (workspace / "old.msgpack").read_bytes() == b"previous model"


def test_train_refuses_names_a_model_file_cannot_store_before_training(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    monkeypatch.setattr("nnfunc.pipeline.fit", lambda *a, **k: pytest.fail("training started"))
    rows = "1,x\n2,z\n3,x\n4,z\n"
    (workspace / "tab.csv").write_text('"a\tb",y\n' + rows)
    (workspace / "esc.csv").write_text("a,y\n1,dog\n2,c\x1bat\n3,dog\n4,c\x1bat\n")
    (workspace / "long.csv").write_text("a," + "y" * 1025 + "\n" + rows)
    cases = {
        "tab.csv": "tab.csv: header column 1 'a\\tb' holds the control character U+0009",
        "esc.csv": "esc.csv: line 3, column 'y': class label 'c\\x1bat' holds the control",
        "long.csv": "long.csv: header column 2 'yyyyy",
    }
    for name, message in cases.items():
        result = run("train", "--data", name, "--out", "old.msgpack")
        assert_fails(result, 2, message)
        assert result.stderr.rstrip("\n").isprintable()
    assert (workspace / "old.msgpack").read_bytes() == b"previous model"


def test_a_file_name_with_control_characters_gives_a_printable_dataset_name(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    (workspace / "f\x1bx.csv").write_text("a,b,y\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    result = run("train", "--data", "f\x1bx.csv", "--epochs", 2, "--test-split", 0)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("f_x: trained") and "wrote models/f_x.msgpack" in result.stdout
    assert load_model(workspace / "models" / "f_x.msgpack").provenance["dataset"] == "f_x"
    (workspace / "h\x1b.csv").write_text("a,b,y\n1,oops,x\n")
    result = run("train", "--data", "h\x1b.csv")
    assert_fails(result, 2, "'h\\x1b.csv': line 2, column 'b': 'oops' is not a number")
    result = run("predict", "models/f_x.msgpack", "--data", "h\x1b.csv")
    assert_fails(result, 2, "'h\\x1b.csv': line 2, column 'b': 'oops' is not a number")


def test_csv_input_is_bounded(files, workspace, monkeypatch):
    monkeypatch.setattr("nnfunc.csvdata.MAX_CSV_BYTES", 100)
    text = "b,a\n" + "1,2\n" * 40
    (workspace / "long.csv").write_text(text)
    message = "more than 100 bytes, the most nnfunc reads as CSV data"
    assert_fails(run("predict", files["arithmetic"], "--data", "-", input=text), 2, message)
    assert_fails(run("evaluate", files["arithmetic"], "--data", workspace / "long.csv"), 2, message)
    assert_fails(run("train", "--data", workspace / "long.csv"), 2, message)
    assert_fails(run("predict", files["arithmetic"], "--data", "/dev/zero"), 2, "is a device")


def test_train_refuses_an_unwritable_folder(workspace):
    locked = workspace / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permission bits: use a real read-only place
            locked = Path("/proc")
            if not locked.is_dir():
                pytest.skip("no unwritable folder available")
        result = run("train", "--dataset", "xor", "--out", locked / "m.msgpack")
        assert_fails(result, 2, f"cannot write in folder {locked}")
    finally:
        (workspace / "locked").chmod(0o700)
    assert not (locked / "m.msgpack").exists()


def test_a_diverged_run_exits_1_and_writes_nothing(workspace):
    before = sorted(os.listdir(workspace))
    out = workspace / "old.msgpack"
    args = ["--dataset", "sum", "--optimizer", "sgd", "--lr", "100", "--epochs", "5", "--out", out]
    result = run("train", *args)
    assert_fails(result, 1, "training diverged at epoch 1")
    assert "no model file was written" in result.stderr
    assert out.read_bytes() == b"previous model"
    assert sorted(os.listdir(workspace)) == before


@pytest.mark.parametrize("command", ["evaluate", "predict", "inspect"])
def test_corrupt_or_missing_model_files_are_refused(workspace, files, command):
    blob = files["iris"].read_bytes()
    corrupt = bytearray(blob)
    corrupt[len(blob) // 2] ^= 1  # inside the payload
    (workspace / "corrupt.msgpack").write_bytes(bytes(corrupt))
    (workspace / "text.msgpack").write_text("not a model")
    extra = [] if command == "inspect" else ["--data", IRIS_CSV]
    cases = {
        "corrupt.msgpack": "checksum mismatch",
        "text.msgpack": "not a readable model file",
        "gone.msgpack": "gone.msgpack: no such file",
    }
    for name, message in cases.items():
        assert_fails(run(command, workspace / name, *extra), 2, message)


# --- evaluate, predict, inspect, datasets ---------------------------------------------------------


def test_evaluate_prints_metrics_confusion_matrix_and_per_class_scores(files):
    result = run("evaluate", files["iris"], "--data", IRIS_CSV)
    assert result.exit_code == 0, result.output
    for text in ("accuracy 0.9", "confusion matrix", "setosa", "precision", "macro avg"):
        assert text in result.stdout
    report = json.loads(run("evaluate", files["iris"], "--data", IRIS_CSV, "--json").stdout)
    metrics = report["metrics"]
    assert metrics["n_samples"] == 150 and np.sum(metrics["confusion_matrix"]) == 150
    assert set(metrics["per_class"]) == {"setosa", "versicolor", "virginica"}


def test_evaluate_a_regressor(files, tmp_path):
    data = load_dataset("arithmetic", n_samples=50, seed=9)
    path = tmp_path / "a.csv"
    rows = ["b,a,sum,difference,absolute_difference"]
    rows += [f"{b!r},{a!r},{a + b!r},{a - b!r},{abs(a - b)!r}" for a, b in data.X.tolist()]
    path.write_text("\n".join(rows) + "\n")
    result = run("evaluate", files["arithmetic"], "--data", path)
    assert result.exit_code == 0, result.output
    assert "absolute_difference" in result.stdout and "mean" in result.stdout


def test_evaluate_refuses_bad_data(files, workspace):
    (workspace / "rose.csv").write_text(IRIS_CSV.read_text().replace("virginica", "rose", 1))
    assert_fails(
        run("evaluate", files["iris"], "--data", workspace / "rose.csv"), 2, "unknown class 'rose'"
    )
    assert_fails(
        run("evaluate", files["iris"], "--data", workspace / "good.csv"),
        2,
        "missing feature column 'sepal_length'",
    )


def test_predict_csv_and_json_match_the_library(files):
    model = load_model(files["iris"])
    X = load_dataset("iris").X[:10]
    result = run("predict", files["iris"], "--data", files["features"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["label", "p_setosa", "p_versicolor", "p_virginica"]
    assert [r[0] for r in rows[1:]] == model_predict(model, X).tolist()
    probabilities = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert probabilities.tobytes() == predict_proba(model, X).tobytes()  # exact round trip
    as_json = json.loads(
        run("predict", files["iris"], "--data", files["features"], "--format", "json").stdout
    )
    assert as_json["classes"] == ["setosa", "versicolor", "virginica"]
    assert as_json["labels"] == [r[0] for r in rows[1:]]


def test_predict_reads_stdin_and_answers_regressors_in_original_units(files):
    model = load_model(files["arithmetic"])
    X = np.array([[10.0, 20.0], [99.5, 0.25]])
    result = run("predict", files["arithmetic"], "--data", "-", input="b,a\n20,10\n0.25,99.5\n")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["sum", "difference", "absolute_difference"]
    values = np.array([[float(v) for v in r] for r in rows[1:]])
    assert values.tobytes() == predict_values(model, X).tobytes()


def test_predict_keeps_input_columns_ahead_of_the_predictions(files):
    model = load_model(files["arithmetic"])
    text = 'id,note,b,a\n7,"Smith, J",20,10\n8,\u00e9,0.25,99.5\n'
    result = run("predict", files["arithmetic"], "--data", "-", "--keep", "id,note", input=text)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["id", "note", "sum", "difference", "absolute_difference"]
    assert [r[:2] for r in rows[1:]] == [["7", "Smith, J"], ["8", "\u00e9"]]
    values = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    expected = predict_values(model, np.array([[10.0, 20.0], [99.5, 0.25]]))
    assert values.tobytes() == expected.tobytes()  # the same answers as without --keep
    as_json = json.loads(
        run(
            "predict", files["iris"], "--data", files["features"], "--json", "--keep", "sepal_width"
        ).stdout
    )
    widths = [r.split(",")[2] for r in files["features"].read_text().splitlines()[1:]]
    assert as_json["kept"] == {"sepal_width": widths} and len(as_json["labels"]) == len(widths)
    # a feature may be kept; a column the file lacks, a name twice or an output name may not
    for keep, message in (
        ("id,nope", "<stdin>: missing kept column 'nope'; the file has: 'id', 'note', 'b', 'a'"),
        ("id,id", "--keep names the column 'id' twice"),
        ("sum", "--keep 'sum': the output already has a column 'sum' (the predictions)"),
        ("", "--keep '': give column names separated by commas"),
    ):
        result = run("predict", files["arithmetic"], "--data", "-", "--keep", keep, input=text)
        assert result.exit_code == 2 and message in result.stderr, result.output
        assert result.stdout == "" and "Traceback" not in result.output


def test_predict_keep_reads_plain_files_fast_and_matches_any_spelling(tmp_path, monkeypatch):
    from nnfunc import model_table

    cafe, cafe_nfd = "caf\u00e9", "cafe\u0301"
    data = tmp_path / "t.csv"
    data.write_text(f"{cafe},b,y\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20)))
    model_path = tmp_path / "m.msgpack"
    assert run("train", "--data", data, "--target", "y", "-q", "--out", model_path).exit_code == 0
    plain = f"id,{cafe_nfd},b\n7, 1,2\n8,3,4\n"  # the file spells the feature in NFD
    expected = run("predict", model_path, "--data", "-", input=plain)
    assert expected.exit_code == 0, expected.output
    for keep in ("id", f"id,{cafe_nfd}", f"id,{cafe}"):  # a kept feature under either spelling
        result = run("predict", model_path, "--data", "-", "--keep", keep, input=plain)
        assert result.exit_code == 0, (keep, result.output)
        rows = list(csv.reader(io.StringIO(result.stdout)))
        kept = len(keep.split(","))
        assert rows[0][:kept] == keep.split(",") and [r[:kept] for r in rows[1:]] == (
            [["7"], ["8"]] if kept == 1 else [["7", "1"], ["8", "3"]]
        )
        assert [r[kept:] for r in rows] == list(csv.reader(io.StringIO(expected.stdout)))
    # a plain file never reaches the careful reader, which holds every cell as a string
    monkeypatch.setattr(model_table, "numbered_table", None)
    model = load_model(model_path)
    X, _, kept = model_table.table_inputs_and_columns(model, plain.encode(), "t", ["id"])
    assert kept == [["7", "8"]] and X.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_predict_refuses_bad_cells(files):
    cases = {
        "b,a\n1,x\n": "<stdin>: line 2, column 'a': 'x' is not a number",
        "b,a\n1,2\n1,NaN\n": "<stdin>: line 3, column 'a': 'NaN' is not a finite number",
        "b\n1\n": "<stdin>: missing feature column 'a'",
        "": "<stdin>: file is empty",
        # Python's float() reads these as 51 and 5: a CSV cell must be a plain ASCII number
        "b,a\n1,2\n5_1,2\n": "<stdin>: line 3, column 'b': '5_1' is not a number",
        "b,a\n1,\u0665\n": "<stdin>: line 2, column 'a': '\u0665' is not a number",
        "b;a\n1;2\n": "the file looks semicolon-separated; nnfunc reads comma-separated CSV",
        "b\ta\n1\t2\n": "the file looks tab-separated",
    }
    for text, message in cases.items():
        assert_fails(run("predict", files["arithmetic"], "--data", "-", input=text), 2, message)
    assert_fails(run("predict", files["arithmetic"], "--data", "nope.csv"), 2, "nope.csv")


def test_rows_a_model_cannot_answer_are_numbered_as_csv_rows_are(files):
    header = "sepal_length,sepal_width,petal_length,petal_width"
    # the CLI names a row by its line in the file, as for a bad cell; the library counts from 0
    assert_fails(
        run("predict", files["iris"], "--data", "-", input=f"{header}\n1,2,nan,3\n"),
        2,
        "<stdin>: line 2, column 'petal_length': 'nan' is not a finite number",
    )
    for data in (f"{header}\n1e308,1,1,1\n", f"{header}\n1,1,1,1\n1,1e308,1,1\n"):
        row = data.count("\n") - 1
        result = run("predict", files["iris"], "--data", "-", input=data)
        assert_fails(result, 2, "inputs out of range")
        assert f"line {row + 1}," in result.stderr
        labelled = data.replace("\n", ",setosa\n").replace(",setosa", ",species", 1)
        result = run("evaluate", files["iris"], "--data", "-", input=labelled)
        assert_fails(result, 2, "inputs out of range")
        assert f"line {row + 1}," in result.stderr
    result = run("predict", files["iris"], "--data", "-", input=f"{header}\n1,1,1,1\n1,1e308,1,1\n")
    assert_fails(result, 2, "<stdin>: inputs out of range: line 3, feature 'sepal_width' = 1e+308")


def test_inspect_summarises_layers_parameters_and_provenance(files):
    result = run("inspect", files["iris"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "dense_1  (None, 6)     relu            30",
        "dense_2  (None, 3)     softmax",
        "Total params: 51",
    ):
        assert text in out
    for text in ("features standardised", "adam (lr 0.01", "test       accuracy", "dataset iris"):
        assert text in out
    data = json.loads(run("inspect", files["iris"], "--json").stdout)
    assert data["n_params"] == 51 and [r["params"] for r in data["layers"]] == [30, 21]
    assert data["format"] == "nnfunc-model" and data["version"] == 1
    assert len(data["preprocessing"]["feature_scaler"]["mean"]) == 4
    assert data["history"]["epochs"] == 60


def test_datasets_lists_every_bundled_dataset():
    result = run("datasets")
    assert result.exit_code == 0
    for name in dataset_names():
        assert any(line.startswith(name + " ") for line in result.stdout.splitlines())
    rows = json.loads(run("datasets", "--json").stdout)
    shapes = {r["name"]: (r["n_samples"], r["n_features"]) for r in rows}
    assert shapes["iris"] == (150, 4) and shapes["moons"] == (5000, 2)


# --- the installed entry point, as a user runs it ------------------------------------------------


def _entry_point():
    script = Path(sys.executable).parent / "nnfunc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "nnfunc"]


def test_real_subprocesses(files, tmp_path):
    out = tmp_path / "xor.msgpack"
    done = subprocess.run(
        [
            *_entry_point(),
            "train",
            "--dataset",
            "xor",
            "--epochs",
            "20",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == str(out) and load_model(out).task == "classify"
    done = subprocess.run(
        [sys.executable, "-m", "nnfunc", "inspect", str(tmp_path / "missing.msgpack")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'missing.msgpack'}: no such file"
    ]


def test_serve_without_gunicorn_says_so_before_starting(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gunicorn" else real(name, *a)
    )
    result = run("serve", "--models", tmp_path, "--port", 1)
    assert_fails(
        result, 2, "needs the serve extra: pip install '.[serve]' in nnfunc's source folder"
    )


def test_a_sigmoid_output_picks_binary_cross_entropy_as_the_help_says(tmp_path):
    # "--loss: matched to the output", but a sigmoid classifier used to get softmax's loss
    out = tmp_path / "m.msgpack"
    result = run("train", "--dataset", "moons", "--output-activation", "sigmoid", "--out", out)
    assert result.exit_code == 0, result.output
    spec = load_model(out).spec
    assert (spec.loss, spec.n_outputs) == ("binary_cross_entropy", 1)
    result = run("train", "--dataset", "iris", "--output-activation", "sigmoid", "--out", out)
    assert_fails(result, 2, "a sigmoid output takes exactly 2 classes, but 'species' has 3")


def test_a_history_longer_than_a_model_file_reads_is_refused_before_training(tmp_path):
    out = tmp_path / "m.msgpack"
    result = run("train", "--dataset", "iris", "--epochs", 600_000, "--out", out)
    assert_fails(result, 2, "a model file holds at most 2,097,152 values besides the weights")
    assert not out.exists()


def test_train_reads_a_csv_from_stdin_as_predict_does(tmp_path):
    iris = IRIS_CSV.read_text()
    out = tmp_path / "m.msgpack"
    result = run("train", "--data", "-", "--target", "species", "--out", out, "-q", input=iris)
    assert result.exit_code == 0, result.output
    model = load_model(out)
    assert model.provenance["dataset"] == "stdin" and model.classes == ("setosa", "versicolor",
                                                                         "virginica")  # fmt: skip
    assert_fails(run("train", "--data", "-", "--out", out, input=""), 2, "<stdin>: file is empty")


def test_serve_takes_its_limits_from_the_environment_as_documented(tmp_path, monkeypatch):
    import serve.server

    seen = {}
    monkeypatch.setattr(serve.server, "run_dev", lambda config, **kw: seen.update(config=config))
    env = {"NNFUNC_SERVE_MAX_ROWS": "2", "NNFUNC_SERVE_MAX_BODY_BYTES": "5000"}
    result = run("serve", "--dev", "--models", tmp_path, "--port", 18999, env=env)
    assert result.exit_code == 0, result.output
    assert (seen["config"].max_rows, seen["config"].max_body_bytes) == (2, 5000)
    result = run("serve", "--dev", "--models", tmp_path, "--port", 18999, "--max-rows", 7, env=env)
    assert seen["config"].max_rows == 7  # the option wins over the variable
    bad = run("serve", "--dev", "--models", tmp_path, env={"NNFUNC_SERVE_MAX_ROWS": "abc"})
    assert bad.exit_code == 2 and "NNFUNC_SERVE_MAX_ROWS" in bad.output
