"""The benchmarks run end to end in quick mode, and every peer does nnfunc's arithmetic."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import report, run
from benchmarks.peers import PEERS, available
from benchmarks.workloads import QUICK, make_problem

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = ["nnfunc", *(p for p in PEERS if available(p))]


def test_workloads_replay_the_batch_order_nnfunc_draws():
    problem = make_problem(QUICK["W2"])
    rng = np.random.default_rng(problem.workload.seed)
    assert all(np.array_equal(order, rng.permutation(len(problem.X))) for order in problem.orders)
    assert make_problem(QUICK["W1"]).orders is None  # full batch: no shuffling


def test_the_second_environment_flips_both_blas_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    (_, here), (_, other) = run.variants()
    assert here["OPENBLAS_CORETYPE"] == "Haswell"
    assert "OPENBLAS_CORETYPE" not in other and "OPENBLAS_L2_SIZE" not in other
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    (_, here), (_, other) = run.variants()
    assert "OPENBLAS_CORETYPE" not in here
    assert other["OPENBLAS_CORETYPE"] == "Haswell" and other["OPENBLAS_L2_SIZE"] == "512"


def test_goal_rows_say_by_how_much_a_goal_is_missed():
    rows: list[str] = []
    report._goal(rows, "W4: epoch / GEMM", 1.56, 1.3, False, "x")
    report._goal(rows, "W3: peer / nnfunc", 2.0, 1.7, True, "x")
    assert "missed by 20%" in rows[0] and rows[1].endswith("| met |")


def test_quick_run_writes_a_complete_report(tmp_path):
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out), "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    for heading in ("Training", "Peak memory", "Fresh process", "Prediction", "Goals"):
        assert f"\n## {heading}" in text
    results = json.loads(raw.read_text())
    first = results["variants"][0]["workloads"]
    assert sorted(first) == ["W1", "W2", "W3", "W4"]
    assert set(first["W4"]["runs"]) == set(INSTALLED)
    assert first["W4"]["gemm"]["seconds"] > 0
    for name, entry in first.items():  # every peer's final loss agrees with nnfunc's: same work
        for impl, result in entry["runs"].items():
            if impl.startswith("nnfunc"):
                continue
            expected = report._reference(impl, entry["runs"])["loss"]
            dtype = "float32" if name == "W4" else "float64"
            tolerance = report._loss_tolerance(impl, entry, dtype)
            assert abs(result["loss"] - expected) <= tolerance * abs(expected), (name, impl)
    assert "**NO**" not in text
    assert results["variants"][0]["latency"]["loaded_model_agrees"]
