"""Sweeps: train every configuration of a hyper-parameter grid (or a random sample) K times.

A trial is one pure call, `run_trial(dataset, task)`, so any engine that maps a function over
tasks can run it (`nnfunc.sweep_backends`: in-process, joblib, Dask). Trial k of every
configuration trains with the same seed, derived from the base seed and k alone, so configurations
are compared on the same splits and weight streams, and the table is bit-identical whatever the
engine or the number of workers. Rows are saved as configurations complete (`sweep_results`).
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from nnfunc.datasets import DATASETS, Dataset, load_dataset
from nnfunc.model import Model
from nnfunc.pipeline import (
    CSV_DEFAULTS,
    RECIPES,
    TrainConfig,
    check_training,
    infer_task,
    overparameterized,
    train_model,
)
from nnfunc.spec import mlp_spec
from nnfunc.sweep_results import (
    TIME_COLUMNS,
    check_compatible,
    load_results,
    paths,
    save_results,
)

# The hyper-parameters a sweep varies; every other TrainConfig field comes from the base config.
SWEEPABLE = ("hidden", "activation", "optimizer", "lr", "batch_size", "l2", "epochs")
SPLIT_PREFIX = {"train": "train", "validation": "val", "test": "test"}

__all__ = [
    "SWEEPABLE",
    "TIME_COLUMNS",
    "Range",
    "SweepResult",
    "best_row",
    "check_sweep",
    "grid",
    "random_search",
    "run_sweep",
    "run_trial",
    "train_best",
    "trial_seeds",
]

Backend = Callable[[Dataset, Sequence[dict[str, Any]]], Iterator[dict[str, Any]]]


@attrs.frozen
class Range:
    """An interval to sample in a random search: uniform, log-uniform (`log`), or integers."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __attrs_post_init__(self) -> None:
        if not self.low <= self.high or (self.log and self.low <= 0):
            raise ValueError(f"bad range {self.low}..{self.high}" + (" (log)" * self.log))

    def sample(self, rng: np.random.Generator) -> float | int:
        """One value drawn from the interval."""
        if self.integer:
            return int(rng.integers(int(self.low), int(self.high), endpoint=True))
        if self.log:
            return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        return float(rng.uniform(self.low, self.high))


def _check_keys(space: Mapping[str, Any]) -> None:
    unknown = sorted(set(space) - set(SWEEPABLE))
    if unknown:
        raise ValueError(f"cannot sweep {', '.join(unknown)}; sweepable: {', '.join(SWEEPABLE)}")


def _normal(name: str, value: Any) -> Any:
    """A parameter value in its TrainConfig form (hidden as a tuple of ints)."""
    if name == "hidden":
        return (int(value),) if isinstance(value, (int, np.integer)) else tuple(map(int, value))
    return value


# The most configurations one sweep runs: a grid of 1..1000 x 1..1000 hung building its
# million entries, and no sweep of that size could finish anyway.
MAX_CONFIGURATIONS = 10_000


