"""Wall time of the moons hidden-size sweep (hidden 3 to 40, 3 trials) on 1 and 2 local workers.

Runs the sweep `nnfunc sweep --dataset moons --hidden 3..40 --trials 3` runs, in-process
(1 worker), through joblib with 2 worker processes, and on a 2-worker local Dask cluster; checks
that the three tables agree, and writes benchmarks/SWEEP_RESULTS.md. Start-up of the worker pools
is inside the timed region, as a user of the command pays for it.

    python -m benchmarks.sweep_bench [--repeats N] [--quick] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import attrs
import numpy as np

from nnfunc.datasets import load_dataset
from nnfunc.pipeline import RECIPES
from nnfunc.sweep import SweepResult, grid, run_sweep
from nnfunc.sweep_backends import joblib_backend, local_dask, serial
from nnfunc.sweep_results import TIME_COLUMNS, csv_text

RESULTS = Path(__file__).with_name("SWEEP_RESULTS.md")


def engines() -> dict[str, Callable[[], AbstractContextManager]]:
    """Name -> a factory of a context manager that yields the backend."""
    return {
        "1 worker (in-process)": lambda: nullcontext(serial()),
        "2 workers (joblib processes)": lambda: nullcontext(joblib_backend(2)),
        "2 workers (local Dask cluster)": lambda: local_dask(2),
    }


def sweep_once(engine: Callable[[], AbstractContextManager], hidden: range, trials: int):
    """One timed sweep; returns (seconds, result)."""
    dataset = load_dataset("moons")
    base = attrs.evolve(RECIPES["moons"], val_split=0.2)  # what `nnfunc sweep` trains with
    start = time.perf_counter()
    with engine() as backend:
        result = run_sweep(
            dataset, grid({"hidden": list(hidden)}), base=base, trials=trials, backend=backend
        )
    return time.perf_counter() - start, result


def without_times(result: SweepResult) -> str:
    """The CSV table with the wall-clock columns blanked, for comparing engines."""
    lines = csv_text(result).splitlines()
    header = lines[0].split(",")
    drop = [header.index(c) for c in TIME_COLUMNS]
    return "\n".join(
        ",".join(c for i, c in enumerate(line.split(",")) if i not in drop) for line in lines
    )


def report(
    times: dict[str, list[float]],
    loads: dict[str, list[float]],
    identical: bool,
    hidden: range,
    trials: int,
) -> str:
    """The markdown results page."""
    base = statistics.median(next(iter(times.values())))
    n_trials = len(hidden) * trials
    rows = [
        f"| {name} | {' / '.join(f'{t:.1f}' for t in ts)} | {statistics.median(ts):.1f} | "
        f"{base / statistics.median(ts):.2f}x | {' / '.join(f'{x:.1f}' for x in loads[name])} |"
        for name, ts in times.items()
    ]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            "# Sweep benchmark: the moons hidden-size experiment",
            "",
            f"`nnfunc sweep --dataset moons --hidden {hidden.start}..{hidden.stop - 1} --trials "
            f"{trials}`: {len(hidden)} hidden sizes x {trials} trial(s) "
            f"({n_trials} trainings of the moons recipe: 5000 rows, SGD lr 0.1, 10 epochs, "
            "batch 10, 20% test and 20% validation held out).",
            "",
            "| engine | wall time per run (s) | median (s) | speed-up | load before each run |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Same table from every engine (times aside): {'yes' if identical else 'NO'}",
            "",
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}; load average after the runs: {load}. The machine is "
            "shared with other work (the load column: 1-minute load average before each run, "
            "which still counts the previous run's own workers), "
            "so timings are noisy. Worker start-up is included in every time.",
            "",
            "Reproduce: `python -m benchmarks.sweep_bench`",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs per engine")
    parser.add_argument("--quick", action="store_true", help="hidden 3..8, 1 trial (smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown file to write")
    args = parser.parse_args()
    hidden, trials = (range(3, 9), 1) if args.quick else (range(3, 41), 3)
    times: dict[str, list[float]] = {}
    loads: dict[str, list[float]] = {}
    tables = set()
    for _ in range(args.repeats):
        for name, engine in engines().items():
            loads.setdefault(name, []).append(os.getloadavg()[0])
            seconds, result = sweep_once(engine, hidden, trials)
            times.setdefault(name, []).append(seconds)
            tables.add(without_times(result))
            print(f"{name}: {seconds:.1f} s", flush=True)
    text = report(times, loads, len(tables) == 1, hidden, trials)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
