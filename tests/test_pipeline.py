"""The training pipeline: seeded runs, recipes, data loading and new data in a model's terms."""

import math

import attrs
import numpy as np
import pytest

from nnfunc.csvdata import DataError
from nnfunc.datasets import load_dataset
from nnfunc.model import predict
from nnfunc.modelfile import dumps_model, loads_model
from nnfunc.pipeline import (
    CSV_DEFAULTS,
    RECIPES,
    TrainConfig,
    check_training,
    default_config,
    evaluate,
    infer_task,
    load_training_data,
    model_inputs,
    model_targets,
    read_table,
    train_model,
)
from nnfunc.training import TrainingDiverged


@pytest.fixture(scope="module")
def xor():
    return train_model(load_dataset("xor"), RECIPES["xor"])


@pytest.fixture(scope="module")
def iris():
    return train_model(load_dataset("iris"), attrs.evolve(RECIPES["iris"], epochs=60))


def test_recipes_learn_their_datasets(xor, iris):
    assert xor.metrics["train"]["accuracy"] == 1.0 and "test" not in xor.metrics
    np.testing.assert_array_equal(predict(xor, [[0, 0], [0, 1], [1, 0], [1, 1]]), [0, 1, 1, 0])
    assert iris.metrics["test"]["accuracy"] >= 0.9
    assert iris.metrics["train"]["n_samples"] == 120 and iris.metrics["test"]["n_samples"] == 30


def test_same_seed_same_model_different_seed_different_model():
    data = load_dataset("iris")
    config = attrs.evolve(RECIPES["iris"], epochs=5)
    assert dumps_model(train_model(data, config)) == dumps_model(train_model(data, config))
    other = train_model(data, attrs.evolve(config, seed=1))
    assert dumps_model(other) != dumps_model(train_model(data, config))


def test_config_and_provenance_are_recorded(iris):
    assert TrainConfig.from_dict(
        {k: v for k, v in iris.config.items() if k in attrs.fields_dict(TrainConfig)}
    ) == attrs.evolve(RECIPES["iris"], epochs=60)
    assert iris.config["epochs_run"] == 60 and iris.config["stopped_early"] is False
    assert iris.config["optimizer_config"]["schedule"] == {"name": "constant", "lr": 0.01}
    assert iris.provenance["dataset"] == "iris" and len(iris.provenance["dataset_sha256"]) == 64
    assert "created" not in iris.provenance
    created = train_model(
        load_dataset("xor"), attrs.evolve(RECIPES["xor"], epochs=2), created="2026-01-02T03:04:05Z"
    )
    assert created.provenance["created"] == "2026-01-02T03:04:05Z"


def test_on_epoch_sees_every_epoch_and_can_stop_training():
    seen = []
    model = train_model(
        load_dataset("xor"),
        attrs.evolve(RECIPES["xor"], epochs=50),
        on_epoch=lambda report: seen.append(report.epoch) or report.epoch == 7,
    )
    assert seen == list(range(1, 8))
    assert model.config["epochs_run"] == 7 and model.config["stopped_early"] is True


def test_a_diverging_run_raises():
    config = TrainConfig(hidden=(8,), optimizer="sgd", lr=100.0, epochs=5)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged):
        train_model(load_dataset("sum"), config)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="lr must be positive"):
        TrainConfig(lr=-0.1)
    with pytest.raises(ValueError, match="cannot regress on non-numeric"):
        infer_task(load_dataset("iris"), "regress")
    with pytest.raises(ValueError, match="regression uses the mse loss"):
        train_model(load_dataset("sum"), TrainConfig(loss="binary_cross_entropy", epochs=1))


def test_default_config_picks_the_recipe_or_the_csv_defaults():
    assert default_config("moons") is RECIPES["moons"]
    assert default_config(None) is CSV_DEFAULTS
    assert default_config("my_file") is CSV_DEFAULTS


