"""One benchmark process: `python -m benchmarks.worker '<json task>'` prints one JSON result.

`benchmarks.run` starts these so each measurement runs in the environment (and the fresh process)
it needs. Tasks: `train` (time the workloads), `fresh` (time one `train_model` run in this new
process), `long_lived` (time it again for every line on stdin, one JSON line each), `memory`
(peak memory of one run) and `profile`.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import sys
import warnings
from time import perf_counter

import attrs

from benchmarks import limits
from benchmarks.peers import PEERS, RUNNERS, available
from benchmarks.workloads import QUICK, WORKLOADS, Workload, make_problem


def _workloads(quick: bool) -> dict[str, Workload]:
    return QUICK if quick else WORKLOADS


def _binary_sizes(workload: Workload) -> tuple[int, ...] | None:
    """scikit-learn models two classes with one logistic output: the sizes it will use."""
    return (*workload.sizes[:-1], 1) if workload.sizes[-1] == 2 else None


def train(names: list[str], impls: list[str], repeats: int, quick: bool, gemm: bool) -> dict:
    """Median training time and final loss of each implementation on each workload.

    Runs are interleaved (one of each implementation per round) so background load hits all of
    them alike; the first round is a warm-up and is not counted (quick runs have none).
    """
    impls = [name for name in impls if available(name)]
    results: dict = {"blas": limits.blas_info(), "environment": limits.blas_environment()}
    results["workloads"] = {}
    for name in names:
        workload = _workloads(quick)[name]
        problem = make_problem(workload)
        jobs = [(impl, problem) for impl in impls]
        binary = _binary_sizes(workload)
        if binary and "sklearn" in impls:  # the same problem with one logistic output
            twin = make_problem(workload, binary)
            jobs = [j for j in jobs if j[0] != "sklearn"]
            jobs += [("sklearn", twin), ("nnfunc (2-class twin)", twin)]
        times: dict[str, list[float]] = {impl: [] for impl, _ in jobs}
        losses: dict[str, float] = {}
        warm_up = 0 if quick else 1
        for round_ in range(warm_up + repeats):
            for impl, prob in jobs:
                outcome = RUNNERS[impl.split(" ")[0]](prob)
                if round_ >= warm_up:
                    times[impl].append(outcome.seconds)
                losses[impl] = outcome.loss
        entry = {
            "title": workload.title,
            "steps": problem.n_steps,
            "rows": len(problem.X),
            "runs": {
                impl: {
                    "median_s": statistics.median(ts),
                    "min_s": min(ts),
                    "times_s": ts,
                    "loss": losses[impl],
                    "sizes": list(prob.workload.sizes),
                }
                for (impl, prob), ts in zip(jobs, times.values())
            },
        }
        if gemm and name == "W4":
            entry["gemm"] = limits.gemm_epoch(problem, repeats=3 if quick else 7)
            entry["gemm_rate_gflops"] = limits.gemm_rate(512 if quick else 2048, workload.dtype)
        results["workloads"][name] = entry
    if "torch" in impls:
        import torch

        results["torch_threads"] = torch.get_num_threads()
    return results


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


def train_once(quick: bool) -> float:
    """Seconds for one `train_model` run of W3 (the training itself, not the imports)."""
    from nnfunc.pipeline import train_model

    dataset, config = _digits_training(quick)
    start = perf_counter()
    train_model(dataset, config)
    return perf_counter() - start


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
    if kind == "train":
        result = train(
            task["workloads"],
            task.get("impls", ["nnfunc", *PEERS]),
            task["repeats"],
            quick,
            task.get("gemm", True),
        )
        if task.get("latency"):
            from benchmarks.latency import measure

            result["latency"] = measure(quick)
    elif kind == "fresh":
        result = {"seconds": train_once(quick)}
    elif kind == "long_lived":  # one run per line read, so the caller can interleave fresh runs
        train_once(quick)  # warm-up
        print("ready", flush=True)
        for _ in sys.stdin:
            print(json.dumps({"seconds": train_once(quick)}), flush=True)
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
