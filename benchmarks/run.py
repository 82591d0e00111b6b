"""Run every benchmark and write benchmarks/RESULTS.md: `python -m benchmarks.run [--quick]`.

Each measurement runs in its own process: the workload timings once with the environment as it is
and once with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE flipped (unset both when the environment sets
either; otherwise set them as the reference machine does), fresh `train_model` processes against
one long-lived process, the real `nnfunc train` command, and one process per implementation for
peak memory. `--quick` shrinks every workload so the whole run takes seconds (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter

from benchmarks import limits, report
from benchmarks.peers import PEERS, available

ROOT = Path(__file__).resolve().parent.parent
# A run counts as quiet when other programs used at most this share of the machine's CPUs.
QUIET = 0.1
BLAS_FLAGS = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}
# The Adam workloads, whose floor (their GEMMs plus Adam's passes) each round also measures.
FLOOR_WORKLOADS = ("W3", "W4")


def variants() -> list[tuple[str, dict[str, str]]]:
    """(name, environment) pairs: the environment as it is, and with the two variables flipped."""
    here = dict(os.environ)
    others = {k: v for k, v in here.items() if k not in BLAS_FLAGS}
    if others != here:
        return [("as is", here), ("OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset", others)]
    flagged = here | BLAS_FLAGS
    return [
        ("as is (neither variable set)", here),
        ("OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 (as the reference machine)", flagged),
    ]


def _worker_env(env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def worker(task: dict, env: dict[str, str] | None = None, timeout: float = 3600) -> dict:
    """Run one `benchmarks.worker` task in a new process and return its JSON result."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", json.dumps(task)],
        cwd=ROOT,
        env=_worker_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker {task['task']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def _serve(impl: str, root: Path, env: dict[str, str], quick: bool) -> subprocess.Popen:
    """Start a long-lived `benchmarks.worker` for `impl`, running the code under `root`."""
    task = json.dumps({"task": "serve", "impl": impl, "quick": quick})
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.worker", task],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


class Servers:
    """One long-lived worker process per implementation, asked one command at a time."""

    def __init__(self, impls: list[str], env: dict[str, str], quick: bool):
        self.procs: dict[str, subprocess.Popen] = {
            impl: _serve(impl, ROOT, _worker_env(env), quick) for impl in impls
        }
        for impl in impls:
            self._read(impl, "ready")

    @classmethod
    def for_trees(cls, roots: dict[str, Path]) -> Servers:
        """One nnfunc worker per source tree (a checkout of another revision, say), by label."""
        servers = cls.__new__(cls)
        servers.procs = {}
        for label, root in roots.items():
            env = dict(os.environ, PYTHONPATH=str(root))
            servers.procs[label] = _serve("nnfunc", root, env, False)
        for label in roots:
            servers._read(label, "ready")
        return servers

    def _read(self, impl: str, expect: str | None = None) -> str:
        line = self.procs[impl].stdout.readline()  # type: ignore[union-attr]
        if not line or (expect is not None and line.strip() != expect):
            raise RuntimeError(f"the {impl} benchmark worker stopped (see its stderr above)")
        return line

    def ask(self, impl: str, command: dict) -> dict:
        """Send one command once every worker is idle; the answer also says how long that wait
        took and how much CPU other programs took while the command ran."""
        proc = self.procs[impl]
        settled = limits.settle(p.pid for p in self.procs.values())
        busy, own, start = limits.busy_ticks(), limits.busy_ticks(proc.pid), perf_counter()
        proc.stdin.write(json.dumps(command) + "\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        answer = json.loads(self._read(impl))
        others = (limits.busy_ticks() - busy) - (limits.busy_ticks(proc.pid) - own)
        capacity = (perf_counter() - start) * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
        answer["background"] = max(0.0, others / capacity) if capacity else 0.0
        answer["settled_s"] = settled
        return answer

    def close(self) -> None:
        for proc in self.procs.values():
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(timeout=60)
            proc.stdout.close()  # type: ignore[union-attr]


Job = tuple[str, bool]  # (implementation, whether it trains scikit-learn's one-output twin)


def rotated(jobs: list[Job], round_: int) -> list[Job]:
    """One round's turn order: round r starts at job r mod n; jobs take every position in turn."""
    shift = round_ % len(jobs)
    return jobs[shift:] + jobs[:shift]


def _rounds(servers: Servers, name: str, jobs: list[Job], warm_up: int, repeats: int) -> dict:
    """Every job once per round, in rotated order; right after nnfunc's run, W4's GEMM-only
    epoch and the floor of the Adam workloads (their GEMMs plus Adam's passes).

    Lists are per counted round, so round i of one job pairs with round i of another; `order`
    says in which order each counted round ran.
    """
    times: dict[Job, list[float]] = {job: [] for job in jobs}
    loads: dict[Job, list[float]] = {job: [] for job in jobs}
    out: dict = {"times": times, "loads": loads, "answers": {}, "gemm": [], "floor": []}
    out["order"] = []
    out["probe"], out["gemm_probe"], out["settled"] = [], [], []
    for round_ in range(warm_up + repeats):
        counted, order = round_ >= warm_up, []
        if counted:  # the machine's own speed at this round: the same fixed loop every time
            probe = servers.ask("nnfunc", {"probe": True})
            out["probe"].append(probe["seconds"])
            out["gemm_probe"].append(probe["gemm_seconds"])
        for job in rotated(jobs, round_):
            answer = servers.ask(job[0], {"run": name, "twin": job[1]})
            out["answers"][job], order = answer, [*order, _label(*job)]
            if counted:
                times[job].append(answer["seconds"])
                loads[job].append(answer["background"])
                out["settled"].append(answer["settled_s"])
            if counted and name == "W4" and job == ("nnfunc", False):
                out["gemm"].append(servers.ask("nnfunc", {"gemm_epoch": name}))
                order.append("GEMM-only epoch")
            if counted and name in FLOOR_WORKLOADS and job == ("nnfunc", False):
                out["floor"].append(servers.ask("nnfunc", {"floor_epoch": name}))
                order.append("floor epoch")
        if counted:
            out["order"].append(order)
    return out


def _label(impl: str, is_twin: bool) -> str:
    """The name a job's runs go under in the results."""
    return "nnfunc (2-class twin)" if impl == "nnfunc" and is_twin else impl


def _run_entry(times: list[float], loads: list[float], answer: dict) -> dict:
    """One implementation's runs of one workload: per-round times and their summaries."""
    quiet = [t for t, b in zip(times, loads) if b <= QUIET] or times
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "quiet_median_s": statistics.median(quiet),
        "quiet_runs": len(quiet) if quiet is not times else 0,
        "times_s": times,
        "background": loads,
        "loss": answer["loss"],
        "sizes": answer["sizes"],
    }


def _limit_entry(answers: list[dict]) -> dict:
    """A limit's epochs (GEMM-only or floor; one per round, right after nnfunc's run)."""
    seconds = [a["seconds"] for a in answers]
    quiet = [a["seconds"] for a in answers if a["background"] <= QUIET] or seconds
    return {
        "times_s": seconds,
        "background": [a["background"] for a in answers],
        "seconds": statistics.median(seconds),
        "min_s": min(seconds),
        "quiet_median_s": statistics.median(quiet),
    }


def _gemm_entry(servers: Servers, name: str, gemm: list[dict]) -> dict:
    """The GEMM-only epochs and the GEMM table."""
    return servers.ask("nnfunc", {"gemm_table": name}) | _limit_entry(gemm)


def train_variant(
    env: dict[str, str], names: list[str], impls: list[str], repeats: int, quick: bool
) -> dict:
    """Every workload on every implementation, runs interleaved round by round.

    The first round is a warm-up and is not counted (quick runs have none). For W2,
    scikit-learn trains its one-output twin and nnfunc trains that twin too, as the reference.
    """
    from benchmarks.worker import twin_sizes
    from benchmarks.workloads import QUICK, WORKLOADS

    servers = Servers(impls, env, quick)
    try:
        result = servers.ask("nnfunc", {"info": True})
        if "torch" in impls:
            torch_info = servers.ask("torch", {"info": True})
            result |= {k: torch_info[k] for k in ("torch_threads", "torch_blas")}
        result["workloads"] = {}
        for name in names:
            twin = "sklearn" in impls and twin_sizes((QUICK if quick else WORKLOADS)[name])
            jobs = [(impl, impl == "sklearn" and bool(twin)) for impl in impls]
            jobs += [("nnfunc", True)] if twin else []
            done = _rounds(servers, name, jobs, 0 if quick else 1, repeats)
            first = done["answers"]["nnfunc", False]
            entry = {"title": first["title"], "steps": first["steps"], "order": done["order"]}
            entry["probe_s"], entry["gemm_probe_s"] = done["probe"], done["gemm_probe"]
            entry["settled_s"] = done["settled"]
            entry["runs"] = {
                _label(*job): _run_entry(ts, done["loads"][job], done["answers"][job])
                for job, ts in done["times"].items()
            }
            if done["gemm"]:
                entry["gemm"] = _gemm_entry(servers, name, done["gemm"])
                entry["gemm_rate_gflops"] = entry["gemm"].pop("gemm_rate_gflops")
            if done["floor"]:
                entry["floor"] = _limit_entry(done["floor"])
            result["workloads"][name] = entry
        return result
    finally:
        servers.close()


def fresh_and_long_lived(quick: bool, repeats: int) -> dict[str, list]:
    """W3 through `train_model`: in new processes, and again and again in one process.

    The two run in adjacent pairs (a fresh process and a run in the long-lived one), the fresh
    one first in even pairs and second in odd ones, so that neither side always runs right
    after the other and the machine's drifting speed falls on both alike.
    """
    task = json.dumps({"task": "long_lived", "quick": quick})
    with subprocess.Popen(
        [sys.executable, "-m", "benchmarks.worker", task],
        cwd=ROOT,
        env=_worker_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as long_lived:
        assert long_lived.stdin is not None and long_lived.stdout is not None
        if long_lived.stdout.readline().strip() != "ready":
            raise RuntimeError("the long-lived benchmark worker did not start")
        pairs = []
        for index in range(repeats):
            if index % 2 == 0:
                fresh = worker({"task": "fresh", "quick": quick})
                pairs.append((fresh, _run_again(long_lived)))
            else:
                kept = _run_again(long_lived)
                limits.settle([long_lived.pid])  # its BLAS threads spin for a while after a run
                pairs.append((worker({"task": "fresh", "quick": quick}), kept))
        long_lived.stdin.close()
    return _pairs_result(pairs)


def _run_again(long_lived: subprocess.Popen) -> dict:
    """One more timed `train_model` run in the long-lived process."""
    long_lived.stdin.write("run\n")  # type: ignore[union-attr]
    long_lived.stdin.flush()  # type: ignore[union-attr]
    return json.loads(long_lived.stdout.readline())  # type: ignore[union-attr]


def _pairs_result(pairs: list[tuple[dict, dict]]) -> dict[str, list]:
    """Per-pair (fresh, long-lived) figures; index i of every list is pair i."""
    return {
        "fresh_s": [f["seconds"] for f, _ in pairs],
        "long_lived_s": [a["seconds"] for _, a in pairs],
        "fresh_first": [i % 2 == 0 for i in range(len(pairs))],
        "fresh_faults": [f["faults"] for f, _ in pairs],
        "long_lived_faults": [a["faults"] for _, a in pairs],
        "fresh_background": [f["background"] for f, _ in pairs],
        "long_lived_background": [a["background"] for _, a in pairs],
        "quiet_pairs": [
            [f["seconds"], a["seconds"]]
            for f, a in pairs
            if max(f["background"], a["background"]) <= QUIET
        ],
    }


def _write_digits_csv(folder: Path) -> Path:
    from benchmarks.workloads import _digits

    X, y = _digits()
    path = folder / "digits.csv"
    lines = [",".join([*(f"p{i}" for i in range(X.shape[1])), "digit"])]
    lines += [",".join([*(f"{v:g}" for v in row), str(label)]) for row, label in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli_runs(quick: bool, repeats: int) -> dict:
    """Wall time of the real `nnfunc train` command (W3 on a digits CSV), fresh each time."""
    from benchmarks.workloads import QUICK, WORKLOADS

    w = (QUICK if quick else WORKLOADS)["W3"]
    with tempfile.TemporaryDirectory() as folder:
        csv = _write_digits_csv(Path(folder))
        args = [
            sys.executable, "-m", "nnfunc", "train", "--data", str(csv), "--target", "digit",
            "--layers", ",".join(map(str, w.sizes[1:-1])), "--optimizer", "adam",
            "--lr", str(w.lr), "--batch-size", str(w.batch_size), "--epochs", str(w.epochs),
            "--out", str(Path(folder) / "digits.msgpack"), "--quiet",
        ]  # fmt: skip
        times = []
        for _ in range(repeats):
            start = perf_counter()
            subprocess.run(args, cwd=ROOT, check=True, capture_output=True, timeout=3600)
            times.append(perf_counter() - start)
    return {"command": " ".join(["nnfunc", *args[3:]]), "seconds": times}


def collect(quick: bool, repeats: int) -> dict:
    """Every measurement, as plain data for `report.render`."""
    impls = ["nnfunc", *(p for p in PEERS if available(p))]
    names = ["W1", "W2", "W3", "W4"]
    results: dict = {"quick": quick, "repeats": repeats, "impls": impls, "variants": []}
    for index, (name, env) in enumerate(variants()):
        # A quick run only checks that the second environment works, on the smallest workload.
        brief = quick and index > 0
        measured = train_variant(
            env, ["W1"] if brief else names, impls[:2] if brief else impls, repeats, quick
        )
        if index == 0:
            measured["latency"] = worker({"task": "latency", "quick": quick}, env)
        results["variants"].append({"name": name, **measured})
    # Fresh and long-lived runs differ by a few percent while single runs here drift by up to 2x,
    # so the full run takes at least 15 pairs (7 gave medians of 0.94x to 1.17x for the same
    # code); quick, 2 (one in each order).
    pairs = max(repeats, 2) if quick else max(2 * repeats + 1, 15)
    results["fresh_vs_long_lived"] = fresh_and_long_lived(quick, pairs)
    results["cli"] = cli_runs(quick, 1 if quick else 3)
    measured = impls if not quick else ["nnfunc", "numpy"]  # peers' imports take seconds
    results["memory"] = {
        impl: worker({"task": "memory", "impl": impl, "quick": quick}) for impl in measured
    }
    results["profile"] = worker({"task": "profile", "quick": quick})
    results["machine"] = report.machine()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny workloads: a smoke test")
    parser.add_argument("--repeats", type=int, help="timed runs per measurement (default 5)")
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write the report (default benchmarks/RESULTS.md; with --quick, stdout)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    start = perf_counter()
    results = collect(args.quick, repeats)
    results["elapsed_s"] = perf_counter() - start
    text = report.render(results)
    out = args.out or (None if args.quick else ROOT / "benchmarks" / "RESULTS.md")
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        print(f"wrote {out} in {results['elapsed_s']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
