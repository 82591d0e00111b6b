"""The sweep's results files: a CSV table for people and a JSON file that `--resume` reads.

Both are rewritten whole and atomically (`modelfile.write_atomic`: temporary file, fsync, rename)
each time a configuration completes, so an interrupted sweep leaves every finished row and never
a half-written file. The JSON file also holds every trial's seed, metrics and error.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnfunc.modelfile import write_atomic

if TYPE_CHECKING:
    from nnfunc.sweep import SweepResult

FORMAT = "nnfunc-sweep"
VERSION = 1
# Wall-clock columns: the only ones that differ between two runs of the same sweep.
TIME_COLUMNS = ("time_mean_s", "time_total_s")
PARAM_COLUMNS = ("hidden", "activation", "optimizer", "lr", "batch_size", "l2", "epochs")
# Settings that must match for `--resume` to add to a results file.
COMPATIBLE = ("dataset", "dataset_sha256", "task", "trials", "seed", "fixed", "targets", "features")
# Recorded since files began to hold them: an older file is compared without them.
LATER = ("targets", "features")


def paths(out: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The CSV and JSON paths for `out` (given with either suffix, or none)."""
    out = Path(out)
    return out.with_suffix(".csv"), out.with_suffix(".json")


def columns(meta: dict[str, Any]) -> list[str]:
    """The CSV header: index, swept parameters, counts, metric mean/std per split, times, seeds."""
    fixed = meta["fixed"]
    splits = ["train", *["val"] * bool(fixed["val_split"]), *["test"] * bool(fixed["test_split"])]
    metric = meta["metric"]
    stats = [f"{s}_{metric}_{stat}" for s in splits for stat in ("mean", "std")]
    return ["index", *PARAM_COLUMNS, "trials", "failed", *stats, *TIME_COLUMNS, "seeds", "errors"]


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name == "hidden":
        return "x".join(map(str, value)) or "none"
    if name == "seeds":
        return " ".join(map(str, value))
    if name == "errors":
        return "; ".join(value)
    return value  # floats are written by repr: shortest text that reads back to the same float


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def csv_text(result: SweepResult) -> str:
    """The table as CSV text, one row per configuration."""
    header = columns(result.meta)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in result.rows:
        writer.writerow([_cell(name, row.get(name)) for name in header])
    return buffer.getvalue()


def save_results(out: str | os.PathLike[str], result: SweepResult) -> None:
    """Atomically rewrite the JSON file, then the CSV file, for `out`."""
    csv_path, json_path = paths(out)
    document = {"format": FORMAT, "version": VERSION, "meta": result.meta, "rows": result.rows}
    text = json.dumps(_finite(document), indent=1, allow_nan=False) + "\n"
    write_atomic(json_path, text.encode("utf-8"))
    write_atomic(csv_path, csv_text(result).encode("utf-8"))


def load_results(out: str | os.PathLike[str]) -> SweepResult:
    """Read the JSON file written by `save_results`; a file of another kind raises ValueError."""
    from nnfunc.sweep import SweepResult

    json_path = paths(out)[1]
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{json_path}: cannot read sweep results: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{json_path}: not an nnfunc sweep results file")
    if document.get("version") != VERSION:
        raise ValueError(f"{json_path}: sweep results version {document.get('version')!r}")
    return SweepResult(document["rows"], document["meta"])


def check_compatible(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Raise ValueError unless rows made under `old` can sit in one table with rows from `new`."""
    for key in COMPATIBLE:
        if key in LATER and key not in old:
            continue
        if old.get(key) != new[key]:
            if key == "fixed":
                diff = sorted(k for k in new[key] if old[key].get(k) != new[key][k])
                there = ", ".join(f"{k}={old[key].get(k)!r}" for k in diff)
                here = ", ".join(f"{k}={new[key][k]!r}" for k in diff)
            else:
                there, here = repr(old.get(key)), repr(new[key])
            raise ValueError(
                f"the results file holds a different sweep ({key}: {there} there, {here} now)"
            )
