"""`nnfunc sweep`: grid or random search over hyper-parameters, K seeded trials per configuration.

Values come from options (`--hidden 3..40`, `--lr 0.01,0.1`) or a small TOML/JSON file; trials run
here, on local cores (joblib) or on a Dask cluster. Rows are saved as configurations finish, so
Ctrl-C keeps them and `--resume` goes on from there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import click
import numpy as np

from nnfunc.cli.common import (
    FRACTION,
    BadInput,
    Command,
    OutputPath,
    check_output,
    cli_errors,
    column_names,
    counted,
    warnings_as_lines,
)
from nnfunc.csvdata import load_csv
from nnfunc.datasets import TASKS, Dataset, dataset_names, load_dataset
from nnfunc.names import shown_path
from nnfunc.pipeline import OverparameterizedWarning, default_config
from nnfunc.sweep import SWEEPABLE, SweepResult, check_sweep, grid, random_search, run_sweep
from nnfunc.sweep_results import load_results, paths
from nnfunc.sweep_space import fixed_settings, parse_values, read_space_file


def _dataset(name: str, options: dict[str, Any]) -> Dataset:
    """The bundled dataset, or the CSV file read as `nnfunc train --data` reads it."""
    if options["csv_path"] is None:
        return load_dataset(name, seed=options["data_seed"])
    return load_csv(
        options["csv_path"],
        target=column_names("--target", options["target"]),
        features=column_names("--features", options["features"]),
        task=options["task"],
    )


def _base(dataset: Dataset, csv_path: str | None, fixed: Any, val_split: float | None):
    """The configuration every swept one starts from: `nnfunc train`'s defaults, then [fixed]."""
    base = default_config(None if csv_path is not None else dataset.name)
    base = attrs.evolve(base, **fixed)  # already checked by fixed_settings
    if val_split is None:  # hold out a validation split to rank configurations, unless tiny data
        val_split = base.val_split or (0.2 if base.test_split else 0.0)
    return attrs.evolve(base, val_split=val_split)


def _check_outputs(options: dict[str, Any], config_file: str | None) -> None:
    """Refuse unusable output paths (and --plot without matplotlib) before any work starts."""
    inputs = {"--data": options["csv_path"], "--config": config_file}
    if os.path.isdir(options["out"]) or options["out"].endswith(("/", os.sep)):
        raise BadInput(f"{options['out']}: is a directory; give a file name")
    suffix = Path(options["out"]).suffix
    if suffix.lower() not in ("", ".csv", ".json"):
        raise BadInput(
            f"{options['out']}: the results are a .csv table with a .json twin beside it; end "
            f"the name with .csv (or give none), not {suffix}"
        )
    try:
        csv_path, json_path = (str(p) for p in paths(options["out"]))
    except ValueError:
        raise BadInput(f"{options['out']}: is not a file name") from None
    check_output(csv_path, others=inputs)
    check_output(json_path, others=inputs)
    outputs = {**inputs, "--out": csv_path, "results JSON": json_path}
    plot = options["plot_path"]
    if plot:
        from nnfunc.plotting import plot_format

        with cli_errors():
            plot_format(plot)
        check_output(plot, others=outputs)
    if options["save_best"]:
        check_output(options["save_best"], others={**outputs, "--plot": plot})


def _backend(jobs: int | None, scheduler: str | None, dask_local: int | None, n_tasks: int):
    """A context manager yielding the backend the options ask for."""
    from nnfunc import sweep_backends as sb

    if scheduler and dask_local:
        raise BadInput("give --scheduler or --dask-local, not both")
    if (scheduler or dask_local) and jobs is not None:
        raise BadInput("--jobs picks local processes; with Dask, workers are set by the cluster")
    try:
        if scheduler:
            return sb.remote_dask(scheduler)
        if dask_local:
            return sb.local_dask(dask_local)
        n_jobs = jobs if jobs is not None else min(sb.default_jobs(), max(n_tasks, 1))
        if n_jobs == 1:  # one process needs no joblib
            return contextlib.nullcontext(sb.serial())
        try:
            return contextlib.nullcontext(sb.joblib_backend(n_jobs))
        except ImportError:
            if jobs is not None:
                raise
            return contextlib.nullcontext(sb.serial())
    except ImportError as exc:
        raise BadInput(str(exc)) from None


