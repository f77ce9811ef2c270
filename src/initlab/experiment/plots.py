"""Figures of a training run, drawn only from its saved CSV files (`initlab plot RUN`).

Each curve is the mean over seeds; the band spans the lowest to the highest
seed (with one seed there is no band). Written with matplotlib's Agg backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["plot_run", "FIGURES"]

FIGURES = ("training_loss.png", "validation_accuracy.png", "activation_variance_epoch1.png",
           "gradient_variance.png", "overview.png")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _legend(ax, **kw):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def _band(ax, x, frame, col, label, color):
    g = frame.groupby(x)[col]
    mean, lo, hi = g.mean(), g.min(), g.max()
    n = frame["seed"].nunique()
    ax.plot(mean.index, mean.values, color=color, label=f"{label} (n={n})", lw=1.5)
    if n > 1:
        ax.fill_between(mean.index, lo.values, hi.values, color=color, alpha=0.2, lw=0)


def _smooth(frame, window: int):
    out = []
    for _, g in frame.groupby(["condition", "seed"]):
        g = g.sort_values("step").copy()
        g["loss"] = g["loss"].rolling(window, min_periods=1).mean()
        out.append(g)
    import pandas as pd

    return pd.concat(out) if out else frame


def _loss(ax, res, colors):
    steps = res["steps"]
    spe = max(int(steps.groupby(["condition", "seed"])["step"].max().min() or 1), 1) if len(steps) else 1
    window = max(1, min(20, spe // 10))
    steps = _smooth(steps, window)
    for cond, color in colors.items():
        f = steps[steps["condition"] == cond]
        if len(f):
            _band(ax, "step", f, "loss", cond, color)
    for _, row in res["summary"].iterrows():
        if row["status"] == "diverged":
            ax.axvline(row["diverged_step"], color=colors[row["condition"]], ls=":", lw=1)
    ax.set(xlabel="training step", ylabel=f"training loss (moving mean of {window})", title="Training loss")
    _legend(ax, fontsize=8)


def _acc(ax, res, colors):
    ep = res["epochs"]
    for cond, color in colors.items():
        f = ep[ep["condition"] == cond] if len(ep) else ep
        if len(f):
            _band(ax, "epoch", f, "val_accuracy", cond, color)
    ax.axhline(0.1, color="gray", ls=":", lw=1, label="chance")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy")
    _legend(ax, fontsize=8)


def _variance(ax, res, cond, color, epoch=1, col="pre_var"):
    lay = res["layers"]
    f = lay[(lay["condition"] == cond)]
    for ep, style, lab in ((0, "--", "at init"), (epoch, "-", f"after epoch {epoch}")):
        g = f[f["epoch"] == ep]
        if len(g):
            _band(ax, "layer_index", g, col, f"measured {lab}", color if ep else "gray")
            ax.lines[-1].set_linestyle(style)
    # He et al.: Var[y_1] measured at init, then times the predicted ratio per layer.
    g0 = f[f["epoch"] == 0].groupby("layer_index")
    if len(f[f["epoch"] == 0]):
        ratio = g0["predicted_ratio"].first()
        first = g0[col].mean().iloc[0]
        pred = first * np.cumprod(np.r_[1.0, ratio.values[1:]])
        tanh = res["config"]["conditions"][[c["name"] for c in res["config"]["conditions"]].index(cond)]["activation"] == "tanh"
        ax.plot(ratio.index, pred, "k:", marker=".", lw=1.2,
                label="He et al. 2015 ratio chain" + (" (linear approx.)" if tanh else ""))
        pv = g0["predicted_var"].mean()
        ax.plot(pv.index, pv.values, "kx", ms=5, label="n Var[w] E[x²] of measured input")
    ax.set_yscale("log")
    ax.set(xlabel="weight layer", title=cond)
    _legend(ax, fontsize=7)


def plot_run(run_dir: str | os.PathLike) -> list[Path]:
    """Redraws every figure of `run_dir` from its saved metrics; returns the PNG paths."""
    from initlab.experiment.runner import load_results

    plt = _plt()
    res = load_results(run_dir)
    fig_dir = Path(run_dir) / "figures"
    fig_dir.mkdir(exist_ok=True)
    names = [c["name"] for c in res["config"]["conditions"]]
    palette = plt.get_cmap("tab10")
    colors = {n: palette(i) for i, n in enumerate(names)}
    paths = []

    def save(fig, name):
        p = fig_dir / name
        tmp = fig_dir / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        plt.close(fig)
        os.replace(tmp, p)
        paths.append(p)

    fig, ax = plt.subplots(figsize=(6, 4))
    _loss(ax, res, colors)
    save(fig, "training_loss.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    _acc(ax, res, colors)
    save(fig, "validation_accuracy.png")

    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8), sharey=True, squeeze=False)
    for ax, n in zip(axes[0], names):
        _variance(ax, res, n, colors[n])
    axes[0][0].set_ylabel("variance of layer output (pre-activation)")
    fig.suptitle("Per-layer activation variance, probe batch (log scale)")
    save(fig, "activation_variance_epoch1.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    lay = res["layers"]
    for n in names:
        g = lay[(lay["condition"] == n) & (lay["epoch"] == 0)]
        if len(g):
            _band(ax, "layer_index", g, "grad_var", n, colors[n])
    ax.set_yscale("log")
    ax.set(xlabel="weight layer", ylabel="variance of kernel gradient", title="Gradient variance at initialization")
    _legend(ax, fontsize=8)
    save(fig, "gradient_variance.png")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    _loss(axes[0], res, colors)
    _acc(axes[1], res, colors)
    for n in names:
        g = lay[(lay["condition"] == n) & (lay["epoch"] == 1)]
        if len(g):
            _band(axes[2], "layer_index", g, "pre_var", n, colors[n])
    axes[2].set_yscale("log")
    axes[2].set(xlabel="weight layer", ylabel="pre-activation variance", title="Per-layer variance after epoch 1")
    _legend(axes[2], fontsize=8)
    save(fig, "overview.png")
    return paths
