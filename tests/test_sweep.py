"""Sweeps: identical tables on every engine, failed trials recorded, resuming, the command line."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys

import attrs
import pytest
from click.testing import CliRunner

from nnfunc import pipeline
from nnfunc.cli import main
from nnfunc.datasets import load_dataset
from nnfunc.modelfile import load_model
from nnfunc.sweep import (
    Range,
    best_row,
    grid,
    random_search,
    run_sweep,
    train_best,
    trial_seeds,
)
from nnfunc.sweep_backends import joblib_backend, local_dask, serial
from nnfunc.sweep_plot import _clipped_bars, plot_sweep
from nnfunc.sweep_results import TIME_COLUMNS, csv_text, load_results
from nnfunc.sweep_space import parse_values

SPACE = {"hidden": [3, 6], "lr": [0.1, 1e6]}  # lr 1e6 diverges on every trial


@pytest.fixture(scope="module")
def moons():
    return load_dataset("moons", n_samples=200)


def table(result_or_path) -> list[dict[str, str]]:
    """The CSV table without the wall-clock columns, the part two runs must agree on."""
    text = result_or_path if isinstance(result_or_path, str) else csv_text(result_or_path)
    rows = list(csv.DictReader(text.splitlines()))
    return [{k: v for k, v in row.items() if k not in TIME_COLUMNS} for row in rows]


def test_joblib_dask_and_serial_give_identical_tables(moons):
    configs = grid(SPACE)
    reference = run_sweep(moons, configs, trials=2, seed=7, backend=serial())
    with_joblib = run_sweep(moons, configs, trials=2, seed=7, backend=joblib_backend(2))
    with local_dask(2) as dask:
        with_dask = run_sweep(moons, configs, trials=2, seed=7, backend=dask)
    assert len(reference.rows) == 4
    assert table(with_joblib) == table(reference)
    assert table(with_dask) == table(reference)
    # and the per-trial metrics agree to the bit, not only their printed means
    for a, b in zip(reference.rows, with_dask.rows):
        assert [r.get("metrics") for r in a["runs"]] == [r.get("metrics") for r in b["runs"]]


def test_diverged_and_failing_trials_are_recorded_and_the_sweep_goes_on(
    moons, monkeypatch, tmp_path
):
    real = pipeline.train_model
    doomed = trial_seeds(3, 3)[1]

    def flaky(dataset, config, **kwargs):
        if config.seed == doomed and config.hidden == (6,) and config.lr == 0.1:
            raise RuntimeError("worker lost its disk")
        return real(dataset, config, **kwargs)

    monkeypatch.setattr("nnfunc.sweep.train_model", flaky)
    result = run_sweep(moons, grid(SPACE), trials=3, seed=3)
    rows = {(r["hidden"][0], r["lr"]): r for r in result.rows}
    assert rows[3, 0.1]["failed"] == 0 and rows[3, 0.1]["test_accuracy_mean"] > 0.8
    assert rows[3, 1e6]["failed"] == 3 and rows[3, 1e6]["test_accuracy_mean"] is None
    assert "TrainingDiverged" in rows[3, 1e6]["errors"][0]
    flaky_row = rows[6, 0.1]
    assert flaky_row["failed"] == 1
    assert flaky_row["errors"] == [f"trial 1 (seed {doomed}): RuntimeError: worker lost its disk"]
    assert len([r for r in flaky_row["runs"] if "metrics" in r]) == 2
    # a configuration with a failed trial does not win on the mean of fewer trials
    assert result.best is rows[3, 0.1]
    # the figure skips the configurations with no successful trial
    assert plot_sweep(result, tmp_path / "plot.png", x="lr") == "lr"
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_interrupted_sweep_resumes_without_redoing_finished_rows(moons, tmp_path):
    out = tmp_path / "sweep.csv"
    configs = grid({"hidden": [2, 3, 4, 5]})
    seen = []

    def interrupt_after_five(result):
        seen.append(result)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(moons, configs, trials=2, out=out, on_trial=interrupt_after_five)
    saved = load_results(out)
    assert [r["hidden"] for r in saved.rows] == [[2], [3]]  # finished rows are on disk
    assert len(list(csv.DictReader(out.read_text().splitlines()))) == 2

    ran = []
    resumed = run_sweep(moons, configs, trials=2, out=out, resume=True, on_trial=ran.append)
    assert sorted((r["index"], r["trial"]) for r in ran) == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert resumed.rows[:2] == saved.rows  # kept as they were, times included
    fresh = run_sweep(moons, configs, trials=2)
    assert table(out.read_text()) == table(fresh)
    assert table(resumed) == table(fresh)


def test_resume_refuses_a_file_from_another_sweep(moons, tmp_path):
    out = tmp_path / "sweep.csv"
    run_sweep(moons, grid({"hidden": [2]}), trials=1, seed=0, out=out)
    with pytest.raises(ValueError, match="different sweep .seed: 0 there, 1 now"):
        run_sweep(moons, grid({"hidden": [2]}), trials=1, seed=1, out=out, resume=True)


def test_trial_seeds_depend_on_base_seed_and_trial_only():
    assert trial_seeds(5, 3)[:2] == trial_seeds(5, 2)
    assert len(set(trial_seeds(5, 10))) == 10
    assert trial_seeds(5, 2) != trial_seeds(6, 2)


def test_random_search_is_seeded_distinct_and_within_its_ranges():
    space = {"lr": Range(1e-4, 1e-1, log=True), "hidden": Range(3, 40, integer=True)}
    a = random_search(space, 20, seed=1)
    assert a == random_search(space, 20, seed=1) != random_search(space, 20, seed=2)
    assert len({(c["lr"], c["hidden"]) for c in a}) == 20
    assert all(1e-4 <= c["lr"] <= 1e-1 and 3 <= c["hidden"][0] <= 40 for c in a)
    assert len(random_search({"activation": ["relu", "tanh"]}, 5, seed=0)) == 2


def test_value_syntax():
    assert parse_values("hidden", "3..6") == [(3,), (4,), (5,), (6,)]
    assert parse_values("hidden", "16x16,32,none") == [(16, 16), (32,), ()]
    assert parse_values("lr", "1e-3..1e-1:3") == pytest.approx([1e-3, 1e-2, 1e-1])
    assert parse_values("batch_size", "10,full") == [10, None]
    assert parse_values("hidden", [[8, 8], 4]) == [(8, 8), (4,)]  # from a TOML/JSON file
    assert parse_values("epochs", {"min": 10, "max": 30, "points": 3}) == [10, 20, 30]
    assert parse_values("lr", "1e-4..1e-1", random=True) == Range(1e-4, 1e-1, log=True)
    with pytest.raises(ValueError, match="lr: a grid needs points"):
        parse_values("lr", "1e-4..1e-1")
    with pytest.raises(ValueError, match="epochs: 'ten' is not an integer"):
        parse_values("epochs", "10,ten")


def test_ties_that_differ_by_rounding_keep_the_first_configuration():
    # mean(27/29, 1) is 0.9655172413793103 and mean(28/29, 28/29) 0.9655172413793104
    rows = [
        {"failed": 0, "m": (27 / 29 + 1.0) / 2, "name": "first"},
        {"failed": 0, "m": (28 / 29 + 28 / 29) / 2, "name": "second"},
    ]
    assert rows[0]["m"] != rows[1]["m"]
    assert best_row(rows, "m")["name"] == "first"


def test_best_model_is_the_recorded_best_trial_bit_for_bit(moons):
    result = run_sweep(moons, grid({"hidden": [2, 5]}), trials=2)
    best = result.best
    model = train_best(moons, result)
    run = max(best["runs"], key=lambda r: r["metrics"]["test"])
    assert model.config["seed"] == run["seed"] and list(model.config["hidden"]) == best["hidden"]
    assert {s: m["accuracy"] for s, m in model.metrics.items()} == run["metrics"]


def test_cli_sweep_writes_tables_plot_and_best_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.toml").write_text('hidden = "2..3"\ntrials = 2\n[fixed]\nepochs = 5\n')
    args = ["sweep", "--config", "space.toml", "--dataset", "iris", "--jobs", "1"]
    args += ["--plot", "acc.png", "--save-best", "best.msgpack", "--out", "iris.csv"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "best: hidden=" in result.output
    rows = list(csv.DictReader((tmp_path / "iris.csv").read_text().splitlines()))
    assert [r["hidden"] for r in rows] == ["2", "3"] and all(r["trials"] == "2" for r in rows)
    document = json.loads((tmp_path / "iris.json").read_text())
    assert document["meta"]["fixed"]["val_split"] == 0.2
    assert document["meta"]["ranked_by"] == "val_accuracy_mean"
    assert (tmp_path / "acc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = load_model(tmp_path / "best.msgpack")
    assert model.config["epochs"] == 5
    # running again refuses to clobber the results; --resume has nothing left to do
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "iris.csv exists; --resume" in again.output
    resumed = CliRunner().invoke(main, [*args, "--resume"])
    assert resumed.exit_code == 0 and (tmp_path / "iris.csv").read_text().count("\n") == 3


def test_cli_on_dask_gives_the_table_of_local_processes(tmp_path, monkeypatch):
    from distributed import LocalCluster

    monkeypatch.chdir(tmp_path)
    common = ["sweep", "--dataset", "iris", "--hidden", "2,3", "--trials", "2", "--epochs", "20"]
    runs = {"joblib.csv": ["--jobs", "2"], "local.csv": ["--dask-local", "2"]}
    local = {"host": "127.0.0.1", "protocol": "tcp", "dashboard_address": "127.0.0.1:0"}
    with LocalCluster(n_workers=2, processes=False, **local) as cluster:
        runs["remote.csv"] = ["--scheduler", cluster.scheduler_address]
        for out, backend in runs.items():
            result = CliRunner().invoke(main, [*common, *backend, "--out", out])
            assert result.exit_code == 0, result.output
    tables = [table((tmp_path / out).read_text()) for out in runs]
    assert len(tables[0]) == 2 and tables[0] == tables[1] == tables[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "1e-4..1e-1"], "lr: a grid needs points"),
        (["--activation", "nope"], "nope"),
        (["--jobs", "2", "--dask-local", "2"], "--jobs picks local processes"),
        (["--dataset", "iris", "--data", "x.csv"], "give --dataset or --data"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["sweep", "--hidden", "2", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_every_trial_failing_exits_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--dataset", "iris", "--optimizer", "sgd", "--lr", "1e9", "--jobs", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "every trial failed; first error: trial 0" in result.output
    assert "TrainingDiverged" in result.output


def _one_line_error(result, message):
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0] and "Usage:" not in result.output


@pytest.fixture
def no_sweeping(monkeypatch):
    """Fail the test if a sweep starts: the options must be refused before any training."""

    def refuse(*args, **kwargs):
        raise AssertionError("the sweep ran")

    monkeypatch.setattr("nnfunc.cli.sweep.run_sweep", refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--save-best", "nodir/best.msgpack"], "nodir/best.msgpack: folder nodir does not exist"),
        (["--plot", "nodir/p.png"], "nodir/p.png: folder nodir does not exist"),
        (["--out", "nodir/s.csv"], "nodir/s.csv: folder nodir does not exist"),
        (["--out", "a_dir"], "a_dir: is a directory"),
        (["--out", ""], "Invalid value for '--out': empty path"),
        (["--plot", "p.xyz"], "p.xyz: matplotlib cannot draw .xyz files"),
        (["--data", "data.csv", "--out", "data.csv"], "data.csv: is also the --data file"),
        (["--data", "data.csv", "--out", "data"], "data.csv: is also the --data file"),
        (["--data", "data.csv", "--save-best", "data.csv"], "data.csv: is also the --data file"),
        (
            ["--config", "space.json", "--save-best", "space.json"],
            "space.json: is also the --config",
        ),
        (["--out", "s.csv", "--save-best", "s.json"], "s.json: is also the results JSON file"),
        (["--plot", "p.png", "--save-best", "p.png"], "p.png: is also the --plot file"),
        (["--save-best", "pipe"], "pipe: exists and is not a regular file"),
        (["--hidden", "6000x6000"], "hidden=6000x6000: a 2-6000-6000-2 network has 36,036,002"),
    ],
)
def test_cli_checks_outputs_and_sizes_before_any_work(
    tmp_path, monkeypatch, no_sweeping, args, message
):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "data.csv").write_text(
        "a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20))
    )
    (tmp_path / "space.json").write_text('{"hidden": [2]}')
    os.mkfifo(tmp_path / "pipe")
    before = sorted(os.listdir(tmp_path))
    dataset = [] if "--data" in args else ["--dataset", "moons"]
    result = CliRunner().invoke(main, ["sweep", *dataset, "--jobs", "1", *args])
    _one_line_error(result, message)
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "pipe").is_fifo()


def test_cli_plot_without_matplotlib_is_refused_before_any_work(tmp_path, monkeypatch, no_sweeping):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    result = CliRunner().invoke(main, ["sweep", "--dataset", "xor", "--plot", "p.png"])
    _one_line_error(result, "plotting (matplotlib) needs the plot extra: pip install '.[plot]'")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("[fixed]\nbogus = 1\n", "fixed: unknown setting 'bogus'; known ones: hidden, activation"),
        ('[fixed]\nlr = "fast"\n', "fixed.lr: must be a number, got 'fast'"),
        ("[fixed]\nepochs = 1.5\n", "fixed.epochs: must be a positive integer, got 1.5"),
        ('[fixed]\noptimizer = "bogus"\n', "fixed.optimizer: unknown optimizer 'bogus'; choose"),
        ('[fixed]\nactivation = "softmax"\n', "fixed.activation: softmax can only be the output"),
        ("[fixed]\nval_split = 1.5\n", "fixed.val_split: must lie in [0, 1), got 1.5"),
        ("[fixed]\nseed = 3\n", "fixed.seed: trial seeds come from the sweep's seed"),
        ("[fixed]\nhidden = [0]\n", "fixed.hidden: needs a list of layer sizes"),
        ('optimizer = ["adam", "bogus"]\n', "optimizer: unknown optimizer 'bogus'"),
    ],
)
def test_cli_file_settings_are_checked_with_readable_messages(
    tmp_path, monkeypatch, no_sweeping, setting, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.toml").write_text(setting)
    result = CliRunner().invoke(main, ["sweep", "--dataset", "xor", "--config", "space.toml"])
    _one_line_error(result, message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizer", "bogus"], "optimizer: unknown optimizer 'bogus'; choose one of: sgd,"),
        (["--activation", "softmax"], "activation: softmax can only be the output activation"),
        (["--hidden", "0"], "hidden: layer size 0 must lie in [1, 100000]"),
        (["--hidden", "1_6"], "hidden: '1_6' is not an integer"),
        (["--config", "/nonexistent/space.toml"], "'/nonexistent/space.toml' does not exist"),
        (["--dataset", "iris", "--loss", "x"], "No such option '--loss'"),
        (["--target", "y"], "--target selects a column of a --data CSV file"),
    ],
)
def test_cli_usage_errors_are_one_line(tmp_path, monkeypatch, no_sweeping, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["sweep", *args])
    _one_line_error(result, message)
    assert "Attribute(" not in result.output


def test_cli_trial_warnings_are_one_line_notes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--dataset", "iris", "--trials", "2", "--jobs", "1", "--hidden", "64,128"]
    result = CliRunner().invoke(main, [*args, "--epochs", "5", "--save-best", "best.msgpack"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Warning: 2 of 2 configurations warned; the first, hidden=64 epochs=5: the network has "
        "515 parameters for 96 training rows: it can memorise them (fewer hidden units, l2 or "
        "more data generalise better)"
    ]
    rows = json.loads((tmp_path / "sweep.json").read_text())["rows"]
    wide = next(row for row in rows if row["hidden"] == [128])
    assert wide["runs"][0]["warnings"] == [
        "the network has 1027 parameters for 96 training rows: it can memorise them (fewer "
        "hidden units, l2 or more data generalise better)"
    ]


def test_cli_trials_with_a_zero_gradient_activation_say_which_layers_cannot_learn(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--dataset", "moons", "--jobs", "1", "--hidden", "4", "--epochs", "1"]
    result = CliRunner().invoke(main, [*args, "--activation", "binary_step,relu"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Warning: hidden=4 activation=binary_step epochs=1: binary_step after dense layer 1 has a "
        "zero derivative: layer 1 receives no gradient and keeps its initial weights (only the "
        "layers after it train)"
    ]
    rows = json.loads((tmp_path / "sweep.json").read_text())["rows"]
    warned = {row["activation"]: row["runs"][0].get("warnings") for row in rows}
    assert warned["relu"] is None and len(warned["binary_step"]) == 1


def test_cli_on_a_csv_file_starts_from_nnfunc_trains_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = ["x1,x2,y"] + [f"{i / 10},{(i * 7) % 10 / 10},{i / 10 + 0.5}" for i in range(30)]
    (tmp_path / "reg.csv").write_text("\n".join(lines) + "\n")
    args = ["sweep", "--data", "reg.csv", "--trials", "1", "--jobs", "1", "--epochs", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "sweep.json").read_text())["rows"][0]["config"]
    defaults = pipeline.CSV_DEFAULTS.to_dict()
    for key in ("hidden", "lr", "batch_size", "optimizer", "activation"):
        assert config[key] == defaults[key], key
    assert config["batch_size"] == 32 and config["lr"] == 0.01


def test_cli_sweep_warns_in_one_line_about_a_missing_value_label(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels = ["a", "b", "NA"]
    lines = ["x,y"] + [f"{i},{labels[i % 3]}" for i in range(30)]
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    args = ["sweep", "--data", "c.csv", "--target", "y", "--trials", "1", "--epochs", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "Warning: c.csv: target column 'y' holds 'NA' (line 4 and 9 more rows), which pandas"
    )
    assert "MissingLabelWarning" not in result.stderr  # a line, not Python's warning format


def test_run_sweep_on_other_data_starts_from_the_csv_defaults():
    data = load_dataset("sum", n_samples=40)
    renamed = attrs.evolve(data, name="my_table")
    result = run_sweep(renamed, [{"epochs": 1}], trials=1)
    assert result.rows[0]["config"]["batch_size"] == pipeline.CSV_DEFAULTS.batch_size
    assert result.meta["fixed"]["test_split"] == pipeline.CSV_DEFAULTS.test_split


def test_run_sweep_keeps_a_recipe_for_its_own_dataset_only():
    # a user's table called 'sum' (other columns) is other data; the bundled sum, any size, not
    data = load_dataset("iris")
    mine = attrs.evolve(data, name="sum", feature_names=("a", "b", "c", "d"))
    result = run_sweep(mine, [{"epochs": 1}], trials=1)
    assert result.rows[0]["config"]["hidden"] == list(pipeline.CSV_DEFAULTS.hidden)
    bundled = run_sweep(load_dataset("sum", n_samples=40), [{"epochs": 1}], trials=1)
    assert bundled.rows[0]["config"]["hidden"] == list(pipeline.RECIPES["sum"].hidden)


def test_error_bars_stop_at_what_the_metric_can_reach():
    # accuracy 0.955 +- 0.07 was drawn up to 1.025
    below, above = _clipped_bars([0.955, 0.5, None], [0.07, 0.1, None or 0.0], "accuracy")
    assert below == pytest.approx([0.07, 0.1, 0.0]) and above == pytest.approx([0.045, 0.1, 0.0])
    below, above = _clipped_bars([0.98, -3.0], [0.05, 2.0], "r2")  # r2 has no lower bound
    assert below == pytest.approx([0.05, 2.0]) and above == pytest.approx([0.02, 2.0])


@pytest.mark.parametrize("backend", [["--dask-local", "2"], ["--scheduler", "tcp://127.0.0.1:1"]])
def test_cli_without_the_dask_extra_says_so_in_one_line(tmp_path, monkeypatch, backend):
    import importlib

    real = importlib.import_module

    def without_distributed(name, *args):
        if name.split(".")[0] == "distributed":
            raise ImportError("No module named 'distributed'")
        return real(name, *args)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(importlib, "import_module", without_distributed)
    result = CliRunner().invoke(main, ["sweep", "--dataset", "iris", "--hidden", "3", *backend])
    _one_line_error(
        result,
        "this backend (distributed) needs the dask extra: pip install '.[dask]' in nnfunc's "
        "source folder",
    )


def test_cli_an_unreachable_scheduler_is_one_line(tmp_path, monkeypatch):
    from nnfunc import sweep_backends

    @contextlib.contextmanager
    def unreachable(address, timeout=10.0):
        raise OSError(f"Timed out trying to connect to {address} after 10 s")
        yield

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sweep_backends, "remote_dask", unreachable)
    args = ["sweep", "--dataset", "iris", "--hidden", "3", "--scheduler", "tcp://127.0.0.1:1"]
    _one_line_error(
        CliRunner().invoke(main, args),
        "cannot reach the Dask scheduler: Timed out trying to connect to tcp://127.0.0.1:1",
    )


def test_cli_a_fixed_hidden_size_in_the_config_file_is_used(tmp_path, monkeypatch):
    # [fixed] hidden was checked twice, and the second check refused the first one's tuple
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.toml").write_text("trials = 1\n[fixed]\nhidden = [3]\nepochs = 1\n")
    result = CliRunner().invoke(main, ["sweep", "--config", "f.toml", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "sweep.json").read_text())["rows"][0]["config"]["hidden"] == [3]


def test_cli_resume_refuses_a_table_of_other_target_columns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [f"{i / 10},{(i * 7) % 10 / 10},{i / 10 + 0.5}" for i in range(30)]
    (tmp_path / "reg.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    args = ["sweep", "--data", "reg.csv", "--trials", "1", "--jobs", "1", "--epochs", "2"]
    assert CliRunner().invoke(main, [*args, "--hidden", "4"]).exit_code == 0
    mixed = CliRunner().invoke(main, [*args, "--hidden", "4,8", "--target", "a", "--resume"])
    _one_line_error(mixed, "a different sweep (targets: ['y'] there, ['a'] now)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hidden", "1..1000", "--epochs", "1..1000"], "the grid has 1,000,000 configurations"),
        (["--random", "20000"], "random search of 20,000 configurations"),
        (["--hidden", "2..8x4"], "hidden: '8x4' is not an integer"),
        (["--lr", "1e-3..1e-1:x"], "lr's number of points: 'x' is not an integer"),
    ],
)
def test_cli_sweeps_too_big_or_misspelt_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    _one_line_error(CliRunner().invoke(main, ["sweep", *args]), message)


def test_cli_config_file_settings_follow_the_command_lines_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b.toml").write_text("random = 0\ntrials = 1\n")
    _one_line_error(CliRunner().invoke(main, ["sweep", "--config", "b.toml"]), "random: 0")
    rows = [f"{i / 10},{i % 3}" for i in range(30)]
    (tmp_path / "d.csv").write_text("a,y\n" + "\n".join(rows) + "\n")
    (tmp_path / "c.toml").write_text('dataset = "moons"\ntrials = 1\n')
    args = ["sweep", "--config", "c.toml", "--data", "d.csv", "--epochs", "1", "--jobs", "1"]
    result = CliRunner().invoke(main, args)  # --data wins over the file's dataset
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "sweep.json").read_text())["meta"]["dataset"] == "d"


def test_random_search_stops_at_the_size_of_a_finite_space():
    configs = random_search({"hidden": [4, 8]}, 500, seed=0)  # drew 25,000 times for 2
    assert len(configs) == 2