def grid(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the listed values, in order (the last parameter varies fastest)."""
    _check_keys(space)
    for name, values in space.items():
        if isinstance(values, Range) or not len(values):
            raise ValueError(f"{name}: a grid needs a non-empty list of values, got {values!r}")
    size = math.prod(len(values) for values in space.values())
    if size > MAX_CONFIGURATIONS:
        raise ValueError(
            f"the grid has {size:,} configurations, more than the {MAX_CONFIGURATIONS:,} a sweep "
            "runs: use fewer values, or a random search (--random N)"
        )
    names = list(space)
    choices = [[_normal(n, v) for v in space[n]] for n in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*choices)]


def random_search(
    space: Mapping[str, Sequence[Any] | Range], n: int, *, seed: int
) -> list[dict[str, Any]]:
    """Up to `n` distinct configurations drawn from `space` (lists: uniform choice; ranges);
    fewer when the space holds fewer (it stops after 50 * n draws)."""
    _check_keys(space)
    if n > MAX_CONFIGURATIONS:
        raise ValueError(
            f"random search of {n:,} configurations: a sweep runs at most {MAX_CONFIGURATIONS:,}"
        )
    rng = np.random.default_rng(seed)
    if not any(isinstance(values, Range) for values in space.values()):
        n = min(n, math.prod(len(values) for values in space.values()))  # all there are
    found: dict[str, dict[str, Any]] = {}
    for _ in range(50 * n):
        if len(found) == n:
            break
        draw = {
            name: _normal(
                name,
                values.sample(rng)
                if isinstance(values, Range)
                else values[int(rng.integers(len(values)))],
            )
            for name, values in space.items()
        }
        found.setdefault(repr(sorted(draw.items())), draw)
    return list(found.values())


def trial_seeds(seed: int, trials: int) -> tuple[int, ...]:
    """Training seed of each trial; trial k's seed depends on `seed` and k only."""
    children = np.random.SeedSequence(seed).spawn(trials)
    return tuple(int(child.generate_state(1, np.uint32)[0]) for child in children)


def run_trial(dataset: Dataset, task: Mapping[str, Any]) -> dict[str, Any]:
    """Train one model as `task` says and return its metric on each split, or the error raised.

    Never raises for a failed training run (divergence, bad settings): the error is the result.
    """
    result: dict[str, Any] = {"index": task["index"], "trial": task["trial"]}
    result["seed"] = task["config"]["seed"]
    start = time.perf_counter()
    try:
        # Divergence is reported, not warned; other warnings are recorded (a worker's printed
        # warnings would reach nobody, or land in the middle of the progress bar).
        with (
            np.errstate(over="ignore", invalid="ignore"),
            warnings.catch_warnings(record=True) as seen,
        ):
            warnings.simplefilter("always")
            config = TrainConfig.from_dict(task["config"])
            model = train_model(dataset, config, task=task["task"], warn=False)
    except Exception as exc:  # recorded in the table; the sweep goes on
        result["error"] = f"{type(exc).__name__}: {exc}"
    else:
        notes = [" ".join(str(w.message).split()) for w in seen]
        metric = "accuracy" if model.task == "classify" else "r2"
        result["metrics"] = {split: float(m[metric]) for split, m in model.metrics.items()}
        result["epochs_run"] = int(model.config["epochs_run"])
        held_out = any(split != "train" for split in model.metrics)
        note = overparameterized(
            model.n_params, model.metrics["train"]["n_samples"], held_out=held_out
        )
        notes += [note] if note is not None else []
        if notes:
            result["warnings"] = list(dict.fromkeys(notes))
    result["seconds"] = time.perf_counter() - start
    return result


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None where undefined)."""
    if not values:
        return None, None
    array = np.array(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if len(array) > 1 else None
    return float(array.mean()), std


def _splits(config: Mapping[str, Any]) -> list[str]:
    """The splits every trial reports on: train, then validation and test where held out."""
    held_out = {"validation": config["val_split"], "test": config["test_split"]}
    return ["train", *(split for split, share in held_out.items() if share)]


def _summarize(index: int, config: dict[str, Any], runs: list[dict], metric: str) -> dict:
    """One table row from the K trial results of one configuration."""
    runs = sorted(runs, key=lambda r: r["trial"])
    row: dict[str, Any] = {"index": index}
    row.update({name: config[name] for name in SWEEPABLE})
    ok = [r for r in runs if "error" not in r]
    row["trials"] = len(runs)
    row["failed"] = len(runs) - len(ok)
    for split in _splits(config):
        mean, std = _stats([r["metrics"][split] for r in ok])
        prefix = SPLIT_PREFIX[split]
        row[f"{prefix}_{metric}_mean"], row[f"{prefix}_{metric}_std"] = mean, std
    seconds = [r["seconds"] for r in runs]
    row[TIME_COLUMNS[0]] = float(np.mean(seconds))
    row[TIME_COLUMNS[1]] = float(np.sum(seconds))
    row["seeds"] = [r["seed"] for r in runs]
    row["errors"] = [
        f"trial {r['trial']} (seed {r['seed']}): {r['error']}" for r in runs if "error" in r
    ]
    row["runs"] = runs
    row["config"] = config
    return row


def _ranked_by(config: TrainConfig, metric: str) -> str:
    """The column that picks the best configuration: validation, else test, else train."""
    split = "validation" if config.val_split else "test" if config.test_split else "train"
    return f"{SPLIT_PREFIX[split]}_{metric}_mean"


def best_row(rows: Sequence[dict[str, Any]], column: str) -> dict[str, Any] | None:
    """The row with the highest `column`, preferring configurations none of whose trials failed."""
    scored = [r for r in rows if r.get(column) is not None]
    clean = [r for r in scored if not r["failed"]] or scored
    # Means compared to 12 significant digits: mean(27/29, 1) and mean(28/29, 28/29) are one
    # accuracy, which rounding would otherwise split; max then keeps the first of the ties.
    return max(clean, key=lambda r: float(f"{r[column]:.12g}"), default=None)


@attrs.frozen
class SweepResult:
    """The table (one row per configuration, in sweep order) and how it was made."""

    rows: tuple[dict[str, Any], ...] = attrs.field(converter=tuple)
    meta: dict[str, Any]

    @property
    def best(self) -> dict[str, Any] | None:
        """The winning row (by `meta["ranked_by"]`), or None when every trial failed."""
        return best_row(self.rows, self.meta["ranked_by"])


def _key(config: Mapping[str, Any]) -> str:
    """A configuration's identity for resuming: its sweepable values, canonically written."""
    return repr([(n, list(config[n]) if n == "hidden" else config[n]) for n in SWEEPABLE])