def test_load_training_data_from_a_csv_or_a_bundled_dataset(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x,y,kind\n0,1,a\n1,0,b\n2,2,a\n")
    data = load_training_data(data=path, target="kind")
    assert data.name == "points" and data.feature_names == ("x", "y") and data.task == "classify"
    numeric = tmp_path / "numbers.csv"
    numeric.write_text("x,y,z\n0,1,0.5\n1,0,2.5\n")
    assert load_training_data(data=numeric, target=["y", "z"]).task == "regress"
    assert load_training_data(dataset="xor").name == "xor"
    with pytest.raises(ValueError, match="either a CSV file or a bundled dataset"):
        load_training_data(data=path, dataset="xor")
    with pytest.raises(ValueError, match="either a CSV file or a bundled dataset"):
        load_training_data()
    with pytest.raises(ValueError, match="fixed target columns"):
        load_training_data(dataset="iris", target="species")
    with pytest.raises(DataError, match="unknown target column 'nope'"):
        load_training_data(data=path, target="nope")


def test_read_table_refuses_unusable_csv():
    assert read_table(b"\xef\xbb\xbfa,b\n1,2\n\n3,4\n", "t.csv") == (
        ["a", "b"],
        [["1", "2"], ["3", "4"]],
    )
    cases = {
        b"": "file is empty",
        b"a,b\n": "header only",
        b"a,b\n1,2\n3\n": "line 3 has 1 cell, expected 2",
        b"a,b\n\xff,1\n": "not UTF-8",
    }
    for data, message in cases.items():
        with pytest.raises(DataError, match=message):
            read_table(data, "t.csv")


def test_duplicate_columns_matter_only_when_the_model_uses_them(iris):
    # Excel's trailing empty columns (",,") repeat the empty name: predict refused such files
    names = list(iris.feature_names)
    header, body = read_table(f"{','.join(names)},,\n5.1,3.5,1.4,0.2,,\n".encode(), "t.csv")
    assert model_inputs(iris, header, body, "t.csv").shape == (1, 4)
    header, body = read_table(f"{','.join(names)},{names[0]}\n1,2,3,4,5\n".encode(), "t.csv")
    with pytest.raises(DataError, match="feature column 'sepal_length' appears more than once"):
        model_inputs(iris, header, body, "t.csv")


def test_model_inputs_picks_columns_by_name(iris):
    data = load_dataset("iris")
    names = list(iris.feature_names)
    header = ["id", *reversed(names), "species"]
    body = [
        [str(i), *map(repr, row[::-1].tolist()), label]
        for i, (row, label) in enumerate(zip(data.X, data.y))
    ]
    X = model_inputs(iris, header, body, "t.csv")
    np.testing.assert_array_equal(X, data.X)
    codes = model_targets(iris, header, body, "t.csv")
    np.testing.assert_array_equal(np.asarray(iris.classes)[codes], data.y)
    with pytest.raises(DataError, match="missing feature column 'petal_width'"):
        model_inputs(iris, header[:1] + header[2:], [r[:1] + r[2:] for r in body], "t.csv")
    bad = [row.copy() for row in body[:3]]
    bad[2][1] = "wide"
    with pytest.raises(DataError, match="row 3, column 'petal_width': 'wide' is not a number"):
        model_inputs(iris, header, bad, "t.csv")
    bad[2][1] = "inf"
    with pytest.raises(DataError, match="row 3, column 'petal_width': 'inf' is not a finite"):
        model_inputs(iris, header, bad, "t.csv")
    bad[2][1] = ""
    with pytest.raises(DataError, match="row 3, column 'petal_width': missing value"):
        model_inputs(iris, header, bad, "t.csv")
    bad = [row.copy() for row in body[:2]]
    bad[1][-1] = "rose"
    with pytest.raises(DataError, match="row 2, column 'species': unknown class 'rose'"):
        model_targets(iris, header, bad, "t.csv")


def test_integer_classes_accept_integral_cells(xor):
    header = ["a", "b", "xor"]
    codes = model_targets(xor, header, [["0", "0", "0"], ["0", "1", "1.0"]], "t.csv")
    np.testing.assert_array_equal(codes, [0, 1])
    with pytest.raises(DataError, match="unknown class '2'"):
        model_targets(xor, header, [["0", "0", "2"]], "t.csv")
    with pytest.raises(DataError, match="unknown class '0.5'"):
        model_targets(xor, header, [["0", "0", "0.5"]], "t.csv")


def test_evaluate_reproduces_the_training_metrics(xor):
    data = load_dataset("xor")
    assert evaluate(xor, data.X, data.y) == xor.metrics["train"]
    arithmetic = train_model(
        load_dataset("arithmetic"), attrs.evolve(RECIPES["arithmetic"], epochs=2, test_split=0.0)
    )
    full = load_dataset("arithmetic")
    report = evaluate(arithmetic, full.X, full.y)
    assert report == arithmetic.metrics["train"]
    assert set(report["per_target"]) == {"sum", "difference", "absolute_difference"}


def test_more_parameters_than_training_rows_warns():
    from nnfunc.pipeline import OverparameterizedWarning

    wide = attrs.evolve(RECIPES["iris"], hidden=(64,), epochs=2)
    with pytest.warns(OverparameterizedWarning, match="515 parameters for 120 training rows"):
        train_model(load_dataset("iris"), wide)


def test_memorising_a_truth_table_with_no_held_out_rows_is_not_warned():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = train_model(load_dataset("xor"), RECIPES["xor"])  # 17 parameters for 4 rows
    assert model.n_params > model.metrics["train"]["n_samples"]


def test_more_parameters_than_training_rows_can_be_left_unwarned():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = train_model(load_dataset("xor"), attrs.evolve(RECIPES["xor"], epochs=2), warn=False)
    assert model.n_params == 33  # 2-8-1


def _csv(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    return load_training_data(data=path)


def test_check_training_refuses_a_loss_that_does_not_fit_the_targets():
    iris = load_dataset("iris")
    with pytest.raises(ValueError, match="mse loss needs numeric targets .* 'species' holds class"):
        check_training(iris, attrs.evolve(RECIPES["iris"], loss="mse"))
    with pytest.raises(ValueError, match="binary_cross_entropy takes exactly 2 classes, .* has 3"):
        check_training(iris, attrs.evolve(RECIPES["iris"], loss="binary_cross_entropy"))
    check_training(iris, RECIPES["iris"])  # the recipe itself is fine
    moons = load_dataset("moons", n_samples=50)  # integer classes can be regressed on instead
    check_training(moons, attrs.evolve(RECIPES["moons"], loss="mse"), task="regress")


def test_check_training_names_the_split_options_and_row_counts(tmp_path):
    two = _csv(tmp_path, "a,b,y\n1,2,0\n3,4,1\n")
    with pytest.raises(
        DataError,
        match=r"2 rows are too few for test_split 0.2 and val_split 0.5: "
        r"splitting the 1 training row left of 2 by val_split 0.5",
    ):
        check_training(two, attrs.evolve(CSV_DEFAULTS, val_split=0.5))
    with pytest.raises(DataError, match="lower test_split or val_split"):
        train_model(two, attrs.evolve(CSV_DEFAULTS, val_split=0.5))
    with pytest.raises(DataError, match="2 rows are too few for test_split 0.9: holding out"):
        check_training(two, attrs.evolve(CSV_DEFAULTS, test_split=0.9))
    check_training(two, attrs.evolve(CSV_DEFAULTS, test_split=0.0, val_split=0.5))


def test_check_training_names_a_column_too_large_to_standardise(tmp_path):
    huge = _csv(tmp_path, "a,b,y\n9e200,1,x\n-9e200,2,y\n8e200,3,x\n-8e200,4,y\n1,5,x\n")
    with pytest.raises(
        DataError, match="feature column 'a' holds values up to 9e\\+200, too large"
    ):
        check_training(huge, CSV_DEFAULTS)
    with pytest.raises(DataError, match="feature column 'a'"):
        train_model(huge, CSV_DEFAULTS)
    check_training(huge, attrs.evolve(CSV_DEFAULTS, scale_features=False))
    target = _csv(tmp_path, "a,t\n1,2e300\n2,-2e300\n3,1e300\n4,0.5\n5,1\n")
    with pytest.raises(DataError, match="target column 't' holds values up to 2e\\+300"):
        check_training(target, CSV_DEFAULTS)


def test_check_training_refuses_networks_too_big_for_a_file_or_memory(monkeypatch):
    from nnfunc.modelfile import MAX_FILE_BYTES

    iris = load_dataset("iris")
    per_layer = int((MAX_FILE_BYTES / 8) ** 0.5) + 1  # two square layers just over the limit
    big = attrs.evolve(RECIPES["iris"], hidden=(per_layer, per_layer))
    with pytest.raises(ValueError, match="more than a model file holds \\(256 MiB\\)"):
        check_training(iris, big)
    check_training(iris, attrs.evolve(big, dtype="float32"))  # half the bytes fit
    monkeypatch.setattr("nnfunc.capacity.memory_limit", lambda: 10**6)
    with pytest.raises(ValueError, match="training a 4-600-3 network on 120 rows needs about"):
        train_model(iris, attrs.evolve(RECIPES["iris"], hidden=(600,)))


# --- what the model file would refuse is refused before training --------------------------------


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"patience": True}, TypeError, "patience must be an integer >= 1, got bool True"),
        ({"patience": 2.5}, TypeError, "patience must be an integer >= 1, got float"),
        ({"patience": None}, TypeError, "patience must be an integer >= 1"),
        ({"patience": 0}, ValueError, "patience must be an integer >= 1, got 0"),
        ({"seed": -1}, ValueError, "seed must be an integer in \\[0, 18446744073709551615\\]"),
        ({"seed": 2**64}, ValueError, "seed must be an integer in"),
        ({"seed": True}, TypeError, "seed must be an integer in .* got bool True"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
        ({"clip_norm": float("inf")}, ValueError, "clip_norm must be positive and finite"),
        ({"clip_norm": float("nan")}, ValueError, "clip_norm must be positive and finite"),
        ({"clip_norm": True}, TypeError, "clip_norm must be positive and finite, or None"),
        ({"clip_norm": 0.0}, ValueError, "clip_norm must be positive"),
        ({"lr": float("inf")}, ValueError, "lr must be positive and finite"),
        ({"l2": float("inf")}, ValueError, "l2 must be finite and >= 0"),
        ({"epochs": 2.5}, TypeError, "epochs must be an integer >= 1"),
        ({"batch_size": True}, TypeError, "batch_size must be an integer >= 1 or None"),
        ({"early_stopping": 1}, TypeError, "early_stopping must be True or False"),
        ({"scale_features": "yes"}, TypeError, "scale_features must be True or False"),
        ({"hidden": (True,)}, TypeError, "hidden layer sizes must be integers"),
        ({"val_split": False}, TypeError, "val_split must be a number"),
    ],
)
def test_train_config_refuses_what_a_model_file_cannot_store(settings, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(**settings)


def test_train_config_takes_the_model_files_whole_range():
    config = attrs.evolve(
        RECIPES["xor"], epochs=2, seed=2**64 - 1, patience=np.int64(1), clip_norm=1
    )
    model = train_model(load_dataset("xor"), config)
    assert loads_model(dumps_model(model)).config["seed"] == 2**64 - 1
    assert TrainConfig(seed=np.uint64(7), hidden=[np.int64(3)]).hidden == (3,)


@pytest.mark.parametrize("created", ["2026-01-02", "2026-13-01T00:00:00Z", "now", 5, ""])
def test_a_malformed_creation_time_is_refused_before_training(created):
    seen = []
    with pytest.raises(ValueError, match="created must be a UTC time written YYYY-MM-DDTHH:MM"):
        train_model(load_dataset("xor"), RECIPES["xor"], created=created, on_epoch=seen.append)
    assert seen == []


def test_names_a_model_file_cannot_store_are_refused_before_training():
    iris = load_dataset("iris")
    long_target = ("s" * 1025,)
    cases = {
        "the dataset name 'ir\\x1bis' holds the control character U+001B": {"name": "ir\x1bis"},
        "feature column name 'a\\tb' holds the control character U+0009": {
            "feature_names": ("a\tb", *iris.feature_names[1:])
        },
        "target column name 'sss": {"target_names": long_target},
        "has 1,025 characters, more than the 1024 allowed": {"target_names": long_target},
        "class label 'se\\u202eto' of target column 'species' holds": {
            "y": np.where(iris.y == "setosa", "se\u202eto", iris.y)
        },
    }
    for message, changes in cases.items():
        for check in (check_training, train_model):
            with pytest.raises(DataError) as info:
                check(attrs.evolve(iris, **changes), RECIPES["iris"])
            assert message in str(info.value) and str(info.value).isprintable()


def test_every_name_stays_importable_from_the_pipeline():
    from nnfunc import capacity, model_table, pipeline, prepare, train_config

    # every public name the module had before it was split, for code and docs that import them
    names = [
        "CSV_DEFAULTS",
        "FILE_RESERVE_BYTES",
        "RECIPES",
        "TASKS",
        "OverparameterizedWarning",
        "TrainConfig",
        "check_training",
        "default_config",
        "evaluate",
        "infer_task",
        "load_training_data",
        "memory_limit",
        "model_inputs",
        "model_targets",
        "overparameterized",
        "provenance",
        "read_table",
        "train_model",
    ]
    assert sorted(pipeline.__all__) == sorted(names)
    assert all(hasattr(pipeline, name) for name in names)
    assert pipeline.TrainConfig is train_config.TrainConfig
    assert pipeline.check_training is prepare.check_training
    assert pipeline.OverparameterizedWarning is capacity.OverparameterizedWarning
    assert pipeline.read_table is model_table.read_table


def test_model_table_messages_quote_header_names_escaped(iris):
    header = ["sepal_length\x1b", "b"]
    with pytest.raises(DataError) as info:
        model_inputs(iris, header, [["1", "2"]], "t.csv")
    assert "the file has: 'sepal_length\\x1b', 'b'" in str(info.value)
    assert str(info.value).isprintable()


def test_classifying_a_continuous_target_is_refused_before_training():
    from nnfunc.datasets import Dataset

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    data = Dataset(X, X.sum(axis=1, keepdims=True), ("a", "b"), ("sum",), "regress", "s", "0" * 64)
    with pytest.raises(ValueError, match=r"cannot classify a continuous target: 'sum' has values"):
        train_model(data, RECIPES["sum"], task="classify")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("a ", "b"), "feature column name 'a ' has spaces at its start or end"),
        (("", "b"), "feature column name '' is empty"),
    ],
)
def test_column_names_no_csv_could_match_are_refused_before_training(names, message):
    from nnfunc.datasets import Dataset

    xor = load_dataset("xor")
    data = Dataset(xor.X, xor.y, names, xor.target_names, "classify", "x", xor.sha256)
    with pytest.raises(ValueError, match=message):
        train_model(data, RECIPES["xor"])
    labels = np.array([" yes", "no", "no", " yes"])
    padded = Dataset(xor.X, labels, xor.feature_names, xor.target_names, "classify", "x", "0" * 64)
    with pytest.raises(ValueError, match="class label ' yes' of target column 'xor' has spaces"):
        train_model(padded, RECIPES["xor"])


