"""Is a change faster? `python -m benchmarks.ab BASE [--workloads W3,W4] [--rounds 7]`.

Trains the workloads with nnfunc as of the git revision BASE (checked out into a temporary
worktree) and with the working tree, each in its own long-lived worker process, taking turns
round by round (the order flips every round) and waiting until both are idle before each run.
Prints the median over rounds of BASE's time / the working tree's time: above 1, the working
tree is faster. The ratio within each round is what counts; the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.run import ROOT, Servers


def compare(base: str, names: list[str], rounds: int) -> dict[str, list[float]]:
    """Per workload, BASE time / working-tree time for every round."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), base], cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
        try:
            servers = Servers.for_trees({"base": tree, "work": ROOT})
            try:
                ratios = {}
                for name in names:
                    for label in ("base", "work"):  # warm-up
                        servers.ask(label, {"run": name})
                    times: dict[str, list[float]] = {"base": [], "work": []}
                    for round_ in range(rounds):
                        for label in ("base", "work")[:: 1 if round_ % 2 == 0 else -1]:
                            times[label].append(servers.ask(label, {"run": name})["seconds"])
                    ratios[name] = [b / w for b, w in zip(times["base"], times["work"])]
                return ratios
            finally:
                servers.close()
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False, capture_output=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__)
    parser.add_argument("base", help="the git revision to compare the working tree with")
    parser.add_argument("--workloads", default="W3,W4", help="comma-separated (default W3,W4)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    args = parser.parse_args(argv)
    for name, ratios in compare(args.base, args.workloads.split(","), args.rounds).items():
        print(
            f"{name}: {args.base} time / working tree time, median over {len(ratios)} rounds "
            f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f} to {max(ratios):.3f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
