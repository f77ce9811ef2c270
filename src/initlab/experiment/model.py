"""The plain conv net of the experiment, built with the Keras Functional API.

`len(widths)` conv layers (`kernel_size`, stride 1 or 2, zero bias, the
condition's activation), then Flatten and one Dense classifier producing
logits: `len(widths) + 1` weight layers. Each conv is followed by a separate
`Activation` layer so the pre-activation (the quantity He et al. predict) can
be read out. No BatchNormalization unless the config asks for it.
"""

from __future__ import annotations

import os
import sys

from initlab.errors import BackendError

__all__ = ["import_keras", "build_model", "weight_layer_names", "forward_flops"]


def import_keras():
    """Imports Keras on the TensorFlow backend; refuses if Keras already runs on another."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    if keras.backend.backend() != "tensorflow":
        raise BackendError(
            f"initlab train needs the TensorFlow backend, but Keras already runs on "
            f"{keras.backend.backend()!r} in this process; start a new one with KERAS_BACKEND=tensorflow"
        )
    return keras


def weight_layer_names(config) -> list[str]:
    return [f"conv{i + 1}" for i in range(len(config.widths))] + ["dense"]


def build_model(config, condition, seed: int):
    """The model for one condition and seed; layer `i`'s kernel uses seed `1000*seed + i`."""
    keras = import_keras()
    L = keras.layers

    def init(i: int):
        return keras.initializers.get({"class_name": condition.initializer, "config": {"seed": 1000 * seed + i}})

    dtype = getattr(config, "precision", "float32")  # a per-layer policy: no global Keras state
    inputs = keras.Input((32, 32, 3), name="image")
    x = inputs
    for i, (w, s) in enumerate(zip(config.widths, config.strides)):
        x = L.Conv2D(
            int(w), config.kernel_size, strides=s, padding=config.padding,
            kernel_initializer=init(i), bias_initializer="zeros", name=f"conv{i + 1}", dtype=dtype,
        )(x)
        if config.batch_norm:
            x = L.BatchNormalization(name=f"bn{i + 1}", dtype=dtype)(x)
        x = L.Activation(condition.activation, name=f"act{i + 1}", dtype=dtype)(x)
    x = L.Flatten(name="flatten", dtype=dtype)(x)
    # The classifier computes in float32 so the loss and the logits' statistics keep full precision.
    logits = L.Dense(10, kernel_initializer=init(len(config.widths)), name="dense", dtype="float32")(x)
    return keras.Model(inputs, logits, name=f"plain{len(config.widths) + 1}_{condition.name}")


def forward_flops(model) -> int:
    """Multiply-adds x 2 of one image's forward pass through the conv and dense layers."""
    keras = import_keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = layer.output.shape
            kh, kw, cin, _ = layer.kernel.shape
            total += 2 * h * w * c * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    return int(total)