def test_a_class_whose_rows_all_fell_out_of_training_is_warned():
    from nnfunc.datasets import Dataset
    from nnfunc.prepare import SplitWarning

    X = np.arange(5.0).reshape(-1, 1)
    y = np.array(["a", "a", "b", "b", "c"])  # too few rows to stratify
    data = Dataset(X, y, ("x",), ("t",), "classify", "few", "0" * 64)
    config = attrs.evolve(RECIPES["iris"], epochs=1, seed=1)
    with pytest.warns(SplitWarning, match="class 'c' has no training rows"):
        model = train_model(data, config)
    assert model.metrics["train"]["per_class"]["c"]["support"] == 0


def test_regression_metrics_of_huge_errors_are_infinite_without_warnings():
    import warnings

    from nnfunc.metrics import regression_report

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = regression_report([[1e200], [-1e200]], [[0.0], [0.0]], ["y"])
    assert report["mse"] == np.inf and report["r2"] == 0.0  # R2 is scale-free: computed exactly


def test_an_empty_target_cell_is_a_missing_value_as_in_training(iris):
    names = list(iris.feature_names)
    header, body = read_table(f"{','.join(names)},species\n5.1,3.5,1.4,0.2,\n".encode(), "t.csv")
    with pytest.raises(DataError, match="row 1, column 'species': missing value"):
        model_targets(iris, header, body, "t.csv")


