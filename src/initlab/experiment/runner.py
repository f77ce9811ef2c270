"""`run_experiment(config, out_dir)`: every condition and seed, written to one run folder.

Run folder layout (all written atomically):

    config.json          the resolved ExperimentConfig
    env.json             package/framework versions, data source, seeds, optimizer note, FLOPs
    metrics.json         everything recorded, per condition and seed
    steps.csv epochs.csv layers.csv summary.csv   the same, as tables
    state/<cond>__s<seed>.npz    per-epoch checkpoint (weights, optimizer, metrics so far)
    tensorboard/<cond>__s<seed>/ TensorBoard event files
    figures/*.png        drawn from the CSVs by `initlab.experiment.plots`

Running the same configuration into the same folder again resumes: finished
(condition, seed) pairs are skipped and an interrupted one restarts from its
last completed epoch.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from initlab.atomic import (
    write_csv_atomic,
    write_json_atomic,
    write_text_atomic,
)
from initlab.cifar import load_cifar10, stratified_split
from initlab.errors import DataError, UsageError
from initlab.experiment.config import OPTIMIZER_NOTE, ExperimentConfig
from initlab.experiment.training import Prepared, Progress, train_condition

__all__ = ["prepare_data", "run_experiment", "load_results", "default_run_dir", "SUBSET_NOTE"]

SUBSET_NOTE = (
    "Trained on the bundled subset of CIFAR-10 (1,000 train + 200 test images per class), "
    "enough to show the effect but not to reach full-data accuracy. For the full set run "
    "`initlab train --full` (finds CIFAR-10 via --data PATH, $INITLAB_CIFAR10, the Keras cache "
    "or the Keras download)."
)


def default_run_dir(config: ExperimentConfig) -> Path:
    return Path("runs") / f"train-{config.preset}"


def prepare_data(config: ExperimentConfig) -> Prepared:
    """Loads CIFAR-10, holds out the validation split and picks the probe batch."""
    ds = load_cifar10(config.data, prefer_bundled=(config.preset == "quick"))
    keep, val = stratified_split(ds.y_train, config.validation_size, config.split_seed)
    if config.train_size is not None:
        if config.train_size > len(keep):
            raise UsageError(f"train_size {config.train_size} exceeds the {len(keep)} training images available")
        if config.train_size < len(keep):
            _, chosen = stratified_split(ds.y_train[keep], config.train_size, config.split_seed + 1)
            keep = keep[chosen]
    rng = np.random.default_rng([config.split_seed, 0xB0BE])
    probe = np.sort(rng.choice(val, size=config.probe_size, replace=False))
    x_tr = ds.x_train[keep]
    mean, std = _channel_moments(x_tr)
    return Prepared(
        x_train=x_tr, y_train=ds.y_train[keep],
        x_val=ds.x_train[val], y_val=ds.y_train[val],
        x_test=ds.x_test, y_test=ds.y_test,
        x_probe=ds.x_train[probe], y_probe=ds.y_train[probe],
        mean=mean, std=std,
        description=ds.describe(), is_subset=ds.is_subset, source=ds.source,
    )


def _channel_moments(x: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 images, in float64 chunks (a float64 copy of all
    of CIFAR-10 would take 1.2 GB)."""
    s = np.zeros(3)
    sq = np.zeros(3)
    for i in range(0, len(x), chunk):
        c = x[i:i + chunk].reshape(-1, 3).astype(np.float64)
        s += c.sum(0)
        sq += np.square(c).sum(0)
    n = len(x) * x.shape[1] * x.shape[2]
    mean = s / n
    return mean.astype(np.float32), np.sqrt(sq / n - mean**2).astype(np.float32)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("initlab", "numpy", "keras", "tensorflow", "matplotlib", "pandas"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _check_run_dir(out: Path, config: ExperimentConfig) -> None:
    cfg_path = out / "config.json"
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{cfg_path} is unreadable ({exc}); choose another output folder") from exc
        if old != json.loads(config.to_json()):
            raise UsageError(
                f"{out} holds a run with a different configuration; resume it with the same options, "
                "or choose another output folder (--out)"
            )
    elif out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not an initlab train run folder; choose another --out")


def run_experiment(
    config: ExperimentConfig, out_dir: str | os.PathLike | None = None, progress: Progress | None = None,
) -> Path:
    """Trains every condition for every seed into `out_dir` (resuming what is there); returns the folder."""
    from initlab.experiment.model import build_model, forward_flops, import_keras

    out = Path(out_dir) if out_dir is not None else default_run_dir(config)
    _check_run_dir(out, config)
    import_keras()
    data = prepare_data(config)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "config.json").exists():
        write_text_atomic(out / "config.json", config.to_json() + "\n")
    flops = forward_flops(build_model(config, config.conditions[0], 0))
    env = {
        "versions": _versions(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "argv": sys.argv, "seeds": list(config.seeds), "data": data.description,
        "data_source": data.source, "is_subset": data.is_subset,
        "subset_note": SUBSET_NOTE if data.is_subset else None,
        "n_train": len(data.y_train), "n_val": len(data.y_val), "n_test": len(data.y_test),
        "n_probe": len(data.y_probe), "forward_flops_per_image": flops,
        "optimizer_note": OPTIMIZER_NOTE.format(opt=_optimizer_text(config)),
    }
    write_json_atomic(out / "env.json", env)
    if progress:
        progress({"kind": "start", "run_dir": str(out), **env})
    metas: dict[tuple[str, int], dict[str, Any]] = {}
    for seed in config.seeds:
        for cond in config.conditions:
            if progress:
                progress({"kind": "condition", "condition": cond.name, "seed": seed})
            metas[(cond.name, seed)] = train_condition(
                config, cond, seed, data, out / "state" / f"{cond.name}__s{seed}.npz",
                progress=progress, tb_dir=out / "tensorboard",
            )
            write_metrics(out, config, metas)
    from initlab.experiment.plots import plot_run

    plot_run(out)
    if progress:
        progress({"kind": "done", "run_dir": str(out)})
    return out


def _optimizer_text(config: ExperimentConfig) -> str:
    if config.optimizer == "sgd":
        return f"SGD, learning rate {config.learning_rate}, momentum {config.momentum}"
    return f"Adam, learning rate {config.learning_rate}"


def write_metrics(out: Path, config: ExperimentConfig, metas: dict[tuple[str, int], dict[str, Any]]) -> None:
    import pandas as pd

    conds = {c.name: c for c in config.conditions}
    doc = {"conditions": []}
    steps, epochs, layers, summary = [], [], [], []
    for c in config.conditions:
        per_seed = {str(s): m for (n, s), m in metas.items() if n == c.name}
        doc["conditions"].append({"name": c.name, "activation": c.activation, "initializer": c.initializer,
                                  "seeds": per_seed})
    for (name, seed), m in metas.items():
        key = {"condition": name, "seed": seed}
        spe = m["steps_per_epoch"]
        steps += [{**key, "step": i + 1, "epoch": i // spe + 1, "loss": v} for i, v in enumerate(m["step_loss"])]
        epochs += [{**key, **e} for e in m["epochs"]]
        layers += [{**key, **r} for r in m["layers"]]
        last = m["epochs"][-1] if m["epochs"] else {}
        summary.append({
            **key, "activation": conds[name].activation, "initializer": conds[name].initializer,
            "status": m["status"], "diverged_step": m["diverged_step"], "epochs_completed": m["epochs_completed"],
            "final_train_loss": last.get("train_loss"), "final_val_accuracy": last.get("val_accuracy"),
            "test_loss": (m["test"] or {}).get("loss"), "test_accuracy": (m["test"] or {}).get("accuracy"),
        })
    write_json_atomic(out / "metrics.json", doc)
    write_csv_atomic(out / "steps.csv", pd.DataFrame(steps, columns=["condition", "seed", "step", "epoch", "loss"]))
    write_csv_atomic(out / "epochs.csv", pd.DataFrame(epochs))
    write_csv_atomic(out / "layers.csv", pd.DataFrame(layers))
    write_csv_atomic(out / "summary.csv", pd.DataFrame(summary))


def load_results(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The saved run as plain data: `config`, `env`, `metrics` (dicts) and `steps`, `epochs`,
    `layers`, `summary` (pandas DataFrames)."""
    import pandas as pd

    run = Path(run_dir)
    if not (run / "metrics.json").exists():
        raise DataError(f"{run} is not a finished or partial initlab train run (no metrics.json)")
    try:
        out: dict[str, Any] = {
            "run_dir": str(run),
            "config": json.loads((run / "config.json").read_text()),
            "env": json.loads((run / "env.json").read_text()),
            "metrics": json.loads((run / "metrics.json").read_text()),
        }
        for name in ("steps", "epochs", "layers", "summary"):
            p = run / f"{name}.csv"
            out[name] = pd.read_csv(p) if p.stat().st_size > 1 else pd.DataFrame()
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read run {run}: {exc}") from exc
    return out
