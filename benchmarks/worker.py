"""One benchmark process: `python -m benchmarks.worker '<json task>'` prints JSON results.

`benchmarks.run` starts these so each measurement runs in the environment (and the fresh process)
it needs. Tasks: `serve` (one implementation's runs, one JSON command per line), `fresh` (time one
`train_model` run in this new process), `long_lived` (time it again for every line on stdin),
`memory` (peak memory of one run) and `profile`.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import warnings
from time import perf_counter

import attrs
import numpy as np

from benchmarks import limits
from benchmarks.peers import RUNNERS
from benchmarks.workloads import QUICK, WORKLOADS, Problem, Workload, make_problem


def _workloads(quick: bool) -> dict[str, Workload]:
    return QUICK if quick else WORKLOADS


def twin_sizes(workload: Workload) -> tuple[int, ...] | None:
    """scikit-learn models two classes with one logistic output: the sizes it will use."""
    return (*workload.sizes[:-1], 1) if workload.sizes[-1] == 2 else None


def speed_probe(n: int = 200_000) -> float:
    """Seconds a fixed pure-Python loop takes: the same work every time, so its spread over a
    benchmark run shows how much the machine's own speed drifted meanwhile (on one core)."""
    start = perf_counter()
    total = 0
    for i in range(n):
        total += i
    return perf_counter() - start


_PROBE_MATRIX = np.random.default_rng(0).random((256, 256))


def gemm_probe(repeats: int = 15) -> float:
    """Seconds for fixed float64 256x256 products on the BLAS's threads: the drift of work that
    needs both cores (a single-core probe misses a slow second core)."""
    out = np.empty_like(_PROBE_MATRIX)
    np.dot(_PROBE_MATRIX, _PROBE_MATRIX, out=out)
    start = perf_counter()
    for _ in range(repeats):
        np.dot(_PROBE_MATRIX, _PROBE_MATRIX, out=out)
    return perf_counter() - start