@pytest.mark.parametrize("lr", [0.02, None])
def test_a_schedule_spans_the_whole_run(lr):
    # cosine was fixed at 10,000 steps: a 400-step run ended at 0.98 of its starting rate
    from nnfunc.optim import default_lr
    from nnfunc.schedules import schedule_from_dict

    config = TrainConfig(hidden=(4,), schedule="cosine", lr=lr, epochs=50, batch_size=16)
    model = train_model(load_dataset("iris"), config)
    steps = 50 * math.ceil(120 / 16)  # 120 training rows after the 20% test split
    schedule = schedule_from_dict(model.config["optimizer_config"]["schedule"])
    start = lr if lr is not None else default_lr("adam")
    assert schedule.total_steps == steps and schedule(0) == start
    assert schedule(steps - 1) < 1e-4 * start and schedule(steps) == 0.0
    stepped = train_model(load_dataset("iris"), attrs.evolve(config, schedule="step"))
    step = schedule_from_dict(stepped.config["optimizer_config"]["schedule"])
    assert step(steps - 1) == start / 8  # halved every quarter of the run


def test_evaluate_takes_a_classifier_s_own_text_labels(iris):
    data = load_dataset("iris")
    by_labels = evaluate(iris, data.X, data.y)  # strings: encoded through model.labels
    by_codes = evaluate(iris, data.X, np.searchsorted(iris.classes, data.y))
    assert by_labels == by_codes and by_labels["accuracy"] > 0.8


def test_sizes_given_as_one_number():
    import nnfunc as nf

    assert TrainConfig(hidden=32).hidden == (32,)  # scikit-learn's hidden_layer_sizes=32
    with pytest.raises(TypeError, match="sequence of layer sizes"):
        TrainConfig(hidden="16")
    with pytest.raises(TypeError, match=r"such as \[4, 16, 3\]"):
        nf.mlp_spec(4)
