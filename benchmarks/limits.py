"""What the hardware allows: the BLAS in use, its GEMM rate, the GEMM-only time of W4, and the
floor of W3 and W4 (their GEMMs plus Adam's element-wise passes).

`step_gemms` lists the eight matrix products of one training step (three forward, three weight
gradients, two input gradients); running them, with nnfunc's operand layouts, for every batch of
an epoch gives the time no implementation doing this arithmetic can beat with the same BLAS. The
memory budget is what the issue allows: data, parameters, optimizer state and one batch of
activations.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from time import perf_counter, sleep

import numpy as np

from benchmarks.workloads import Problem
from nnfunc.fused import SLICE_SIZE

BLAS_VARIABLES = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
)


def blas_info() -> list[dict]:
    """The BLAS libraries loaded in this process (threadpoolctl), with kernel and thread count."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"prefix": "unknown (threadpoolctl is not installed)"}]
    keys = ("prefix", "version", "architecture", "num_threads", "threading_layer")
    return [
        {key: info.get(key) for key in keys} | {"file": os.path.basename(info["filepath"])}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def busy_ticks(pid: int | None = None) -> int:
    """CPU time in clock ticks: of the whole machine (non-idle), or of one process (0 off Linux)."""
    try:
        if pid is None:
            with open("/proc/stat") as f:
                user, nice, system, _, _, irq, softirq, steal = map(int, f.readline().split()[1:9])
            return user + nice + system + irq + softirq + steal
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, all threads
    except (OSError, ValueError, IndexError):
        return 0


def settle(pids: Iterable[int], window: float = 0.05, limit: float = 2.0) -> float:
    """Wait until the processes `pids` use no CPU for `window` seconds; the seconds waited.

    After a run, a process's idle OpenBLAS or OpenMP threads spin for 0.1 s or more before they
    sleep, and meanwhile take the cores the next run (in another process) needs.
    """
    pids = list(pids)
    start = perf_counter()
    last = sum(busy_ticks(pid) for pid in pids)
    while perf_counter() - start < limit:
        sleep(window)
        now = sum(busy_ticks(pid) for pid in pids)
        if now == last:
            break
        last = now
    return perf_counter() - start


def blas_environment() -> dict[str, str | None]:
    """The environment variables that steer OpenBLAS, as this process sees them."""
    return {name: os.environ.get(name) for name in BLAS_VARIABLES}


def _time(fn, repeats: int) -> float:
    fn()  # warm-up: BLAS buffers, page faults
    times = []
    for _ in range(repeats):
        start = perf_counter()
        fn()
        times.append(perf_counter() - start)
    return statistics.median(times)


def gemm_rate(n: int = 2048, dtype: str = "float32", repeats: int = 5) -> float:
    """GFLOP/s of one square n x n product (the best this BLAS does on large matrices)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32).astype(dtype) for _ in range(2))
    out = np.empty((n, n), dtype)
    seconds = min(_time(lambda: np.matmul(a, b, out=out), 1) for _ in range(repeats))
    return 2 * n**3 / seconds / 1e9


def step_gemms(sizes: tuple[int, ...], rows: int) -> list[tuple[str, int, int, int]]:
    """(name, m, k, n) of the eight products of a step with `rows` rows (m x k times k x n)."""
    layers = range(len(sizes) - 1)
    forward = [(f"forward {i}", rows, sizes[i], sizes[i + 1]) for i in layers]
    weights = [(f"weight grad {i}", sizes[i], rows, sizes[i + 1]) for i in layers]
    inputs = [(f"input grad {i}", rows, sizes[i + 1], sizes[i]) for i in layers if i > 0]
    return forward + weights + inputs


def _operands(name: str, m: int, k: int, n: int, dtype: str) -> tuple[np.ndarray, ...]:
    """Random operands and an output for one product, laid out as nnfunc lays them out."""
    rng = np.random.default_rng(1)

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype)

    if name.startswith("weight"):  # inputs.T @ delta
        a, b = normal(k, m).T, normal(k, n)
    elif name.startswith("input"):  # delta @ W.T
        a, b = normal(m, k), normal(n, k).T
    else:
        a, b = normal(m, k), normal(k, n)
    return a, b, np.empty((m, n), dtype)


def _batch_rows(problem: Problem) -> list[int]:
    """The number of rows of each batch of one epoch."""
    n = len(problem.X)
    size = min(problem.workload.batch_size or n, n)
    return [size] * (n // size) + ([n % size] if n % size else [])


def gemm_epoch(problem: Problem) -> float:
    """Seconds for the run's matrix products alone: each step's eight GEMMs, timed end to end."""
    w = problem.workload
    rows = _batch_rows(problem)
    products = {r: [_operands(*g, w.dtype) for g in step_gemms(w.sizes, r)] for r in set(rows)}
    for a, b, out in products[rows[0]]:
        np.dot(a, b, out)  # warm-up
    start = perf_counter()
    for _ in range(w.epochs):
        for r in rows:
            for a, b, out in products[r]:
                np.dot(a, b, out)
    return perf_counter() - start


class _AdamPasses:
    """Adam's update over one flat parameter buffer as numpy must do it: one in-place pass per
    arithmetic operation (numpy fuses none), ten in all, with both bias corrections and the
    learning rate folded into two scalars, over cache-sized slices of a large buffer (faster
    there: W4's floor is about 8% lower than with whole-buffer passes). Nothing else of a step
    (bias, ReLU, softmax) is here.
    """

    def __init__(self, size: int, dtype: str):
        rng = np.random.default_rng(2)
        g = rng.standard_normal(size, dtype=np.float32).astype(dtype)
        p, m, v, tmp = (np.zeros(size, dtype) for _ in range(4))
        step = SLICE_SIZE if size > SLICE_SIZE else max(size, 1)
        self.slices = [
            (g[i : i + step], p[i : i + step], m[i : i + step], v[i : i + step], tmp[i : i + step])
            for i in range(0, size, step)
        ]

    def __call__(self) -> None:
        for g, p, m, v, tmp in self.slices:
            m *= 0.9
            m += g
            v *= 0.999
            np.multiply(g, g, out=tmp)
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += 1e-7
            np.divide(m, tmp, out=tmp)
            tmp *= -1e-4
            p += tmp


def floor_epoch(problem: Problem) -> float:
    """Seconds for each step's eight GEMMs followed by Adam's ten passes over the parameters.

    Every numpy implementation of an Adam run does this work (and more: the bias, ReLU and
    softmax passes, the gathering of each batch, Python overhead). It is a floor for the way
    the work is laid out here, not a proof against every other layout, so `notes` only calls a
    goal out of reach when it lies well below it.
    """
    w = problem.workload
    rows = _batch_rows(problem)
    products = {r: [_operands(*g, w.dtype) for g in step_gemms(w.sizes, r)] for r in set(rows)}
    adam = _AdamPasses(sum(a.size for a in problem.leaves), w.dtype)
    for a, b, out in products[rows[0]]:
        np.dot(a, b, out)  # warm-up
    adam()
    start = perf_counter()
    for _ in range(w.epochs):
        for r in rows:
            for a, b, out in products[r]:
                np.dot(a, b, out)
            adam()
    return perf_counter() - start


def gemm_table(problem: Problem, repeats: int = 5) -> dict:
    """Each product of a full-batch step timed on its own (median), and the run's GFLOP."""
    w = problem.workload
    rows = _batch_rows(problem)
    detail = []
    for name, m, k, n in step_gemms(w.sizes, rows[0]):
        a, b, out = _operands(name, m, k, n, w.dtype)
        seconds = _time(lambda a=a, b=b, out=out: np.dot(a, b, out), repeats)
        detail.append({"gemm": name, "shape": [m, k, n], "ms": seconds * 1e3})
    flops = sum(2.0 * m * k * n for r in rows for _, m, k, n in step_gemms(w.sizes, r))
    return {"gflop": flops * w.epochs / 1e9, "per_gemm": detail}


def memory_budget(problem: Problem) -> dict[str, int]:
    """Bytes the issue allows: data, parameters, optimizer state and one batch of activations."""
    w = problem.workload
    params = sum(a.nbytes for a in problem.leaves)
    rows = min(w.batch_size or len(problem.X), len(problem.X))
    itemsize = np.dtype(w.dtype).itemsize
    parts = {
        "data": problem.X.nbytes + problem.y.nbytes,
        "parameters": params,
        "optimizer state": params * (2 if w.optimizer == "adam" else 0),
        "one batch of activations": rows * sum(w.sizes[1:]) * itemsize,
    }
    return parts | {"total": sum(parts.values())}