@contextlib.contextmanager
def _entered(backend_context: Any) -> Iterator[Any]:
    """Enter a backend's context, turning a missing extra or an unreachable Dask scheduler into
    one line (the Dask contexts import and connect only when entered)."""
    stack = contextlib.ExitStack()
    try:
        backend = stack.enter_context(backend_context)
    except ImportError as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:  # distributed's connection timeouts are OSErrors
        raise BadInput(f"cannot reach the Dask scheduler: {' '.join(str(exc).split())}") from None
    with stack:
        yield backend


def _describe(row: dict[str, Any], names: list[str]) -> str:
    """`hidden=16x16 lr=0.01`: the swept values of a row, floats to 4 significant digits."""
    parts = []
    for name in names:
        value = row[name]
        if name == "hidden":
            value = "x".join(map(str, value)) or "none"
        elif value is None:  # as the grid was written: --batch-size full, --lr default
            value = {"batch_size": "full", "lr": "default"}.get(name, "none")
        elif isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{name}={value}")
    return " ".join(parts) or "base config"


def _stat(row: dict[str, Any], column: str) -> str:
    mean, std = row.get(f"{column}_mean"), row.get(f"{column}_std")
    if mean is None:
        return "-"
    return f"{mean:.4f}" + (f" ± {std:.4f}" if std is not None else "")


def _report(result: SweepResult, names: list[str], seconds: float) -> None:
    """Print the best configurations, one line each, and the winner."""
    meta, rows = result.meta, result.rows
    ranked_by = meta["ranked_by"].removesuffix("_mean")
    test = f"test_{meta['metric']}"
    n_failed = sum(r["failed"] for r in rows)
    click.echo(
        f"{meta['dataset']}: {counted(len(rows), 'configuration')} x "
        f"{counted(meta['trials'], 'trial')} ({seconds:.1f} s here), "
        f"{counted(n_failed, 'failed trial')}; ranked by {ranked_by}"
    )
    ranked = sorted(
        (r for r in rows if r.get(meta["ranked_by"]) is not None),
        key=lambda r: -r[meta["ranked_by"]],
    )
    width = max((len(_describe(r, names)) for r in ranked[:10]), default=0)
    for row in ranked[:10]:
        extra = (
            f"  {test} {_stat(row, test)}" if ranked_by != test and test + "_mean" in row else ""
        )
        failed = f"  ({row['failed']} failed)" if row["failed"] else ""
        described = _describe(row, names).ljust(width)
        click.echo(f"  {described}  {ranked_by} {_stat(row, ranked_by)}{extra}{failed}")
    best = result.best
    if best is not None:
        click.echo(f"best: {_describe(best, names)}")


SPACE_HELP = {
    "hidden": "Hidden layer sizes: 16, 16x16 (two layers), 3..40 (every size), 4..64:5 (5 sizes).",
    "activation": "Hidden activations, comma-separated: relu,tanh.",
    "optimizer": "Optimizers, comma-separated: sgd,adam.",
    "lr": "Learning rates: 0.01,0.1 or 1e-4..1e-1:4 (4 log-spaced); default = optimizer's own.",
    "batch_size": "Batch sizes: 10,32,full.",
    "l2": "L2 penalties: 0,1e-4,1e-3.",
    "epochs": "Epoch counts: 10,50 or 10..100:4.",
}


def _space_options(command):
    for name in reversed(SWEEPABLE):
        flags = ["--" + name.replace("_", "-")] + (["--layers"] if name == "hidden" else [])
        command = click.option(*flags, name, metavar="VALUES", help=SPACE_HELP[name])(command)
    return command


