"""Matplotlib figures of samples against their documented density (Agg, files only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from initlab.distributions import Reference


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def hist_vs_reference(ax, samples: np.ndarray, ref: Reference, label: str = "samples", color: str = "C0") -> None:
    """A density histogram of `samples` with the analytic density of `ref` and its bounds."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    lo, hi = ref.support
    span_lo = lo if math.isfinite(lo) else ref.ppf(1e-4)
    span_hi = hi if math.isfinite(hi) else ref.isf(1e-4)
    pad = 0.08 * (span_hi - span_lo)
    ax.hist(x, bins=120, range=(span_lo - pad, span_hi + pad), density=True, alpha=0.45, color=color, label=label)
    grid = np.linspace(span_lo - pad, span_hi + pad, 800)
    ax.plot(grid, ref.pdf(grid), color="black", lw=1.2, label=f"documented: {ref.describe()}")
    for bound in (lo, hi):
        if math.isfinite(bound):
            ax.axvline(bound, color="crimson", lw=0.8, ls="--")
    ax.legend(fontsize=7, loc="upper right")


def verify_histograms(
    panels: Sequence[tuple[str, dict | None, tuple[int, ...]]], out_path: Path, seed: int = 0
) -> Path:
    """One panel per (initializer, config, shape): Keras samples against the table's density."""
    from initlab import formulas
    from initlab.keras_backend import make_initializer, to_numpy

    plt = pyplot()
    cols = 2
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 3.3 * rows), squeeze=False)
    for ax, (name, config, shape) in zip(axes.ravel(), panels):
        x = to_numpy(make_initializer(name, config, seed)(shape))
        hist_vs_reference(ax, x, formulas.reference(name, config, shape), label=f"Keras {name}")
        ax.set_title(f"{name} {'x'.join(map(str, shape))}", fontsize=9)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=90)
    plt.close(fig)
    return out_path