class Server:
    """One implementation's long-lived process: answers one JSON command per line on stdin.

    `benchmarks.run` keeps one of these per implementation and sends them runs in turn, so the
    runs interleave in time (background load falls on all alike) while no two libraries share a
    process (their idle BLAS and OpenMP threads would spin against each other).
    """

    def __init__(self, impl: str, quick: bool):
        self.impl, self.quick = impl, quick
        self.problems: dict[tuple[str, bool], Problem] = {}

    def problem(self, name: str, twin: bool) -> Problem:
        if (name, twin) not in self.problems:
            workload = _workloads(self.quick)[name]
            sizes = twin_sizes(workload) if twin else None
            self.problems[name, twin] = make_problem(workload, sizes)
        return self.problems[name, twin]

    def answer(self, command: dict) -> dict:
        if "probe" in command:
            return {"seconds": speed_probe(), "gemm_seconds": gemm_probe()}
        if "run" in command:
            problem = self.problem(command["run"], command.get("twin", False))
            outcome = RUNNERS[self.impl](problem)
            w = problem.workload
            return {
                "seconds": outcome.seconds,
                "loss": outcome.loss,
                "steps": problem.n_steps,
                "title": w.title,
                "sizes": list(w.sizes),
            }
        if "gemm_epoch" in command:
            return {"seconds": limits.gemm_epoch(self.problem(command["gemm_epoch"], False))}
        if "floor_epoch" in command:
            return {"seconds": limits.floor_epoch(self.problem(command["floor_epoch"], False))}
        if "gemm_table" in command:
            w = _workloads(self.quick)["W4"]
            table = limits.gemm_table(self.problem(command["gemm_table"], False))
            rate = limits.gemm_rate(512 if self.quick else 2048, w.dtype)
            return table | {"gemm_rate_gflops": rate}
        info = {"blas": limits.blas_info(), "environment": limits.blas_environment()}
        if self.impl == "torch":
            import torch

            info["torch_threads"] = torch.get_num_threads()
            info["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "other"
        return info

    def serve(self) -> None:
        print("ready", flush=True)
        for line in sys.stdin:
            print(json.dumps(self.answer(json.loads(line))), flush=True)


def _digits_training(quick: bool):
    """W3 as `nnfunc train` runs it: a Dataset and a TrainConfig through `train_model`."""
    from benchmarks.workloads import _digits
    from nnfunc.datasets import Dataset, array_digest
    from nnfunc.pipeline import TrainConfig

    X, y = _digits()
    dataset = Dataset(
        X, y, [f"p{i}" for i in range(64)], ["digit"], "classify", "digits", array_digest(X, y)
    )
    w = _workloads(quick)["W3"]
    config = TrainConfig(
        hidden=w.sizes[1:-1], optimizer="adam", lr=w.lr, batch_size=w.batch_size, epochs=w.epochs
    )
    return dataset, config


def train_once(quick: bool) -> dict[str, float]:
    """One `train_model` run of W3: seconds, minor page faults and other programs' CPU share."""
    from nnfunc.pipeline import train_model

    dataset, config = _digits_training(quick)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    busy, own, start = limits.busy_ticks(), limits.busy_ticks(os.getpid()), perf_counter()
    train_model(dataset, config)
    seconds = perf_counter() - start
    others = (limits.busy_ticks() - busy) - (limits.busy_ticks(os.getpid()) - own)
    capacity = seconds * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    return {
        "seconds": seconds,
        "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
        "background": max(0.0, others / capacity),
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def memory(impl: str, quick: bool) -> dict:
    """Peak resident memory of one W4 run above the process's size before its data existed.

    The implementation first trains on two batches, so its libraries have made their lazy
    allocations (BLAS buffers, allocator caches) before the baseline is read.
    """
    workload = _workloads(quick)["W4"]
    warm_up = make_problem(attrs.evolve(workload, n_rows=2 * (workload.batch_size or 1)))
    RUNNERS[impl](warm_up)
    del warm_up
    gc.collect()
    base = _rss_bytes()
    problem = make_problem(workload)
    outcome = RUNNERS[impl](problem)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "base_bytes": base,
        "peak_bytes": peak,
        "used_bytes": peak - base,
        "budget": limits.memory_budget(problem),
        "loss": outcome.loss,
    }


def profile(quick: bool, top: int = 12) -> dict:
    """cProfile of nnfunc on W1 (overhead-bound) and W4 (GEMM-bound): the top functions."""
    import cProfile
    import pstats

    out = {}
    for name in ("W1", "W4"):
        problem = make_problem(_workloads(quick)[name])
        RUNNERS["nnfunc"](problem)  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        outcome = RUNNERS["nnfunc"](problem)
        profiler.disable()
        stats = pstats.Stats(profiler).stats
        rows = sorted(stats.items(), key=lambda item: -item[1][2])[:top]
        out[name] = {
            "steps": problem.n_steps,
            "seconds": outcome.seconds,
            "top": [
                {
                    "function": pstats.func_std_string(func),
                    "calls": calls,
                    "tottime_s": tottime,
                    "cumtime_s": cumtime,
                }
                for func, (_, calls, tottime, cumtime, _) in rows
            ],
        }
    return out


def main(argv: list[str]) -> None:
    task = json.loads(argv[0])
    kind, quick = task["task"], task.get("quick", False)
    warnings.simplefilter("ignore")
    if kind == "serve":
        Server(task["impl"], quick).serve()
        return
    if kind == "latency":
        from benchmarks.latency import measure

        result = measure(quick)
    elif kind == "fresh":
        result = train_once(quick)
    elif kind == "long_lived":  # one run per line read, so the caller can interleave fresh runs
        train_once(quick)  # warm-up
        print("ready", flush=True)
        for _ in sys.stdin:
            print(json.dumps(train_once(quick)), flush=True)
        return
    elif kind == "memory":
        result = memory(task["impl"], quick)
    elif kind == "profile":
        result = profile(quick)
    else:
        raise SystemExit(f"unknown task {kind!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