@click.command(cls=Command)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="TOML or JSON file: swept values, [fixed] settings, dataset, trials, seed, random.",
)
@_space_options
@click.option(
    "--dataset",
    type=click.Choice(dataset_names()),
    default=None,
    help="Bundled dataset to train on (its recipe is the base config) [default: iris].",
)
@click.option(
    "--data",
    "--csv",
    "csv_path",
    metavar="CSV",
    type=click.Path(dir_okay=False),
    help="Train on this CSV file instead of a bundled dataset, with nnfunc train's defaults "
    "for a CSV file as the base config.",
)
@click.option(
    "--target", help="Target column(s) of the CSV file, comma-separated [default: the last]."
)
@click.option(
    "--features",
    metavar="COLUMNS",
    help="Feature columns of the CSV file, comma-separated [default: all but the targets].",
)
@click.option("--task", type=click.Choice(TASKS), help="classify or regress [default: inferred].")
@click.option(
    "--data-seed",
    type=click.IntRange(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="Seed of a generated dataset.",
)
@click.option(
    "--random",
    "n_random",
    type=click.IntRange(min=1),
    metavar="N",
    help="Random search: draw N configurations instead of the full grid.",
)
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    metavar="K",
    help="Trials (seeds) per configuration [default: 3].",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    help="Base seed: trial seeds (and random draws) derive from it [default: 0].",
)
@click.option(
    "--val-split",
    type=FRACTION,
    help="Validation share that ranks configurations [default: 0.2 when there is a "
    "test split, so the test metric stays unbiased].",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    help="Local worker processes (joblib) [default: every core].",
)
@click.option("--scheduler", metavar="tcp://HOST:PORT", help="Run trials on this Dask cluster.")
@click.option(
    "--dask-local",
    type=click.IntRange(min=1),
    metavar="N",
    help="Start a local Dask cluster of N workers for the sweep.",
)
@click.option(
    "--out",
    type=OutputPath(),
    default="sweep.csv",
    show_default=True,
    help="Results table, NAME.csv; NAME.json beside it keeps every trial.",
)
@click.option("--resume", is_flag=True, help="Keep the rows in --out and run only the rest.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
@click.option(
    "--plot",
    "plot_path",
    type=OutputPath(),
    metavar="FILE",
    help="Draw the metric against the swept parameter, with error bars; the suffix picks the "
    "format: .png, .svg, .pdf.",
)
@click.option("--plot-x", type=click.Choice(SWEEPABLE), help="Parameter on the plot's x axis.")
@click.option(
    "--save-best",
    type=OutputPath(),
    metavar="PATH",
    help="Retrain the best configuration (its best seed) and save the model file.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary (as train).")
def sweep(config_file: str | None, **options: Any) -> None:
    """Train every configuration K times with seeds from one base seed; tabulate mean and std.

    \b
    The hidden-size experiment on the moons data:
      nnfunc sweep --dataset moons --hidden 3..40 --trials 3 \\
          --out moons-hidden.csv --plot moons-hidden.png --save-best moons-best.msgpack
    """
    if options["resume"] and options["overwrite"]:
        raise BadInput("give --resume or --overwrite, not both")
    if options["target"] is not None and options["csv_path"] is None:
        raise BadInput("--target selects a column of a --data CSV file")
    if options["features"] is not None and options["csv_path"] is None:
        raise BadInput("--features selects columns of a --data CSV file")
    _check_outputs(options, config_file)
    out = options["out"]
    existing = [str(p) for p in paths(out) if p.exists()]
    if existing and not (options["resume"] or options["overwrite"]):
        raise BadInput(f"{existing[0]} exists; --resume to go on with it, --overwrite to replace")
    with cli_errors(), np.errstate(all="ignore"):
        settings = read_space_file(config_file) if config_file else {}
        dataset, base, configs, trials, seed = _plan(settings, options)
        check_sweep(dataset, configs, base=base, task=options["task"])
    backend_context = _backend(
        options["jobs"], options["scheduler"], options["dask_local"], len(configs) * trials
    )
    progress = _Progress(quiet=options["quiet"])
    start = time.perf_counter()
    try:
        # joblib warns, on Ctrl-C, of the trials it cancels; the line below says what was kept
        with warnings.catch_warnings(), _entered(backend_context) as backend:
            warnings.filterwarnings("ignore", message=r".*tasks which were still being processed")
            result = run_sweep(
                dataset,
                configs,
                base=base,
                trials=trials,
                seed=seed,
                task=options["task"],
                backend=backend,
                out=out,
                resume=options["resume"],
                on_start=progress.start,
                on_trial=progress.update,
            )
    except KeyboardInterrupt:
        progress.close()
        done = len(load_results(out).rows) if paths(out)[1].exists() else 0
        click.echo(
            f"interrupted: {done} configuration(s) saved in {out}; "
            "run the same command with --resume to finish",
            err=True,
        )
        sys.exit(130)
    except ValueError as exc:  # a results file of another sweep, a bad value in the grid
        raise BadInput(str(exc)) from None
    except (OSError, RuntimeError) as exc:  # no scheduler there, workers without nnfunc
        raise BadInput(f"sweep failed: {exc}") from None
    finally:
        progress.close()
    _finish(result, dataset, options, time.perf_counter() - start)


def _plan(settings: dict[str, Any], options: dict[str, Any]):
    """The dataset, base config, configurations, trials and seed: options over the file."""
    for key in ("dataset", "trials", "seed", "random"):
        option = "n_random" if key == "random" else key
        if key == "dataset" and options["csv_path"] is not None:
            continue  # --data on the command line wins over the file's dataset
        if options[option] is None:
            options[option] = settings.get(key)
    if options["dataset"] is not None and options["csv_path"] is not None:
        raise ValueError("give --dataset or --data, not both")
    name = options["dataset"] or "iris"
    if name not in dataset_names():
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(dataset_names())}")
    numbers = {}
    for key, default in (("trials", 3), ("seed", 0), ("n_random", 0)):
        given = options[key] is not None
        value = options[key] if given else default
        minimum = 0 if key == "seed" or not given else 1  # random = 0 is no random search
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{key.removeprefix('n_')}: {value!r} is not a valid count or seed")
        numbers[key] = value
    n_random = numbers["n_random"]
    raw = {n: options[n] if options[n] is not None else settings.get(n) for n in SWEEPABLE}
    space = {n: parse_values(n, v, random=bool(n_random)) for n, v in raw.items() if v is not None}
    configs = random_search(space, n_random, seed=numbers["seed"]) if n_random else grid(space)
    options["swept"] = [n for n in SWEEPABLE if n in space]
    fixed = fixed_settings(settings.get("fixed", {}))
    with warnings_as_lines():  # a doubtful column: a warning line
        dataset = _dataset(name, options)
    base = _base(dataset, options["csv_path"], fixed, options["val_split"])
    return dataset, base, configs, numbers["trials"], numbers["seed"]


