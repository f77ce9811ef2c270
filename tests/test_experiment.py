"""The CIFAR-10 initialization experiment: He et al.'s prediction, resume, divergence, outputs, CLI.

Models here are tiny versions of the lab's net (same builder, same probe code)
trained on slices of the bundled real CIFAR-10 subset, so the whole file runs
in about a minute on 2 CPU cores.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from initlab import formulas
from initlab.errors import UsageError
from initlab.experiment import (
    Condition,
    ExperimentConfig,
    load_results,
    plot_run,
    run_experiment,
    theory,
)
from initlab.experiment.config import QUICK
from initlab.experiment.plots import FIGURES

SUBSET = str(__import__("initlab.cifar", fromlist=["x"]).BUNDLED_SUBSET)


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("INITLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.delenv("INITLAB_CIFAR10", raising=False)
    yield
    mp.undo()


def tiny(**changes) -> ExperimentConfig:
    base = dict(
        preset="custom", data=SUBSET, widths=(8, 8, 8), strides=(1, 2, 2), epochs=3, seeds=(0,),
        batch_size=64, train_size=320, validation_size=200, probe_size=64, tensorboard=False,
    )
    base.update(changes)
    return ExperimentConfig(**base)


# --------------------------------------------------------------------------- theory (exact)


def test_he_ratios_exact():
    # Equal widths: ReLU + Glorot halves the variance per layer, ReLU + He keeps it.
    k = (3, 3, 64, 64)
    assert theory.fans(k) == (576, 576)
    assert theory.predicted_ratio("relu", "glorot_uniform", k) == pytest.approx(0.5, rel=1e-12)
    assert theory.predicted_ratio("relu", "he_normal", k) == pytest.approx(1.0, rel=1e-12)
    assert theory.predicted_ratio("tanh", "glorot_uniform", k) == pytest.approx(1.0, rel=1e-12)
    assert theory.predicted_ratio("relu", "glorot_uniform", (3, 3, 32, 64)) == pytest.approx(1 / 3, rel=1e-12)
    # Var[w] comes from the formula table: the same number verify checks Keras against.
    assert theory.weight_variance("he_normal", k) == formulas.reference("HeNormal", None, k).var
    with pytest.raises(UsageError, match="unknown initializer 'he_normall'"):
        theory.weight_variance("he_normall", k)


# --------------------------------------------------------------------------- He et al. on the recorded stats


def _init_ratio_errors(initializer: str, seeds: range) -> np.ndarray:
    """Per seed: mean over layers 2..L of (measured Var[y_l]/Var[y_l-1]) / (He ratio) - 1, at initialization."""
    from initlab.experiment.runner import prepare_data
    from initlab.experiment.training import _Trainer

    # 'valid' padding and stride 1: every output sees a full fan-in, the setting of He et al.'s derivation.
    cfg = tiny(widths=(32,) * 6, strides=(1,) * 6, padding="valid", probe_size=128)
    data = prepare_data(cfg)
    cond = Condition("c", "relu", initializer)
    out = []
    for s in seeds:
        rows = _Trainer(cfg, cond, s, data).probe(0)[:6]  # the conv layers
        var = np.array([r["pre_var"] for r in rows])
        pred = np.array([r["predicted_ratio"] for r in rows[1:]])
        out.append(np.mean(var[1:] / var[:-1] / pred - 1))
    return np.array(out)


@pytest.mark.parametrize("initializer, expected_ratio", [("he_normal", 1.0), ("glorot_uniform", 0.5)])
def test_recorded_init_variances_follow_he_prediction(initializer, expected_ratio):
    """The recorded per-layer variance ratio at init matches He et al. (1/2 n Var[w]).

    Tolerance: each seed is an independent weight draw, so the per-seed mean relative error d_s is
    i.i.d.; we test E[d] = 0 with a two-sided t-test at alpha = 0.001 over 10 seeds:
    |mean d| < t_{0.9995, 9} sd(d) / sqrt(10). Why E[d] = 0 holds for the plain (not log) ratio:
    given layer l's input, E over W_l of Var[y_l] is n Var[w] E[x^2] (linear in w^2, so no Jensen bias),
    and flipping the sign of a weight vector of layer l-1 leaves Var[y_l-1] unchanged while swapping
    relu(y) with relu(-y), so E[x^2] = Var[y_l-1]/2 in expectation. What remains is the global-mean
    subtraction, about 1/(pi * 32 channels) = 3% of a variance, far inside the band. The band is also
    checked to be narrow enough (< 0.4) to reject a law off by a factor of 2 (d = -0.5 or +1)."""
    assert expected_ratio == pytest.approx(theory.predicted_ratio("relu", initializer, (3, 3, 32, 32)))
    seeds = range(10)
    d = _init_ratio_errors(initializer, seeds)
    n = len(d)
    half = stats.t.ppf(1 - 0.001 / 2, n - 1) * d.std(ddof=1) / math.sqrt(n)
    assert abs(d.mean()) < half, f"{initializer}: mean relative error {d.mean():.4f} beyond +-{half:.4f} (seeds {list(seeds)})"
    assert half < 0.4, f"band +-{half:.3f} too wide to tell ratio {expected_ratio} from {expected_ratio / 2}"


# --------------------------------------------------------------------------- runs


def _strip_timing(meta):
    m = json.loads(json.dumps(meta))
    for cond in m["conditions"]:
        for s in cond["seeds"].values():
            for e in s["epochs"]:
                e.pop("seconds"), e.pop("images_per_s")
    return m


class _Interrupt:
    def __init__(self, epoch, step):
        self.at = (epoch, step)

    def __call__(self, e):
        if e["kind"] == "step" and e["condition"] == "relu-he" and (e["epoch"], e["step"]) == self.at:
            raise KeyboardInterrupt


def test_resume_after_interrupt_gives_identical_metrics(tmp_path):
    cfg = tiny(conditions=(Condition("tanh-glorot", "tanh", "glorot_uniform"),
                           Condition("relu-he", "relu", "he_normal")))
    straight = load_results(run_experiment(cfg, tmp_path / "straight"))
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "resumed", progress=_Interrupt(epoch=2, step=3))
    from initlab.experiment.training import read_state

    meta, _ = read_state(tmp_path / "resumed/state/relu-he__s0.npz")
    assert meta["epochs_completed"] == 1 and meta["status"] == "running"
    events = []
    resumed = load_results(run_experiment(cfg, tmp_path / "resumed", progress=events.append))
    assert {"kind": "skip", "condition": "tanh-glorot", "seed": 0, "status": "done"} in events
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [2, 3]  # restarted at the lost epoch
    assert _strip_timing(resumed["metrics"]) == _strip_timing(straight["metrics"])
    assert resumed["summary"]["test_accuracy"].tolist() == straight["summary"]["test_accuracy"].tolist()


def test_other_config_in_same_folder_is_refused(tmp_path):
    run_experiment(tiny(epochs=1), tmp_path / "r")
    with pytest.raises(UsageError, match="different configuration"):
        run_experiment(tiny(epochs=2), tmp_path / "r")


def test_divergence_is_recorded_and_the_run_goes_on(tmp_path):
    cfg = tiny(learning_rate=1e4, epochs=2, conditions=(Condition("relu-he", "relu", "he_normal"),
                                                         Condition("relu-glorot", "relu", "glorot_uniform")))
    res = load_results(run_experiment(cfg, tmp_path / "div"))
    s = res["summary"].set_index("condition")
    assert set(s.index) == {"relu-he", "relu-glorot"}
    for name in s.index:
        assert s.loc[name, "status"] == "diverged"
        step = int(s.loc[name, "diverged_step"])
        losses = res["steps"][res["steps"]["condition"] == name]["loss"].to_numpy()
        assert len(losses) == step and not np.isfinite(losses[-1]) and np.isfinite(losses[:-1]).all()
    assert all((tmp_path / "div/figures" / f).exists() for f in FIGURES)


def test_outputs_and_plot_redraw(tmp_path):
    run = run_experiment(tiny(epochs=1, tensorboard=True, seeds=(0, 1)), tmp_path / "out")
    for f in ("config.json", "env.json", "metrics.json", "steps.csv", "epochs.csv", "layers.csv", "summary.csv"):
        assert (run / f).stat().st_size > 0, f
    env = json.loads((run / "env.json").read_text())
    assert env["versions"]["tensorflow"] and env["seeds"] == [0, 1] and "SGD" in env["optimizer_note"]
    assert list((run / "tensorboard").glob("relu-he__s1/events.out.tfevents.*"))
    res = load_results(run)
    lay = res["layers"]
    # every condition, seed, epoch in {0, 1} and weight layer (3 conv + dense) is recorded
    assert len(lay) == 3 * 2 * 2 * 4
    relu = lay[(lay["condition"] == "relu-he") & (lay["layer"] != "dense")]
    assert relu["dead_fraction"].between(0, 1).all() and relu["saturated_fraction"].isna().all()
    tanh = lay[(lay["condition"] == "tanh-glorot") & (lay["layer"] != "dense")]
    assert tanh["saturated_fraction"].between(0, 1).all() and tanh["dead_fraction"].isna().all()
    assert (lay["grad_var"] > 0).all()
    for f in FIGURES:
        (run / "figures" / f).unlink()
    paths = plot_run(run)
    assert sorted(p.name for p in paths) == sorted(FIGURES) and all(p.stat().st_size > 10_000 for p in paths)


# --------------------------------------------------------------------------- config and CLI


def test_config_defaults_are_the_lab():
    assert [(c.activation, c.initializer) for c in QUICK.conditions] == [
        ("tanh", "glorot_uniform"), ("relu", "glorot_uniform"), ("relu", "he_normal")]
    assert QUICK.n_weight_layers == 10 and not QUICK.batch_norm and QUICK.optimizer == "sgd"
    assert ExperimentConfig.from_dict(json.loads(QUICK.to_json())) == QUICK


@pytest.mark.parametrize("changes, match", [
    ({"strides": (1, 2)}, "one per width"),
    ({"optimizer": "rmsprop"}, "optimizer 'rmsprop'"),
    ({"conditions": ()}, "at least one condition"),
    ({"probe_size": 5000}, "exceeds validation_size"),
])
def test_config_errors_say_what_was_received(changes, match):
    with pytest.raises(UsageError, match=match):
        QUICK.replace(**changes)


def test_condition_parse():
    assert Condition.parse("relu:he") == Condition("relu-he-normal", "relu", "he_normal")
    assert Condition.parse("mine=tanh:glorot_uniform") == Condition("mine", "tanh", "glorot_uniform")
    with pytest.raises(UsageError, match="ACTIVATION:INITIALIZER"):
        Condition.parse("relu")
    with pytest.raises(UsageError, match="activation 'gelu'"):
        Condition.parse("gelu:he_normal")


def test_cli_train_then_plot(tmp_path, capsys):
    from initlab.cli import main

    out = tmp_path / "cli"
    argv = ["train", "--data", SUBSET, "--out", str(out), "--epochs", "1", "--widths", "8,8,8",
            "--train-size", "256", "--validation-size", "200", "--probe-size", "64", "--batch-size", "64",
            "--no-tensorboard", "--no-progress", "--condition", "relu:he_normal"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "relu-he-normal" in text and "Run folder" in text
    assert main(["plot", str(out)]) == 0
    assert capsys.readouterr().out.count(".png") == len(FIGURES)
    assert main(["plot", str(tmp_path / "nothing")]) == 2
    assert main(["train", "--widths", "8,x"]) == 2


def test_command_modules_import_no_framework():
    code = ("import sys, initlab.cli, initlab.commands.train, initlab.commands.plot, initlab.experiment; "
            "bad = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mixed_bfloat16_keeps_float32_weights_and_statistics():
    from initlab.experiment.runner import prepare_data
    from initlab.experiment.training import _Trainer

    cfg = tiny()
    data = prepare_data(cfg)
    cond = Condition("relu-glorot", "relu", "glorot_uniform")
    f32 = _Trainer(cfg, cond, 0, data).probe(0)
    bf = _Trainer(cfg.replace(precision="mixed_bfloat16"), cond, 0, data)
    assert str(bf.model.get_layer("conv2").kernel.dtype) == "float32"
    assert bf.model.get_layer("conv2").compute_dtype == "bfloat16"
    assert bf.model.output.dtype == "float32"
    # bf16 keeps 8 significant bits: each layer's variance within 2% of float32 (the same weights).
    for a, b in zip(f32, bf.probe(0)):
        assert b["pre_var"] == pytest.approx(a["pre_var"], rel=0.02), a["layer"]
