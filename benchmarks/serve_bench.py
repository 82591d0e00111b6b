"""Requests per second and p50/p99 latency of `nnfunc serve`, against a constant-answer ceiling.

Starts `nnfunc serve` (gunicorn, N workers) on a free loopback port over a folder holding the Iris
model, with NNFUNC_SERVE_BENCH=1 so that the app also has `/bench/constant`: a Flask route that
reads the body and answers fixed bytes. That route, sent the very same bodies, is the ceiling of
Flask + gunicorn + this client on this machine; the gap to it is what the service itself costs
(decoding, validation, the model, encoding). Each case runs C client threads, each on its own
keep-alive connection, for S seconds after a warm-up, and writes benchmarks/SERVE_RESULTS.md.

    python -m benchmarks.serve_bench [--seconds S] [--rounds R] [--clients C] [--workers N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgpack
import numpy as np

from nnfunc.datasets import load_dataset
from nnfunc.modelfile import save_model
from nnfunc.pipeline import RECIPES, train_model

RESULTS = Path(__file__).with_name("SERVE_RESULTS.md")
CONTENT_TYPES = {"json": "application/json", "msgpack": "application/msgpack"}


def bodies(rows: int) -> dict[str, bytes]:
    """The same infer request (`rows` Iris rows) as JSON and as msgpack."""
    X = load_dataset("iris").X
    data = np.resize(X, (rows, X.shape[1])).tolist()
    request = {"inputs": [{"name": "input", "shape": [rows, 4], "datatype": "FP64", "data": data}]}
    return {"json": json.dumps(request).encode(), "msgpack": msgpack.packb(request)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: str, port: int, workers: int, threads: int) -> subprocess.Popen:
    """`nnfunc serve` with the ceiling route enabled; returns once it answers ready."""
    env = {**os.environ, "NNFUNC_SERVE_BENCH": "1"}
    command = [sys.executable, "-m", "nnfunc", "serve", "--models", folder, "--port", str(port)]
    command += ["--workers", str(workers), "--threads", str(threads), "--log-level", "warning"]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not become ready within 60 s")


def load(port: int, path: str, body: bytes, fmt: str, *, clients: int, seconds: float) -> dict:
    """Run `clients` keep-alive clients for `seconds`: latencies (ms) of the timed requests."""
    headers = {"Content-Type": CONTENT_TYPES[fmt], "Accept": CONTENT_TYPES[fmt]}
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    start_at = time.perf_counter() + 0.5  # warm-up: connections open, workers warm
    stop_at = start_at + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            t1 = time.perf_counter()
            if response.status != 200:
                failures[i] += 1
            elif t0 >= start_at:
                latencies[i].append(t1 - t0)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "latencies": np.concatenate([np.asarray(x) for x in latencies]) * 1000,
        "failures": sum(failures),
    }


def summarise(runs: list[dict], seconds: float) -> dict:
    """Median requests/s over the rounds; p50/p99 over every request of every round."""
    pooled = np.concatenate([r["latencies"] for r in runs])
    return {
        "rps": float(np.median([r["latencies"].size / seconds for r in runs])),
        "p50": float(np.percentile(pooled, 50)),
        "p99": float(np.percentile(pooled, 99)),
        "failures": sum(r["failures"] for r in runs),
    }


def report(results: list[dict], args: argparse.Namespace, command: str) -> str:
    """SERVE_RESULTS.md: setup, command, and one table row per case."""
    from importlib.metadata import version

    lines = [
        "# Prediction service throughput",
        "",
        f"Measured with `{command}` (see `benchmarks/serve_bench.py`).",
        "",
        f"- Machine: {os.cpu_count()} CPU cores ({platform.machine()}), {platform.system()}; the "
        "client threads run on the same cores as the server, so every figure is a lower bound.",
        f"- Python {platform.python_version()}, numpy {np.__version__}, Flask {version('flask')}, "
        f"gunicorn {version('gunicorn')}.",
        f"- Server: `nnfunc serve --workers {args.workers} --threads {args.threads}` (gthread), "
        "Iris model (4 -> 6 relu -> 3 softmax, float64).",
        f"- Load: {args.clients} client threads, one keep-alive connection each, {args.seconds:g} s"
        f" per case after a 0.5 s warm-up, {args.rounds} interleaved rounds: requests/s is the "
        "median round, p50/p99 are over every request of every round, as the client sees it.",
        "- Ceiling: `POST /bench/constant` (enabled by NNFUNC_SERVE_BENCH=1) reads the same body "
        "and answers fixed bytes: Flask and gunicorn with no decoding, model or encoding.",
        "",
        "| route | body | rows | requests/s | p50 ms | p99 ms | of ceiling | failed |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    ceilings = {(r["format"], r["rows"]): r["rps"] for r in results if r["route"] == "ceiling"}
    for r in results:
        share = r["rps"] / ceilings[(r["format"], r["rows"])]
        lines.append(
            f"| {r['route']} | {r['format']} | {r['rows']} | {r['rps']:.0f} | {r['p50']:.2f} | "
            f"{r['p99']:.2f} | {share:.0%} | {r['failures']} |"
        )
    lines += [
        "",
        "Rows per second for the 100-row requests are 100 times the requests/s. Timings on a "
        "shared 2-core machine are noisy; compare rows of one run rather than runs.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    command = "python -m benchmarks.serve_bench " + " ".join(sys.argv[1:])
    model = train_model(load_dataset("iris"), RECIPES["iris"])
    cases = [
        (route, path, fmt, rows)
        for rows in (1, 100)
        for fmt in ("json", "msgpack")
        for route, path in (("ceiling", "/bench/constant"), ("v2 infer", "/v2/models/iris/infer"))
    ]
    runs: dict[tuple, list[dict]] = {case: [] for case in cases}
    payloads = {rows: bodies(rows) for rows in (1, 100)}
    with tempfile.TemporaryDirectory() as folder:
        save_model(model, Path(folder) / "iris.msgpack")
        port = free_port()
        proc = start_server(folder, port, args.workers, args.threads)
        try:
            for round_ in range(args.rounds):  # interleaved, so drifting load hits every case
                for case in cases:
                    route, path, fmt, rows = case
                    run = load(
                        port,
                        path,
                        payloads[rows][fmt],
                        fmt,
                        clients=args.clients,
                        seconds=args.seconds,
                    )
                    runs[case].append(run)
                    rps = run["latencies"].size / args.seconds
                    print(f"round {round_ + 1}: {route:9} {fmt:8} {rows:4} rows {rps:7.0f} req/s")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    results = [
        {
            **summarise(runs[case], args.seconds),
            "route": case[0],
            "format": case[2],
            "rows": case[3],
        }
        for case in cases
    ]
    args.out.write_text(report(results, args, command.strip()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
