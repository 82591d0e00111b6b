"""`nnfunc inspect`: a model file summarised in the spirit of Keras' `model.summary()`.

Layers with their output shapes, activations and parameter counts, then the preprocessing, the
training configuration, the metrics and the provenance; `--json` prints all of it as data.
"""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from nnfunc.cli.common import (
    Command,
    cli_errors,
    counted,
    echo_json,
    human_bytes,
    json_option,
    metric_line,
    ordered_splits,
)
from nnfunc.model import Model
from nnfunc.modelfile import (
    FORMAT_NAME,
    FORMAT_VERSION,
    loads_model,
    model_digest,
    read_model_bytes,
)
from nnfunc.names import shown_path

# Names shown on one line of the summary before the rest are counted (all of them: --json).
SHOWN_NAMES = 20


def layer_rows(model: Model) -> list[dict[str, Any]]:
    """One row per dense layer: name, input and output width, activation, parameter count."""
    spec = model.spec
    acts = (*spec.activations, spec.output_activation)
    return [
        {
            "name": f"dense_{i + 1}",
            "inputs": int(n_in),
            "outputs": int(n_out),
            "activation": act,
            "params": int(n_in * n_out + n_out),
        }
        for i, (n_in, n_out, act) in enumerate(zip(spec.sizes[:-1], spec.sizes[1:], acts))
    ]


def _scaler(scaler: Any) -> dict[str, list[float]] | None:
    if scaler is None:
        return None
    return {"mean": scaler.mean.tolist(), "scale": scaler.scale.tolist()}


def summary_data(model: Model, path: str, blob: bytes) -> dict[str, Any]:
    """Everything `inspect --json` prints."""
    h = model.history
    return {
        "path": path,
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "bytes": len(blob),
        "sha256": model_digest(blob),
        "task": model.task,
        "feature_names": list(model.feature_names),
        "target_names": list(model.target_names),
        "classes": list(model.classes),
        "spec": {
            "sizes": list(model.spec.sizes),
            "activations": list(model.spec.activations),
            "output_activation": model.spec.output_activation,
            "loss": model.spec.loss,
            "dtype": model.spec.dtype,
        },
        "layers": layer_rows(model),
        "n_params": model.n_params,
        "preprocessing": {
            "feature_scaler": _scaler(model.feature_scaler),
            "target_scaler": _scaler(model.target_scaler),
        },
        "history": None
        if h is None
        else {
            "metric_name": h.metric_name,
            "epochs": h.epochs,
            "loss": list(h.loss),
            "metric": list(h.metric),
            "val_loss": list(h.val_loss),
            "val_metric": list(h.val_metric),
        },
        "config": model.config,
        "metrics": model.metrics,
        "provenance": model.provenance,
    }


def _names(names: Any) -> str:
    """Names joined for one summary line: the first `SHOWN_NAMES`, then how many more."""
    names = [str(name) for name in names]
    rest = len(names) - SHOWN_NAMES
    shown = ", ".join(names[:SHOWN_NAMES])
    return f"{shown}, ... and {rest:,} more (--json lists them all)" if rest > 0 else shown


def _numbers(values: list[float]) -> str:
    shown = ", ".join(f"{v:.4g}" for v in values[:6])
    return f"[{shown}{', ...' if len(values) > 6 else ''}]"


def _training_line(config: dict[str, Any]) -> str:
    opt = config.get("optimizer_config") or {}
    schedule = opt.get("schedule") or {}
    parts = [
        f"{opt.get('name', config.get('optimizer', '?'))} "
        f"(lr {schedule.get('lr', config.get('lr'))}, {schedule.get('name', '?')} schedule)",
        f"batch size {config.get('batch_size') or 'full'}",
        f"{config.get('epochs_run', '?')} of {config.get('epochs', '?')} epochs",
        f"seed {config.get('seed', '?')}",
        f"l2 {config.get('l2', 0)}",
    ]
    if config.get("clip_norm"):
        parts.append(f"clip norm {config['clip_norm']}")
    if config.get("early_stopping"):
        parts.append(f"early stopping (patience {config.get('patience')})")
    return ", ".join(parts)


def summary_lines(model: Model, path: str, blob: bytes) -> list[str]:
    """The human-readable summary, line by line."""
    spec = model.spec
    lines = [
        f"Model: {shown_path(path)}",
        f"  {FORMAT_NAME} v{FORMAT_VERSION}, {human_bytes(len(blob))}, sha256 {model_digest(blob)}",
    ]
    if model.task == "classify":
        lines.append(
            f"Task: classify {model.target_names[0]} into {len(model.classes)} classes: "
            f"{_names(model.classes)}"
        )
    else:
        targets = counted(len(model.target_names), "target")
        lines.append(f"Task: regress {targets}: {_names(model.target_names)}")
    features = counted(spec.n_inputs, "feature")
    lines.append(f"Inputs: {features}: {_names(model.feature_names)}")
    rows = [
        ["Layer", "Output shape", "Activation", "Params"],
        ["input", f"(None, {spec.n_inputs})", "", ""],
    ]
    rows += [
        [r["name"], f"(None, {r['outputs']})", r["activation"], f"{r['params']:,}"]
        for r in layer_rows(model)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rule = "-" * (sum(widths) + 6)
    text = [
        "  ".join((*(c.ljust(w) for c, w in zip(row[:3], widths)), row[3].rjust(widths[3])))
        for row in rows
    ]
    itemsize = np.dtype(spec.dtype).itemsize
    lines += [rule, text[0], "=" * len(rule), *text[1:], "=" * len(rule)]
    lines.append(
        f"Total params: {model.n_params:,} ({spec.dtype}, {human_bytes(model.n_params * itemsize)})"
    )
    lines.append(f"Loss: {spec.loss}")
    lines.append("Preprocessing:")
    for label, scaler in (("features", model.feature_scaler), ("targets", model.target_scaler)):
        if scaler is not None:
            mean, scale = _numbers(scaler.mean.tolist()), _numbers(scaler.scale.tolist())
            lines.append(f"  {label} standardised: mean {mean}, scale {scale}")
        elif label == "features" or model.task == "regress":
            lines.append(f"  {label}: not scaled")
    lines.append(f"Training: {_training_line(model.config)}")
    if model.metrics:
        lines.append("Metrics:")
        lines += [metric_line(split, report) for split, report in ordered_splits(model.metrics)]
    p = model.provenance
    lines.append(
        f"Provenance: nnfunc {p.get('nnfunc_version', '?')}, numpy {p.get('numpy_version', '?')}, "
        f"created {p.get('created', 'unrecorded')}"
    )
    lines.append(f"  dataset {p.get('dataset', '?')}, sha256 {p.get('dataset_sha256', '?')}")
    return lines


@click.command(cls=Command)
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@json_option
def inspect(model_path: str, as_json: bool) -> None:
    """Summarise MODEL: layers, shapes, parameters, preprocessing, metrics and provenance."""
    with cli_errors():
        blob = read_model_bytes(model_path)
        try:
            model = loads_model(blob)
        except ValueError as exc:
            raise type(exc)(f"{shown_path(model_path)}: {exc}") from None
    if as_json:
        echo_json(summary_data(model, model_path, blob))
        return
    for line in summary_lines(model, model_path, blob):
        click.echo(line.rstrip())