def _validate(base: TrainConfig, configs: Sequence[Mapping[str, Any]], n_in: int) -> list[dict]:
    """Each distinct configuration as a full TrainConfig dict (no seed); bad values raise here."""
    full: dict[str, dict[str, Any]] = {}  # by key, so a repeated configuration runs once
    for params in configs:
        _check_keys(params)
        try:
            config = attrs.evolve(base, **{n: _normal(n, v) for n, v in params.items()})
            mlp_spec((n_in, *config.hidden, 2), activation=config.activation)  # checks the names
        except (TypeError, ValueError) as exc:
            # attrs' `in_` validator puts the Attribute record in args[1:]: show the message only
            raise ValueError(f"{_describe(params)}: {exc.args[0] if exc.args else exc}") from None
        data = config.to_dict()
        del data["seed"]
        full.setdefault(_key(data), data)
    return list(full.values())


def _describe(params: Mapping[str, Any]) -> str:
    """`hidden=16x16 lr=0.01`: a configuration's swept values."""
    parts = []
    for name, value in params.items():
        if name == "hidden":
            value = "x".join(map(str, _normal(name, value))) or "none"
        parts.append(f"{name}={value}")
    return " ".join(parts) or "the base configuration"


def check_sweep(
    dataset: Dataset,
    configs: Sequence[Mapping[str, Any]],
    *,
    base: TrainConfig,
    task: str | None = None,
) -> None:
    """Raise ValueError, naming the configuration, for one that no trial could train.

    What `pipeline.check_training` refuses (a network too big for a model file or for memory, a
    loss that does not fit the targets, too few rows for the splits) is refused here, before any
    trial runs, instead of failing every trial of that configuration.
    """
    _validate(base, configs, dataset.n_features)
    seen: set[str] = set()
    for params in configs:
        config = attrs.evolve(base, **{n: _normal(n, v) for n, v in params.items()})
        key = _key(config.to_dict())
        if key in seen:
            continue
        seen.add(key)
        try:
            check_training(dataset, config, task=task)
        except ValueError as exc:
            raise ValueError(f"{_describe(params)}: {exc}") from None


def _default_base(dataset: Dataset) -> TrainConfig:
    """A bundled dataset's recipe for that dataset (any seed or size of it); `CSV_DEFAULTS` for
    other data, even a user's file that happens to be called iris.csv."""
    bundled = dataset.name in RECIPES and dataset.name in DATASETS
    if bundled and _columns(load_dataset(dataset.name)) == _columns(dataset):
        return RECIPES[dataset.name]
    return CSV_DEFAULTS


def _columns(dataset: Dataset) -> tuple[Any, ...]:
    return dataset.feature_names, dataset.target_names, dataset.task


