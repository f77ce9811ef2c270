"""Figures of `initlab parity`, drawn from the saved samples and the comparison record (no sampling here).

`plot_comparison(record, path)` reads the record's `samples_file` (10k samples per
side, Keras layout) and its two reference dictionaries, and writes one PNG with
both histograms and both analytic densities. `replot(result_json, out_dir)` redraws
every figure of a saved `--json` result.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

_FW = {"torch": "PyTorch", "jax": "JAX"}


def plot_comparison(record: Mapping[str, Any], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from initlab.parity import reference_from_dict

    data = np.load(record["samples_file"])
    keras, other = data["keras"].astype(np.float64), data["other"].astype(np.float64)
    fw = _FW.get(record["framework"], record["framework"])
    lo = float(min(keras.min(), other.min()))
    hi = float(max(keras.max(), other.max()))
    pad = 0.05 * (hi - lo or 1.0)
    bins = np.linspace(lo - pad, hi + pad, 81)
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=80)
    # np.histogram + stairs: one artist per histogram (ax.hist draws 80 patches, 10x slower to save).
    for x, color, who in ((keras, "tab:red", "Keras"), (other, "tab:blue", fw)):
        heights, _ = np.histogram(x, bins=bins, density=True)
        ax.stairs(heights, bins, fill=True, alpha=0.4, color=color, label=f"{who} samples ({x.size:,})")
    grid = np.linspace(bins[0], bins[-1], 801)
    for key, color, who in (("keras_reference", "darkred", "Keras"), ("other_reference", "navy", fw)):
        ref_dict = record.get(key)
        if ref_dict:
            ref = reference_from_dict(ref_dict)
            ax.plot(grid, ref.pdf(grid), color=color, lw=1.6, label=f"{who} formula {ref.describe()}")
    ax.set_title(f"{record['other_call']}  vs  {record['keras_call']}\n{record['layer']} ({record['part']})",
                 fontsize=9)
    ax.set_xlabel("weight value")
    ax.set_ylabel("density")
    ax.legend(fontsize=7, loc="upper right")
    # A short caption (glyphs dominate the save time); the full verdict is in parity.json.
    ratio = record["predicted"]["variance_ratio"]
    ratio_text = ratio if isinstance(ratio, str) else f"{ratio:.4g}"
    caption = f"Verdict: {record['observed']}; {fw}/Keras variance ratio {ratio_text}; " + (
        "as the formula tables predict" if record["status"] == "ok" else "MISMATCH")
    if record["status"] != "ok":
        caption += "\n" + textwrap.fill(textwrap.shorten(record["verdict"], 200, placeholder=" ..."), 130)
    ax.text(0.0, -0.2, caption, transform=ax.transAxes, fontsize=7, va="top")
    fig.subplots_adjust(left=0.1, right=0.98, top=0.86, bottom=0.3)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def replot(result_json: str, out_dir: str) -> list[str]:
    """Redraws every figure of a saved parity result from its samples files."""
    with open(result_json) as fh:
        result = json.load(fh)
    paths = []
    for record in result["comparisons"]:
        if record.get("samples_file"):
            name = os.path.basename(record["samples_file"]).removesuffix(".npz") + ".png"
            paths.append(plot_comparison(record, os.path.join(out_dir, name)))
    return paths
