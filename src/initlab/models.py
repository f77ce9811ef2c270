"""The lab's example models for Section 5, built with the Keras Functional API.

- `resnet_block`: two 3x3 Conv2D + BatchNorm with `he_normal` kernels and a
  residual Add; when the stride or the width changes, a 1x1 projection
  shortcut with `glorot_uniform` (He et al. 2016, Deep Residual Learning,
  option B).
- `small_resnet`: a stem and several blocks, then pooling and a Dense head.
- `resnet50_sized`: the ResNet-50 layout (bottleneck blocks 3-4-6-3, about
  25.6 M parameters, same initializers) for the audit benchmark.
- `OrthogonalRNNCell`: a tanh RNN cell whose recurrent kernel uses
  `orthogonal` (Saxe et al. 2014), the input kernel `glorot_uniform` and the
  bias `zeros`; registered as `initlab>OrthogonalRNNCell` so a saved model
  loads in safe mode. `orthogonal_rnn` wraps it in `keras.layers.RNN`.

The policies that these models must satisfy ship in `initlab/policies/`.
Keras is imported when a builder is called, never at module import, except
for the cell class, which needs Keras to exist; it is created on first use.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "resnet_block",
    "small_resnet",
    "resnet50_sized",
    "orthogonal_rnn_cell_class",
    "orthogonal_rnn",
    "lab_models",
]

# The lab's choices, stated once.
CONV_INIT = "he_normal"
SHORTCUT_INIT = "glorot_uniform"
RECURRENT_INIT = "orthogonal"
INPUT_INIT = "glorot_uniform"


def _keras():
    from initlab.keras_backend import use_backend

    use_backend(None)
    import keras

    return keras


def _conv_bn(keras, x, filters: int, kernel: int, seed, names: tuple[str, str, str | None], stride: int = 1,
             init: str = CONV_INIT, padding: str = "same"):
    """Conv2D (no bias) -> BatchNormalization [-> ReLU], named (conv, bn, relu); relu None: no activation."""
    L = keras.layers
    conv, bn, relu = names
    y = L.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False,
                 kernel_initializer=_init(keras, init, seed), name=conv)(x)
    y = L.BatchNormalization(name=bn)(y)
    return L.Activation("relu", name=relu)(y) if relu else y


def resnet_block(x, filters: int, stride: int = 1, name: str = "block", seed: int | None = None):
    """One basic residual block on tensor `x`; returns the output tensor.

    conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut (identity,
    or a 1x1 conv with stride and BN when the shape changes), then ReLU.
    Every Conv2D kernel is `he_normal`; the projection shortcut's is `glorot_uniform`.
    """
    keras = _keras()
    L = keras.layers
    seeds = _seeds(seed, 3)
    y = _conv_bn(keras, x, filters, 3, seeds[0], (f"{name}_conv1", f"{name}_bn1", f"{name}_relu1"), stride)
    y = _conv_bn(keras, y, filters, 3, seeds[1], (f"{name}_conv2", f"{name}_bn2", None))
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(keras, x, filters, 1, seeds[2], (f"{name}_shortcut", f"{name}_shortcut_bn", None),
                            stride, SHORTCUT_INIT, padding="valid")
    y = L.Add(name=f"{name}_add")([y, shortcut])
    return L.Activation("relu", name=f"{name}_out")(y)


def small_resnet(input_shape=(32, 32, 3), classes: int = 10, widths=(16, 32, 64), blocks_per_stage: int = 1,
                 seed: int | None = 0):
    """A small ResNet: conv stem, `blocks_per_stage` blocks per width (stride 2 from the second
    width on), global average pooling and a Dense head (`glorot_uniform`, Keras's default)."""
    keras = _keras()
    L = keras.layers
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn(keras, inputs, widths[0], 3, _seed(seed, 0), ("stem_conv", "stem_bn", "stem_relu"))
    for s, width in enumerate(widths):
        for b in range(blocks_per_stage):
            stride = 2 if s > 0 and b == 0 else 1
            x = resnet_block(x, width, stride, name=f"stage{s + 1}_block{b + 1}", seed=_seed(seed, 10 * (s + 1) + b))
    x = L.GlobalAveragePooling2D(name="pool")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="small_resnet")


def _bottleneck(keras, x, filters: int, stride: int, name: str, seed: int | None):
    L = keras.layers
    seeds = _seeds(seed, 4)
    y = _conv_bn(keras, x, filters, 1, seeds[0], (f"{name}_conv1", f"{name}_bn1", f"{name}_relu1"), stride,
                 padding="valid")
    y = _conv_bn(keras, y, filters, 3, seeds[1], (f"{name}_conv2", f"{name}_bn2", f"{name}_relu2"))
    y = _conv_bn(keras, y, 4 * filters, 1, seeds[2], (f"{name}_conv3", f"{name}_bn3", None), padding="valid")
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = _conv_bn(keras, x, 4 * filters, 1, seeds[3], (f"{name}_shortcut", f"{name}_shortcut_bn", None),
                            stride, SHORTCUT_INIT, padding="valid")
    y = L.Add(name=f"{name}_add")([y, shortcut])
    return L.Activation("relu", name=f"{name}_out")(y)


