"""Training plots: loss and metric curves, plus decision regions for a two-feature classifier.

matplotlib is an optional extra (`pip install '.[plot]'`) imported only here and only when a
plot is asked for. Figures are drawn on the Agg canvas directly, never through pyplot, so the
caller's matplotlib backend and global state are left alone.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from nnfunc.datasets import Dataset
from nnfunc.extras import missing_extra
from nnfunc.model import Model, predict_codes, predict_proba
from nnfunc.preprocessing import encode_labels

MISSING = missing_extra("plotting (matplotlib)", "plot")


def require_matplotlib() -> None:
    """Raise ValueError with the install command when matplotlib is not importable."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError(MISSING) from None


def _curves(ax_loss: Any, ax_metric: Any, model: Model) -> None:
    """Training (and validation) loss and metric per epoch."""
    h = model.history
    if h is None or not h.loss:
        ax_loss.text(0.5, 0.5, "no history", ha="center", transform=ax_loss.transAxes)
        return
    epochs = np.arange(1, h.epochs + 1)
    ax_loss.plot(epochs, h.loss, label="training")
    ax_metric.plot(epochs, h.metric, label="training")
    if h.val_loss:
        ax_loss.plot(epochs, h.val_loss, label="validation")
        ax_metric.plot(epochs, h.val_metric, label="validation")
    ax_loss.set(title=f"loss ({model.spec.loss})", xlabel="epoch")
    if min(h.loss) > 0:
        ax_loss.set_yscale("log")
    name = "accuracy" if h.metric_name == "accuracy" else "R²"
    ax_metric.set(title=name, xlabel="epoch")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend()


def _class_colors(n: int) -> Any:
    """One distinct colour per class: blue/red for two (as coolwarm's ends), tab10/tab20 beyond."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    if n == 2:
        ends = colormaps["coolwarm"]
        return ListedColormap([ends(0.0), ends(1.0)])
    if n <= 20:
        return ListedColormap(colormaps["tab10" if n <= 10 else "tab20"].colors[:n])
    return colormaps["viridis"].resampled(n)


def _regions(ax: Any, model: Model, data: Dataset) -> None:
    """Predicted class over a grid of the two features, with the data points on top."""
    X = data.X
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 300)
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 300)
    xx, yy = np.meshgrid(g0, g1)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    n = len(model.classes)
    cmap = _class_colors(n)
    if n == 2:
        surface = predict_proba(model, grid)[:, 1].reshape(xx.shape)
        ax.contourf(xx, yy, surface, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.35)
        ax.contour(xx, yy, surface, levels=[0.5], colors="k", linewidths=1)
    else:
        codes = predict_codes(model, grid).reshape(xx.shape)
        ax.contourf(xx, yy, codes, levels=np.arange(n + 1) - 0.5, cmap=cmap, alpha=0.35)
    y = encode_labels(model.labels, data.y) if model.labels is not None else data.y
    size = float(np.clip(4000 / len(X), 8, 80))  # big dots for a truth table, small for 5000 rows
    ax.scatter(
        X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=n - 0.5, s=size, edgecolors="k", lw=0.3
    )
    handles = [
        ax.scatter([], [], color=cmap(k), label=str(c), edgecolors="k")
        for k, c in enumerate(model.classes)
    ]
    ax.legend(handles=handles, title=model.target_names[0], fontsize="small")
    ax.set(title="decision regions", xlabel=model.feature_names[0], ylabel=model.feature_names[1])


def plot_format(path: str) -> str:
    """The image format a plot file's name asks for (`.png` when it has no suffix), or a
    ValueError naming the ones matplotlib can draw."""
    require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    kind = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    if kind not in kinds:
        raise ValueError(
            f"{path}: matplotlib cannot draw .{kind} files; end the name with one of: "
            f"{', '.join(sorted(kinds))}"
        )
    return kind


def training_plot(model: Model, data: Dataset | None = None, *, fmt: str = "png") -> bytes:
    """PNG bytes of the training curves; with a two-feature classifier's data, its regions too."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    regions = (
        data is not None
        and model.task == "classify"
        and model.spec.n_inputs == 2
        and data.X.shape[1] == 2
    )
    panels = 3 if regions else 2
    fig = Figure(figsize=(5 * panels, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels)
    _curves(axes[0], axes[1], model)
    if regions:
        assert data is not None
        _regions(axes[2], model, data)
    source = model.provenance.get("dataset", "")
    fig.suptitle(f"{source}: {'-'.join(map(str, model.spec.sizes))} MLP".strip(": "))
    buffer = io.BytesIO()
    # no version stamp in a PNG, so that the same model draws the same bytes
    metadata = {"Software": None} if fmt == "png" else None
    fig.savefig(buffer, format=fmt, dpi=100, metadata=metadata)
    return buffer.getvalue()
