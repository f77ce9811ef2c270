"""Training one (condition, seed): a `tf.function` loop with probe statistics and per-epoch checkpoints.

Per step it records the training loss; at initialization and after every epoch
it records, on the fixed probe batch, each weight layer's pre-activation and
post-activation mean and variance, the fraction of dead ReLU units (zero for
every probe image) or saturated tanh units (|tanh| > 0.99), and the variance of
the kernel gradient of the probe loss. After every epoch the weights, the
optimizer state and the metrics so far go into one `.npz`, written atomically,
so an interrupted run resumes from the last completed epoch. The data order
of epoch `e` is a pure function of `(seed, e)`, so a resumed run replays
exactly what an uninterrupted one would have done.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from initlab.atomic import write_npz_atomic
from initlab.experiment import theory
from initlab.experiment.model import build_model, import_keras, weight_layer_names

SATURATION = 0.99  # |tanh(y)| above this counts as saturated (|y| > 2.65)
EVAL_BATCH = 500

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Prepared:
    """Training, validation, test and probe data (uint8 images) plus the normalization."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_probe: np.ndarray
    y_probe: np.ndarray
    mean: np.ndarray  # per channel, of the training images, in [0, 255]
    std: np.ndarray
    description: str
    is_subset: bool
    source: str


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffling of epoch `epoch` (0-based): the same for every condition, and on resume."""
    return np.random.default_rng([seed, epoch, 0x1417]).permutation(n)


def predicted_per_layer(config, condition, model) -> list[dict[str, float]]:
    """He et al.'s ratio per weight layer, and the variance chain it predicts from layer 1's."""
    out = []
    prev_act = "linear"  # layer 1 sees the standardized image
    for name in weight_layer_names(config):
        kernel = tuple(model.get_layer(name).kernel.shape)
        fan_in, _ = theory.fans(kernel)
        out.append({
            "layer": name,
            "predicted_ratio": theory.predicted_ratio(prev_act, condition.initializer, kernel),
            "n_var_w": fan_in * theory.weight_variance(condition.initializer, kernel),
        })
        prev_act = condition.activation
    return out


class _Trainer:
    def __init__(self, config, condition, seed: int, data: Prepared):
        import tensorflow as tf

        keras = import_keras()
        keras.utils.clear_session()
        self.tf, self.keras = tf, keras
        self.config, self.condition, self.seed, self.data = config, condition, seed, data
        self.model = build_model(config, condition, seed)
        if config.optimizer == "sgd":
            self.opt = keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)
        elif config.optimizer == "adam":
            self.opt = keras.optimizers.Adam(config.learning_rate)
        else:
            raise ValueError(f"unknown optimizer {config.optimizer!r}")
        self.opt.build(self.model.trainable_variables)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        mean = tf.constant(data.mean.reshape(1, 1, 1, 3), tf.float32)
        std = tf.constant(data.std.reshape(1, 1, 1, 3), tf.float32)
        model, opt, loss_fn = self.model, self.opt, self.loss_fn

        def normalize(x):
            return (tf.cast(x, tf.float32) - mean) / std

        @tf.function(jit_compile=bool(config.jit_compile), reduce_retracing=True)
        def train_step(x, y):
            with tf.GradientTape() as tape:
                logits = model(normalize(x), training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        @tf.function(reduce_retracing=True)
        def eval_step(x, y):
            logits = model(normalize(x), training=False)
            losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            correct = tf.cast(tf.equal(tf.argmax(logits, -1), tf.cast(y, tf.int64)), tf.float32)
            return tf.reduce_sum(losses), tf.reduce_sum(correct)

        names = weight_layer_names(config)
        outs = []
        for i in range(len(config.widths)):
            outs += [model.get_layer(f"conv{i + 1}").output, model.get_layer(f"act{i + 1}").output]
        outs += [model.output, model.output]  # the classifier: logits, no activation
        probe_model = keras.Model(model.inputs, outs)
        kernels = [model.get_layer(n).kernel for n in names]

        @tf.function
        def probe_step(x, y):
            with tf.GradientTape() as tape:
                ys = probe_model(normalize(x), training=False)
                loss = loss_fn(y, ys[-1])
            grads = tape.gradient(loss, kernels)
            rows = []
            in_sq = tf.reduce_mean(tf.square(normalize(x)))
            for j, g in enumerate(grads):
                pre, post = tf.cast(ys[2 * j], tf.float32), tf.cast(ys[2 * j + 1], tf.float32)
                dead = tf.reduce_mean(tf.cast(tf.reduce_all(tf.equal(post, 0.0), axis=0), tf.float32))
                sat = tf.reduce_mean(tf.cast(tf.abs(post) > SATURATION, tf.float32))
                rows.append(tf.stack([
                    tf.reduce_mean(pre), tf.math.reduce_variance(pre),
                    tf.reduce_mean(post), tf.math.reduce_variance(post),
                    dead, sat, tf.math.reduce_variance(g), in_sq,
                ]))
                in_sq = tf.reduce_mean(tf.square(post))
            return loss, tf.stack(rows)

        self.train_step, self.eval_step, self.probe_step = train_step, eval_step, probe_step
        self.names = names
        self.theory = predicted_per_layer(config, condition, model)

    # ---- measurements
    def probe(self, epoch: int) -> list[dict[str, Any]]:
        loss, rows = self.probe_step(self.data.x_probe, self.data.y_probe)
        rows = rows.numpy().astype(float)
        out = []
        for j, (name, r) in enumerate(zip(self.names, rows)):
            is_relu = self.condition.activation == "relu" and j < len(self.names) - 1
            is_tanh = self.condition.activation == "tanh" and j < len(self.names) - 1
            out.append({
                "epoch": epoch, "layer_index": j + 1, "layer": name,
                "pre_mean": r[0], "pre_var": r[1], "post_mean": r[2], "post_var": r[3],
                "dead_fraction": r[4] if is_relu else None,
                "saturated_fraction": r[5] if is_tanh else None,
                "grad_var": r[6], "probe_loss": float(loss),
                "predicted_ratio": self.theory[j]["predicted_ratio"],
                # He et al. eq. (7) with this layer's measured input: n Var[w] E[x^2].
                "predicted_var": self.theory[j]["n_var_w"] * r[7],
            })
        return out

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        tot_loss = tot_correct = 0.0
        for i in range(0, len(y), EVAL_BATCH):
            lo, co = self.eval_step(x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH])
            tot_loss += float(lo)
            tot_correct += float(co)
        return tot_loss / len(y), tot_correct / len(y)

    # ---- checkpoint
    def save(self, path: Path, meta: dict[str, Any]) -> None:
        arrays = {f"w{i}": w for i, w in enumerate(self.model.get_weights())}
        arrays.update({f"o{i}": np.asarray(v.numpy()) for i, v in enumerate(self.opt.variables)})
        arrays["meta"] = np.frombuffer(json.dumps(meta, allow_nan=True).encode(), dtype=np.uint8)
        write_npz_atomic(path, arrays)

    def restore(self, arrays) -> None:
        n_w = len(self.model.get_weights())
        self.model.set_weights([arrays[f"w{i}"] for i in range(n_w)])
        for i, v in enumerate(self.opt.variables):
            v.assign(arrays[f"o{i}"])


def read_state(path: Path) -> tuple[dict[str, Any] | None, Any]:
    """`(meta, arrays)` of a checkpoint, or `(None, None)` when missing or unreadable."""
    if not path.exists():
        return None, None
    try:
        z = np.load(path, allow_pickle=False)
        meta = json.loads(bytes(z["meta"]).decode())
        return meta, z
    except Exception:  # a damaged checkpoint is ignored: the condition restarts
        return None, None


def train_condition(
    config, condition, seed: int, data: Prepared, state_path: Path,
    progress: Progress | None = None, tb_dir: Path | None = None,
) -> dict[str, Any]:
    """Trains (or resumes, or just returns) one condition for one seed; returns its metrics."""
    meta, arrays = read_state(state_path)
    if meta is not None and meta.get("status") in ("done", "diverged"):
        if progress:
            progress({"kind": "skip", "condition": condition.name, "seed": seed, "status": meta["status"]})
        return meta
    tr = _Trainer(config, condition, seed, data)
    n = len(data.y_train)
    steps = n // config.batch_size
    if meta is None:
        meta = {
            "condition": condition.name, "seed": seed, "status": "running", "epochs_completed": 0,
            "steps_per_epoch": steps, "diverged_step": None, "diverged_epoch": None,
            "step_loss": [], "epochs": [], "layers": tr.probe(0), "test": None,
        }
    else:
        tr.restore(arrays)
    writer = None
    if tb_dir is not None and config.tensorboard:
        writer = tr.tf.summary.create_file_writer(str(tb_dir / f"{condition.name}__s{seed}"))
    b = config.batch_size
    for epoch in range(meta["epochs_completed"], config.epochs):
        order = epoch_order(n, seed, epoch)  # gathered per batch: no second copy of the training set
        t0 = time.perf_counter()
        losses = []
        for i in range(steps):
            idx = order[i * b:(i + 1) * b]
            loss = float(tr.train_step(data.x_train[idx], data.y_train[idx]))
            losses.append(loss)
            gstep = epoch * steps + i + 1
            if writer is not None:
                with writer.as_default(step=gstep):
                    tr.tf.summary.scalar("train/loss", loss)
            if progress:
                dt = time.perf_counter() - t0
                progress({
                    "kind": "step", "condition": condition.name, "seed": seed, "epoch": epoch + 1,
                    "epochs": config.epochs, "step": i + 1, "steps": steps, "loss": loss,
                    "images_per_s": (i + 1) * b / dt if dt > 0 else None,
                })
            if not np.isfinite(loss):
                meta["step_loss"].extend(losses)
                meta.update(status="diverged", diverged_step=gstep, diverged_epoch=epoch + 1)
                if progress:
                    progress({"kind": "diverged", "condition": condition.name, "seed": seed, "step": gstep})
                tr.save(state_path, meta)
                return meta
        seconds = time.perf_counter() - t0
        val_loss, val_acc = tr.evaluate(data.x_val, data.y_val)
        layers = tr.probe(epoch + 1)
        meta["step_loss"].extend(losses)
        meta["layers"].extend(layers)
        meta["epochs"].append({
            "epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_loss": val_loss,
            "val_accuracy": val_acc, "seconds": seconds, "images_per_s": steps * b / seconds,
        })
        meta["epochs_completed"] = epoch + 1
        if writer is not None:
            with writer.as_default(step=(epoch + 1) * steps):
                tr.tf.summary.scalar("epoch/train_loss", meta["epochs"][-1]["train_loss"])
                tr.tf.summary.scalar("epoch/val_loss", val_loss)
                tr.tf.summary.scalar("epoch/val_accuracy", val_acc)
                for row in layers:
                    tr.tf.summary.scalar(f"pre_activation_variance/{row['layer']}", row["pre_var"])
            writer.flush()
        if progress:
            progress({"kind": "epoch", "condition": condition.name, "seed": seed, "epoch": epoch + 1,
                      "epochs": config.epochs, **meta["epochs"][-1]})
        if epoch + 1 == config.epochs:
            test_loss, test_acc = tr.evaluate(data.x_test, data.y_test)
            meta["test"] = {"loss": test_loss, "accuracy": test_acc}
            meta["status"] = "done"
        tr.save(state_path, meta)
    return meta
