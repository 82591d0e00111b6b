"""The sweep figure: the metric against one swept parameter, mean with standard-deviation bars.

One line per split (validation, test) and per combination of the other swept parameters, as in
the tutorial's accuracy-versus-neurons figure. matplotlib (the `plot` extra) is imported only here,
and only its object API is used, so no global pyplot state or GUI backend is touched.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from typing import Any

from nnfunc.extras import missing_extra
from nnfunc.modelfile import write_atomic
from nnfunc.plotting import plot_format
from nnfunc.sweep import SPLIT_PREFIX, SWEEPABLE, SweepResult

MAX_LINES = 10


_STYLE = {"marker": "o", "markersize": 3, "capsize": 3}
# What a metric can reach: a bar of mean ± std stops there (accuracy 0.95 ± 0.07 is not 1.02).
_RANGES = {"accuracy": (0.0, 1.0), "r2": (-math.inf, 1.0)}


def _clipped_bars(means: list[float], stds: list[float], metric: str) -> list[list[float]]:
    """Lower and upper bar lengths: std each way, cut at the metric's possible range."""
    lo, hi = _RANGES.get(metric, (-math.inf, math.inf))
    pairs = [(mean, std) if mean is not None else (0.0, 0.0) for mean, std in zip(means, stds)]
    below = [min(std, mean - lo) for mean, std in pairs]
    above = [min(std, hi - mean) for mean, std in pairs]
    return [below, above]


def _label(name: str, value: Any) -> str:
    if name == "hidden":
        return "x".join(map(str, value)) or "none"
    if value is None:  # as the grid was written: --batch-size full, --lr default
        return {"batch_size": "full", "lr": "default"}.get(name, "none")
    return str(value)


def varying(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The swept parameters that take more than one value in `rows`, in SWEEPABLE order."""
    return [n for n in SWEEPABLE if len({_label(n, r[n]) for r in rows}) > 1]


def _x_values(name: str, rows: Sequence[dict[str, Any]]) -> tuple[list[Any], list[str] | None]:
    """Numeric x positions, plus tick labels when the parameter is categorical."""
    if name == "hidden" and all(len(r[name]) == 1 for r in rows):
        return [r[name][0] for r in rows], None
    if name in ("lr", "l2", "epochs", "batch_size") and all(r[name] is not None for r in rows):
        return [r[name] for r in rows], None
    labels = list(dict.fromkeys(_label(name, r[name]) for r in rows))
    return [labels.index(_label(name, r[name])) for r in rows], labels


def plot_sweep(result: SweepResult, path: str | os.PathLike[str], *, x: str | None = None) -> str:
    """Draw the figure to `path` (format from its suffix, written atomically); return the x name."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise ImportError(missing_extra("plotting (matplotlib)", "plot")) from None
    rows = [r for r in result.rows if r.get(result.meta["ranked_by"]) is not None]
    if not rows:
        raise ValueError("no configuration has a successful trial to plot")
    swept = varying(result.rows)
    x = x or (swept[0] if swept else "hidden")
    if x not in SWEEPABLE:
        raise ValueError(f"cannot plot against {x!r}; choose one of {', '.join(SWEEPABLE)}")
    others = [n for n in swept if n != x]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(", ".join(f"{n}={_label(n, row[n])}" for n in others), []).append(row)
    metric = result.meta["metric"]
    ranked_by = result.meta["ranked_by"].removesuffix("_mean")
    held_out = [p for s, p in SPLIT_PREFIX.items() if s != "train"]
    # One group: every held-out split. Several: the ranking split only, best groups first.
    splits = [p for p in held_out if f"{p}_{metric}_mean" in rows[0]] or ["train"]
    if len(groups) > 1:
        splits = [ranked_by.removesuffix(f"_{metric}")]
        best_first = sorted(groups, key=lambda g: -max(r[f"{ranked_by}_mean"] for r in groups[g]))
        groups = {g: groups[g] for g in best_first}
    shown = dict(list(groups.items())[:MAX_LINES])
    fig = Figure(figsize=(9 if len(groups) > 1 else 8, 5), layout="constrained")
    ax = fig.subplots()
    positions, ticks = _x_values(x, rows)
    where = {id(row): position for row, position in zip(rows, positions)}
    for group, members in shown.items():
        members = sorted(members, key=lambda r: where[id(r)])
        xs = [where[id(r)] for r in members]
        for split in splits:
            means = [r[f"{split}_{metric}_mean"] for r in members]
            stds = [r[f"{split}_{metric}_std"] or 0.0 for r in members]
            label = group or f"{split} {metric}"
            ax.errorbar(xs, means, yerr=_clipped_bars(means, stds, metric), **_STYLE, label=label)
    if ticks is not None:
        ax.set_xticks(range(len(ticks)), ticks, rotation=30 if len(ticks) > 6 else 0)
    elif x in ("lr", "l2") and min(r[x] for r in rows) > 0:
        ax.set_xscale("log")
    trials = result.meta["trials"]
    label = "hidden neurons" if x == "hidden" and ticks is None else x
    ax.set_xlabel(label)
    if ticks is None and x in ("hidden", "epochs", "batch_size"):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    y_label = f"{splits[0]} {metric}" if len(splits) == 1 else metric
    ax.set_ylabel(f"{y_label} (mean ± std over {trials} trial{'s' * (trials > 1)})")
    ax.set_title(f"{result.meta['dataset']}: {metric} against {label}")
    ax.grid(True, alpha=0.3)
    if len(groups) > 1:
        note = f"best {len(shown)} of {len(groups)}" if len(shown) < len(groups) else None
        ax.legend(fontsize="small", title=note, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize="small")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=plot_format(path), dpi=120)
    write_atomic(path, buffer.getvalue())
    return x
