"""Section 4 of the lab: how the initialization changes training of a plain deep conv net on CIFAR-10.

    from initlab.experiment import QUICK, run_experiment, load_results, plot_run
    run_dir = run_experiment(QUICK, "runs/train-quick")
    results = load_results(run_dir)      # dicts and pandas DataFrames
    pngs = plot_run(run_dir)             # redraws the figures from the saved files

Importing this package imports no framework; training imports TensorFlow and
Keras (TensorFlow backend) when it starts.
"""

from __future__ import annotations

from initlab.experiment.config import (
    FULL,
    LAB_CONDITIONS,
    QUICK,
    Condition,
    ExperimentConfig,
    preset,
)
from initlab.experiment.plots import plot_run
from initlab.experiment.runner import load_results, run_experiment

__all__ = [
    "FULL", "LAB_CONDITIONS", "QUICK", "Condition", "ExperimentConfig", "preset",
    "run_experiment", "load_results", "plot_run",
]