class _Progress:
    """A progress bar over trials on stderr, drawn only when stderr is a terminal."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.bar: Any = None
        self.quiet = quiet

    def start(self, total: int) -> None:
        if total and sys.stderr.isatty() and not self.quiet:
            self.bar = click.progressbar(length=total, label="trials", file=sys.stderr)
            self.bar.__enter__()

    def update(self, result: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _warn_trials(result: SweepResult, names: list[str]) -> None:
    """The trials' warnings (more parameters than rows, say) as one line on stderr."""
    warned = []
    for row in result.rows:
        notes = [n for run in row.get("runs", ()) for n in run.get("warnings", ())]
        if notes:
            warned.append((row, notes[0]))
    if not warned:
        return
    row, note = warned[0]
    if len(warned) == 1:
        click.echo(f"Warning: {_describe(row, names)}: {note}", err=True)
    else:
        click.echo(
            f"Warning: {len(warned)} of {counted(len(result.rows), 'configuration')} warned; "
            f"the first, {_describe(row, names)}: {note}",
            err=True,
        )


def _finish(result: SweepResult, dataset: Dataset, options: dict[str, Any], seconds: float):
    """Report (unless quiet), then draw the figure and save the best model if asked."""
    say = (lambda text: None) if options["quiet"] else click.echo
    if not options["quiet"]:
        _report(result, options["swept"], seconds)
    _warn_trials(result, options["swept"])
    csv_path, json_path = paths(options["out"])
    say(f"wrote {shown_path(csv_path)} and {shown_path(json_path)}")
    if result.best is None:
        first = next((e for r in result.rows for e in r["errors"]), "no trial ran")
        first = " ".join(str(first).split())
        raise click.ClickException(f"every trial failed; first error: {first}")  # exit 1
    if options["plot_path"]:
        from nnfunc.sweep_plot import plot_sweep

        with cli_errors():
            x = plot_sweep(result, options["plot_path"], x=options["plot_x"])
        say(f"plot of {result.meta['metric']} against {x}: {options['plot_path']}")
    if options["save_best"]:
        from nnfunc.modelfile import save_model
        from nnfunc.sweep import train_best

        # the sweep already said it has more parameters than rows
        quiet_on = (OverparameterizedWarning,)
        with cli_errors(), np.errstate(all="ignore"), warnings_as_lines(skip=quiet_on):
            model = train_best(dataset, result, task=options["task"])
            save_model(model, options["save_best"])
        where = shown_path(options["save_best"])
        say(f"best model (seed {model.config['seed']}) saved to {where}")