def resnet50_sized(input_shape=(224, 224, 3), classes: int = 1000, seed: int | None = 0):
    """ResNet-50's layout (He et al. 2016, Table 1): 7x7 stem, bottleneck stages 3-4-6-3 with
    widths 64-128-256-512, a 1000-way Dense head; about 25.6 M parameters in 267 weight tensors (BatchNorm statistics included).
    Initializers as in `resnet_block`."""
    keras = _keras()
    L = keras.layers
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn(keras, inputs, 64, 7, _seed(seed, 0), ("stem_conv", "stem_bn", "stem_relu"), stride=2)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for s, (filters, count) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for b in range(count):
            stride = 2 if s > 0 and b == 0 else 1
            x = _bottleneck(keras, x, filters, stride, f"stage{s + 1}_block{b + 1}", _seed(seed, 10 * (s + 1) + b))
    x = L.GlobalAveragePooling2D(name="pool")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet50_sized")


@lru_cache(maxsize=1)
def orthogonal_rnn_cell_class():
    """The `OrthogonalRNNCell` class (created once, registered with Keras as initlab>OrthogonalRNNCell).

    h_t = tanh(x_t W + h_{t-1} U + b); W `glorot_uniform`, U `orthogonal`, b `zeros`.
    """
    keras = _keras()

    @keras.saving.register_keras_serializable(package="initlab", name="OrthogonalRNNCell")
    class OrthogonalRNNCell(keras.layers.Layer):
        def __init__(self, units, kernel_initializer=INPUT_INIT, recurrent_initializer=RECURRENT_INIT,
                     bias_initializer="zeros", seed=None, **kwargs):
            super().__init__(**kwargs)
            self.units = int(units)
            self.state_size = self.units
            self.output_size = self.units
            self.seed = seed
            self.kernel_initializer = _init(keras, kernel_initializer, seed)
            self.recurrent_initializer = _init(keras, recurrent_initializer, None if seed is None else seed + 1)
            self.bias_initializer = keras.initializers.get(bias_initializer)

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer=self.kernel_initializer,
                                          name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                    initializer=self.recurrent_initializer, name="recurrent_kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="bias")

        def call(self, inputs, states):
            ops = keras.ops
            h = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel) + self.bias)
            return h, [h]

        def get_config(self):
            return {
                **super().get_config(),
                "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "seed": self.seed,
            }

    return OrthogonalRNNCell


def orthogonal_rnn(timesteps: int = 20, features: int = 32, units: int = 128, classes: int = 10,
                   seed: int | None = 0):
    """Sequence classifier: `keras.layers.RNN(OrthogonalRNNCell(units))` then a Dense head."""
    keras = _keras()
    cell = orthogonal_rnn_cell_class()(units, seed=seed, name="orthogonal_cell")
    inputs = keras.Input((timesteps, features), name="sequence")
    x = keras.layers.RNN(cell, name="orthogonal_rnn")(inputs)
    outputs = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="orthogonal_rnn_model")


def lab_models() -> dict[str, tuple[str, str]]:
    """Builder name -> (the `module:function` spec, the shipped policy that it must pass)."""
    return {
        "resnet_block": ("initlab.models:resnet_block_model", "resnet.toml"),
        "small_resnet": ("initlab.models:small_resnet", "resnet.toml"),
        "orthogonal_rnn": ("initlab.models:orthogonal_rnn", "rnn.toml"),
    }


def resnet_block_model(input_shape=(32, 32, 16), filters: int = 32, seed: int | None = 0):
    """A model of one projection block (16 -> 32 channels, stride 2): the lab's single example."""
    keras = _keras()
    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, resnet_block(inputs, filters, 2, name="block", seed=seed), name="resnet_block")


def _init(keras, initializer, seed):
    """A fresh initializer object; a name gets `seed` so that builds are reproducible."""
    if isinstance(initializer, str):
        from initlab.formulas import get_spec

        spec = get_spec(initializer)
        config = {"seed": seed} if spec.seeded else {}
        return keras.initializers.get({"class_name": spec.name, "config": config})
    return keras.initializers.get(initializer)


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else 1000 * seed + offset


def _seeds(seed: int | None, count: int) -> list[int | None]:
    return [None if seed is None else 7 * seed + i for i in range(count)]