def run_sweep(
    dataset: Dataset,
    configs: Sequence[Mapping[str, Any]],
    *,
    base: TrainConfig | None = None,
    trials: int = 3,
    seed: int = 0,
    task: str | None = None,
    backend: Backend | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Train each configuration (a dict of SWEEPABLE values over `base`) `trials` times.

    With `out`, the CSV and JSON tables are rewritten atomically as each configuration completes;
    `resume` keeps the rows already there and skips their configurations. `base` defaults to the
    dataset's recipe (`CSV_DEFAULTS`, as `nnfunc train` uses, for other data); `backend` to running
    the trials here, one after the other. `on_start` is told how many trials will run, `on_trial`
    sees each trial's result as it arrives.
    """
    from nnfunc.sweep_backends import serial

    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    base = base if base is not None else _default_base(dataset)
    task_name = infer_task(dataset, task)
    metric = "accuracy" if task_name == "classify" else "r2"
    fixed = {k: v for k, v in base.to_dict().items() if k not in (*SWEEPABLE, "seed")}
    meta = {
        "dataset": dataset.name,
        "dataset_sha256": dataset.sha256,
        "targets": list(dataset.target_names),  # one file can be read with other columns
        "features": list(dataset.feature_names),
        "task": task_name,
        "metric": metric,
        "trials": trials,
        "seed": seed,
        "seeds": list(trial_seeds(seed, trials)),
        "fixed": fixed,
        "ranked_by": _ranked_by(base, metric),
    }
    full = _validate(base, configs, dataset.n_features)
    rows: dict[int, dict[str, Any]] = {}
    extra: list[dict[str, Any]] = []
    if resume and out is not None and paths(out)[1].exists():
        old = load_results(out)
        check_compatible(old.meta, meta)
        position = {_key(c): i for i, c in enumerate(full)}
        for row in old.rows:
            i = position.pop(_key(row["config"]), None)
            if i is None:
                extra.append(row)
            else:
                rows[i] = {**row, "index": i, "runs": [{**r, "index": i} for r in row["runs"]]}

    def table() -> SweepResult:
        ordered = [rows[i] for i in sorted(rows)]
        tail = [{**r, "index": len(full) + j} for j, r in enumerate(extra)]
        return SweepResult([*ordered, *tail], meta)

    tasks = [
        {"index": i, "trial": k, "task": task_name, "config": {**c, "seed": s}}
        for i, c in enumerate(full)
        if i not in rows
        for k, s in enumerate(meta["seeds"])
    ]
    if on_start is not None:
        on_start(len(tasks))
    pending: dict[int, list[dict[str, Any]]] = {}
    results = (backend or serial())(dataset, tasks)
    try:
        for result in results:
            if on_trial is not None:
                on_trial(result)
            i = result["index"]
            pending.setdefault(i, []).append(result)
            if len(pending[i]) == trials:
                rows[i] = _summarize(i, full[i], pending.pop(i), metric)
                if out is not None:
                    save_results(out, table())
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
    return table()


def train_best(dataset: Dataset, result: SweepResult, *, task: str | None = None) -> Model:
    """Retrain the best configuration with the seed of its best trial (the same model, bit for bit).

    Warns if the retrained model's metric differs from the recorded one (another numpy, say).
    """
    row = result.best
    if row is None:
        raise ValueError("no trial succeeded, so there is no best configuration")
    split = next(s for s, p in SPLIT_PREFIX.items() if result.meta["ranked_by"].startswith(p))
    ok = [r for r in row["runs"] if "error" not in r]
    run = max(ok, key=lambda r: r["metrics"][split])
    config = TrainConfig.from_dict({**row["config"], "seed": run["seed"]})
    model = train_model(dataset, config, task=task)
    metric = result.meta["metric"]
    value = float(model.metrics[split][metric])
    if not math.isclose(value, run["metrics"][split], rel_tol=0, abs_tol=0):
        warnings.warn(
            f"retrained best model scores {value} on {split}, the sweep recorded "
            f"{run['metrics'][split]}",
            RuntimeWarning,
            stacklevel=2,
        )
    return model
