"""Porting helpers: start a Keras model as its PyTorch twin would, and the other way round.

Three tools, all reading the formula tables (`initlab.formulas`,
`initlab.torch_formulas`) and the layout rules (`initlab.layouts`):

* Keras initializers that draw what PyTorch's layer constructors draw
  (`TorchDefaultKernel`, `TorchDefaultBias`, `TorchEmbedding`, `TorchRNN`,
  `TorchRNNBias`), registered with `keras.saving` under the package "initlab".
* PyTorch functions that draw what a Keras initializer draws (`keras_init_`,
  `keras_variance_scaling_`, `he_normal_`, ...), given a tensor in PyTorch's
  layout; the Keras fans are computed on the converted Keras shape.
* Weight copies between a Keras layer and a PyTorch module (Dense / Linear,
  ConvND / ConvNd, DepthwiseConv2D / grouped Conv2d, Embedding, LSTM), layout
  converted explicitly, for bit-identical starts.

Same distribution is not same numbers: each framework has its own random
generator, so only a weight copy gives identical starts.

Importing this module imports Keras (the initializers must be registered for
`keras.saving.load_model` to find them); PyTorch is imported by the functions
that need it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from initlab import formulas, torch_formulas
from initlab._kernels import (
    KINDS,
    Kind,
    _check_kind,
    kernel_shape_to_torch,
    kernel_to_keras,
    kernel_to_torch,
)
from initlab.distributions import Reference
from initlab.errors import UsageError
from initlab.keras_backend import use_backend
from initlab.layouts import torch_to_keras_shape

use_backend(None)
import keras  # noqa: E402  (after use_backend, which quiets the frameworks)

# ---------------------------------------------------------------- layouts (framework-free, in initlab._kernels)


def torch_fan_in_of_keras_kernel(shape: Sequence[int], kind: Kind = "conv") -> int:
    """PyTorch's fan_in of the layer whose Keras kernel has `shape` (depthwise: one group's inputs)."""
    return torch_formulas.fans(kernel_shape_to_torch(shape, kind))[0]


# ---------------------------------------------------------------- Keras initializers for PyTorch defaults


def _keras_draw(ref: Reference, shape, dtype, seed):
    if ref.family == "normal":
        return keras.random.normal(shape, mean=ref.loc, stddev=ref.scale, dtype=dtype, seed=seed)
    elif ref.family == "uniform":
        return keras.random.uniform(shape, minval=ref.low, maxval=ref.high, dtype=dtype, seed=seed)
    else:
        raise UsageError(f"no Keras draw for a {ref.family} reference here")


def _fixed_seed(seed: int | None) -> int:
    # Keras's own initializers draw a fixed seed at construction when given None, so
    # an initializer object returns the same tensor every call; these follow suit.
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] & 0x7FFFFFFF)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise UsageError(f"seed must be an integer or None; received {seed!r}")
    return int(seed)


class _TorchInitializer(keras.initializers.Initializer):
    def __init__(self, seed: int | None = None):
        self._init_seed = seed
        self.seed = _fixed_seed(seed)

    def reference(self, shape: Sequence[int]) -> Reference:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, shape, dtype=None):
        return _keras_draw(self.reference(tuple(shape)), shape, dtype, self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._init_seed}


@keras.saving.register_keras_serializable(package="initlab")
class TorchDefaultKernel(_TorchInitializer):
    """The weight PyTorch's nn.Linear / nn.ConvNd start with, for a Keras kernel `(*k, in, out)`:
    `kaiming_uniform_(a=sqrt(5))` = U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * prod(k).

    depthwise=True: a DepthwiseConv kernel `(*k, C, M)` as PyTorch's ConvNd(groups=C), whose
    fan_in is prod(k) (one input channel per group), not C * prod(k) as Keras counts it.
    """

    def __init__(self, depthwise: bool = False, seed: int | None = None):
        super().__init__(seed)
        self.depthwise = bool(depthwise)

    def reference(self, shape):
        return torch_formulas.default_weight(kernel_shape_to_torch(shape, "depthwise" if self.depthwise else "conv"))

    def get_config(self):
        return {"depthwise": self.depthwise, **super().get_config()}


@keras.saving.register_keras_serializable(package="initlab")
class TorchDefaultBias(_TorchInitializer):
    """PyTorch's default nn.Linear / nn.ConvNd bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    The bias shape does not carry the weight's fan_in, so it is an argument: use
    `torch_fan_in_of_keras_kernel(kernel_shape)` (Dense: the input size; Conv: in * prod(k)).
    """

    def __init__(self, fan_in: int, seed: int | None = None):
        super().__init__(seed)
        torch_formulas.default_bias(fan_in)
        self.fan_in = int(fan_in)

    def reference(self, shape):
        return torch_formulas.default_bias(self.fan_in)

    def get_config(self):
        return {"fan_in": self.fan_in, **super().get_config()}


@keras.saving.register_keras_serializable(package="initlab")
class TorchEmbedding(_TorchInitializer):
    """PyTorch's nn.Embedding weight: N(0, 1) (Keras's Embedding starts at U(-0.05, 0.05))."""

    def reference(self, shape):
        return torch_formulas.embedding()


@keras.saving.register_keras_serializable(package="initlab")
class TorchRNN(_TorchInitializer):
    """Any PyTorch RNN/LSTM/GRU weight: U(-1/sqrt(hidden), 1/sqrt(hidden)), for Keras's
    `kernel_initializer` and `recurrent_initializer` (Keras's defaults: GlorotUniform and Orthogonal)."""

    def __init__(self, hidden_size: int, seed: int | None = None):
        super().__init__(seed)
        torch_formulas.rnn(hidden_size)
        self.hidden_size = int(hidden_size)

    def reference(self, shape):
        return torch_formulas.rnn(self.hidden_size)

    def get_config(self):
        return {"hidden_size": self.hidden_size, **super().get_config()}


@keras.saving.register_keras_serializable(package="initlab")
class TorchRNNBias(TorchRNN):
    """The effective bias of a PyTorch RNN: b_ih + b_hh, two independent U(-s, s), s = 1/sqrt(hidden);
    their sum is triangular on [-2s, 2s] with variance 2 s^2 / 3. Keras RNNs have one bias, so this is
    the bias that behaves as PyTorch's. (Keras's LSTM default also sets the forget-gate bias to 1 with
    `unit_forget_bias=True`; pass `unit_forget_bias=False` for a PyTorch start.)"""

    def __call__(self, shape, dtype=None):
        ref = torch_formulas.rnn(self.hidden_size)
        both = keras.random.uniform((2, *shape), minval=ref.low, maxval=ref.high, dtype=dtype, seed=self.seed)
        return keras.ops.sum(both, axis=0)


TORCH_DEFAULT_INITIALIZERS = (TorchDefaultKernel, TorchDefaultBias, TorchEmbedding, TorchRNN, TorchRNNBias)


def torch_like_dense(units: int, input_dim: int, seed: int | None = None, **kwargs):
    """A keras.layers.Dense that starts as nn.Linear(input_dim, units) would (in distribution)."""
    return keras.layers.Dense(
        units,
        kernel_initializer=TorchDefaultKernel(seed=seed),
        bias_initializer=TorchDefaultBias(input_dim, seed=None if seed is None else seed + 1),
        **kwargs,
    )


# ---------------------------------------------------------------- PyTorch functions for Keras initializers


def _keras_shape_of(tensor, kind: Kind) -> tuple[int, ...]:
    shape = tuple(int(d) for d in tensor.shape)
    if len(shape) < 2:
        return shape  # rank 0/1 are the same in both layouts
    if kind == "depthwise":
        return tuple(kernel_to_keras(np.empty(shape, dtype=np.float32), "depthwise").shape)
    return torch_to_keras_shape(shape)


def _torch_draw_(tensor, ref: Reference, generator=None):
    import torch

    with torch.no_grad():
        if ref.family == "normal":
            return torch.nn.init.normal_(tensor, ref.loc, ref.scale, generator=generator)
        elif ref.family == "uniform":
            return torch.nn.init.uniform_(tensor, ref.low, ref.high, generator=generator)
        elif ref.family == "truncated_normal":
            return torch.nn.init.trunc_normal_(tensor, ref.loc, ref.scale, ref.low, ref.high, generator=generator)
        else:
            raise UsageError(f"no PyTorch draw for a {ref.family} reference")


def keras_init_(tensor, name: str, config: Mapping[str, Any] | None = None, generator=None, kind: Kind = "conv"):
    """Fills a PyTorch tensor (PyTorch layout) as Keras's initializer `name(**config)` fills the same
    layer's kernel: fans computed the Keras way on the Keras shape; truncated normals with Keras's
    relative +-2 std bounds through `trunc_normal_` with absolute bounds; Orthogonal through
    `orthogonal_` (a Haar orthogonal matrix either way); Identity, Zeros, Ones, Constant exactly.
    `kind="depthwise"` reads a (C*M, 1, *k) weight as Keras's (*k, C, M) depthwise kernel.
    """
    import torch

    spec = formulas.get_spec(name)
    _check_kind(kind)
    keras_shape = _keras_shape_of(tensor, kind)
    if spec.random:
        return _torch_draw_(tensor, formulas.reference(spec.name, config, keras_shape), generator)
    cfg = spec.resolve(config)
    with torch.no_grad():
        if spec.family == "orthogonal":
            formulas.orthogonal_flat_shape(keras_shape)
            return torch.nn.init.orthogonal_(tensor, gain=cfg["gain"], generator=generator)
        values = formulas.expected_values(spec.name, config, keras_shape)
        torch_values = kernel_to_torch(values, kind) if values.ndim >= 2 else values
        tensor.copy_(torch.as_tensor(torch_values, dtype=tensor.dtype))
        return tensor


def keras_variance_scaling_(tensor, scale: float = 1.0, mode: str = "fan_in",
                            distribution: str = "truncated_normal", generator=None, kind: Kind = "conv"):
    """Keras's `VarianceScaling(scale, mode, distribution)` for a PyTorch tensor (PyTorch layout)."""
    config = {"scale": scale, "mode": mode, "distribution": distribution}
    return keras_init_(tensor, "VarianceScaling", config, generator, kind)


def he_normal_(tensor, generator=None, kind: Kind = "conv"):
    """Keras HeNormal: TN with variance 2 / fan_in (std sqrt(2/fan_in) / 0.8796, cut at +-2 of it)."""
    return keras_init_(tensor, "HeNormal", None, generator, kind)


def he_uniform_(tensor, generator=None, kind: Kind = "conv"):
    return keras_init_(tensor, "HeUniform", None, generator, kind)


def glorot_normal_(tensor, generator=None, kind: Kind = "conv"):
    return keras_init_(tensor, "GlorotNormal", None, generator, kind)


def glorot_uniform_(tensor, generator=None, kind: Kind = "conv"):
    return keras_init_(tensor, "GlorotUniform", None, generator, kind)


def lecun_normal_(tensor, generator=None, kind: Kind = "conv"):
    return keras_init_(tensor, "LecunNormal", None, generator, kind)


def lecun_uniform_(tensor, generator=None, kind: Kind = "conv"):
    return keras_init_(tensor, "LecunUniform", None, generator, kind)


def keras_truncated_normal_(tensor, mean: float = 0.0, stddev: float = 0.05, generator=None):
    """Keras TruncatedNormal: bounds at mean +- 2 stddev (relative), unlike trunc_normal_'s absolute +-2."""
    return keras_init_(tensor, "TruncatedNormal", {"mean": mean, "stddev": stddev}, generator)


def reset_like_keras(module, generator=None) -> None:
    """Re-initializes every nn.Linear / nn.ConvNd in `module` with Keras's defaults:
    GlorotUniform weights (fans the Keras way) and zero biases; nn.Embedding with U(-0.05, 0.05)."""
    import torch

    convs = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    for sub in module.modules():
        if isinstance(sub, (torch.nn.Linear, *convs)):
            depthwise = isinstance(sub, convs) and sub.groups > 1
            if depthwise and sub.groups != sub.in_channels:
                raise UsageError(f"{sub} is a grouped conv that is not depthwise; Keras has no layer for it")
            keras_init_(sub.weight, "GlorotUniform", None, generator, "depthwise" if depthwise else "conv")
            if sub.bias is not None:
                with torch.no_grad():
                    sub.bias.zero_()
        elif isinstance(sub, torch.nn.Embedding):
            keras_init_(sub.weight, "RandomUniform", None, generator)


# ---------------------------------------------------------------- weight copies


def _class(obj) -> str:
    return type(obj).__name__


def _torch_param(array: np.ndarray, like):
    import torch

    return torch.as_tensor(np.ascontiguousarray(array), dtype=like.dtype)


def _check_same(what: str, keras_shape, torch_shape, expected_torch) -> None:
    if tuple(expected_torch) != tuple(torch_shape):
        raise UsageError(
            f"cannot copy {what}: the Keras kernel {tuple(keras_shape)} is the PyTorch weight {tuple(expected_torch)}, "
            f"but the PyTorch module has {tuple(torch_shape)}"
        )


def _pairing(keras_layer, torch_module) -> str:
    import torch

    k, t = _class(keras_layer), torch_module
    if k == "Dense" and isinstance(t, torch.nn.Linear):
        return "dense"
    if k in ("Conv1D", "Conv2D", "Conv3D") and isinstance(t, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
        if t.groups != 1:
            raise UsageError(f"{k} has groups=1; the PyTorch module has groups={t.groups}")
        return "conv"
    if k in ("DepthwiseConv1D", "DepthwiseConv2D") and isinstance(t, (torch.nn.Conv1d, torch.nn.Conv2d)):
        if t.groups != t.in_channels:
            raise UsageError(f"{k} pairs with a PyTorch conv whose groups equals in_channels; received groups={t.groups}")
        return "depthwise"
    if k == "Embedding" and isinstance(t, torch.nn.Embedding):
        return "embedding"
    if k == "LSTM" and isinstance(t, torch.nn.LSTM):
        return "lstm"
    raise UsageError(
        f"no copy rule for Keras {k} <-> PyTorch {_class(t)}; supported pairs: Dense/Linear, ConvND/ConvNd, "
        f"DepthwiseConvND/ConvNd(groups=in_channels), Embedding/Embedding, LSTM/LSTM (one layer)"
    )


def copy_keras_to_torch(keras_layer, torch_module) -> None:
    """Copies a built Keras layer's weights into the PyTorch module of the same layer, layout converted."""
    import torch

    kind = _pairing(keras_layer, torch_module)
    if not keras_layer.built:
        raise UsageError(f"the Keras layer {keras_layer.name} is not built; call it on an input or build() it first")
    weights = [np.asarray(keras.ops.convert_to_numpy(w)) for w in keras_layer.weights]
    with torch.no_grad():
        if kind == "embedding":
            _check_same("Embedding", weights[0].shape, torch_module.weight.shape, weights[0].shape)
            torch_module.weight.copy_(_torch_param(weights[0], torch_module.weight))
        elif kind == "lstm":
            _copy_lstm_to_torch(weights, torch_module)
        else:
            kernel = weights[0]
            converted = kernel_to_torch(kernel, kind)
            _check_same(_class(keras_layer), kernel.shape, torch_module.weight.shape, converted.shape)
            torch_module.weight.copy_(_torch_param(converted, torch_module.weight))
            has_bias = len(weights) > 1
            if has_bias != (torch_module.bias is not None):
                raise UsageError("one side has a bias and the other does not")
            if has_bias:
                torch_module.bias.copy_(_torch_param(weights[1], torch_module.bias))


def copy_torch_to_keras(torch_module, keras_layer) -> None:
    """Copies a PyTorch module's parameters into the built Keras layer of the same layer."""
    kind = _pairing(keras_layer, torch_module)
    if not keras_layer.built:
        raise UsageError(f"the Keras layer {keras_layer.name} is not built; call it on an input or build() it first")
    params = {n: p.detach().cpu().numpy() for n, p in torch_module.named_parameters()}
    if kind == "embedding":
        keras_layer.weights[0].assign(params["weight"])
    elif kind == "lstm":
        _copy_lstm_to_keras(params, torch_module, keras_layer)
    else:
        multiplier = 1
        if kind == "depthwise":
            multiplier = torch_module.out_channels // torch_module.in_channels
        kernel = kernel_to_keras(params["weight"], kind, multiplier)
        target = keras_layer.weights[0]
        if tuple(target.shape) != kernel.shape:
            raise UsageError(f"cannot copy: PyTorch's weight is the Keras kernel {kernel.shape}, the layer has {tuple(target.shape)}")
        target.assign(kernel)
        if ("bias" in params) != (len(keras_layer.weights) > 1):
            raise UsageError("one side has a bias and the other does not")
        if "bias" in params:
            keras_layer.weights[1].assign(params["bias"])


def _copy_lstm_to_torch(weights, lstm) -> None:
    # Keras LSTM: kernel (in, 4h), recurrent (h, 4h), bias (4h); gates i, f, c, o.
    # PyTorch LSTM: weight_ih (4h, in), weight_hh (4h, h), bias_ih + bias_hh; gates i, f, g, o (same order).
    if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
        raise UsageError("LSTM copies cover one unidirectional layer without projection")
    kernel, recurrent, *bias = weights
    lstm.weight_ih_l0.copy_(_torch_param(kernel.T, lstm.weight_ih_l0))
    lstm.weight_hh_l0.copy_(_torch_param(recurrent.T, lstm.weight_hh_l0))
    if lstm.bias:
        b = bias[0] if bias else np.zeros(lstm.weight_ih_l0.shape[0], np.float32)
        lstm.bias_ih_l0.copy_(_torch_param(b, lstm.bias_ih_l0))
        lstm.bias_hh_l0.zero_()


def _copy_lstm_to_keras(params, lstm, layer) -> None:
    if lstm.num_layers != 1 or lstm.bidirectional or lstm.proj_size:
        raise UsageError("LSTM copies cover one unidirectional layer without projection")
    layer.weights[0].assign(params["weight_ih_l0"].T)
    layer.weights[1].assign(params["weight_hh_l0"].T)
    if len(layer.weights) > 2:
        # One Keras bias stands for two PyTorch ones; their float32 sum is rounded once.
        layer.weights[2].assign(params.get("bias_ih_l0", 0) + params.get("bias_hh_l0", 0))


def float32_dot_bound(abs_dot: float, terms: int) -> float:
    """Largest difference of two float32 evaluations (any summation order, separate rounding) of a dot
    product of `terms` products whose absolute values sum to `abs_dot`: 2 gamma_n abs_dot,
    gamma_n = n u / (1 - n u), u = 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, 3.1)."""
    u = 2.0**-24
    n = terms + 1  # the bias add
    return 2.0 * n * u / (1 - n * u) * abs_dot


__all__ = [
    "KINDS",
    "TORCH_DEFAULT_INITIALIZERS",
    "TorchDefaultBias",
    "TorchDefaultKernel",
    "TorchEmbedding",
    "TorchRNN",
    "TorchRNNBias",
    "copy_keras_to_torch",
    "copy_torch_to_keras",
    "glorot_normal_",
    "glorot_uniform_",
    "he_normal_",
    "he_uniform_",
    "kernel_shape_to_torch",
    "kernel_to_keras",
    "kernel_to_torch",
    "keras_init_",
    "keras_truncated_normal_",
    "keras_variance_scaling_",
    "lecun_normal_",
    "lecun_uniform_",
    "reset_like_keras",
    "float32_dot_bound",
    "torch_fan_in_of_keras_kernel",
    "torch_like_dense",
]
