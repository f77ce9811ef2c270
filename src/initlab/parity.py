"""Section 3: parity of PyTorch's and JAX's initializers with the Keras initializer that claims to match.

For each pair, at the same logical layer (Dense 256->512, Conv2D 3x3 64->128,
DepthwiseConv2D 3x3 on 64 channels, Embedding 1000x64), each framework draws
its weight in its own layout (Keras `(*k, in, out)`, PyTorch `(out, in, *k)`,
JAX/Flax `(*k, in / groups, out)`), converted explicitly to the Keras layout.

What is predicted comes from the formula tables (`formulas`, `torch_formulas`,
`jax_formulas`): each side's `Reference`, hence the expected variance ratio,
mean shift and CDF distance. What is observed comes from three groups of tests:

1. one-sample, per side, against its own reference (`verify.check_draws` and
   `stats.distribution_checks`) at n = `verify.default_samples(alpha)`;
2. cross, at the same n: a kurtosis-aware variance-ratio test, a mean test, and
   each side's samples against the OTHER side's reference (one-sample KS), which
   detects a CDF distance of about 0.008: enough for a normal vs. a
   variance-matched normal truncated at 2 sigma (0.0167);
3. two-sample at `samples` (10,000) per side: an F interval on the variance ratio
   (degrees of freedom 2n / (kurtosis - 1), so that it does not react to shape as
   Levene's test does) and a two-sample KS, whose detectable distance at 10k
   (about 0.037) is reported, with whether this pair's difference is within it.

A pair FAILs when a side does not match its own formula, or when the observed
verdict contradicts the predicted one. Known differences are not failures:
they are explained (`NOTES`).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from initlab import _kernels, formulas, jax_formulas, stats, torch_formulas, verify
from initlab.distributions import Reference, ks_distance
from initlab.errors import BackendError, UsageError
from initlab.layouts import check_shape, keras_to_torch_shape

TWO_SAMPLE_N = 10_000

SAME = "same distribution"
SAME_VAR = "same variance, different shape"
DIFF_VAR = "different variance"
DIFF_MEAN = "different mean"
IDENTICAL = "identical values"
DIFF_VALUES = "different values"


# ---------------------------------------------------------------- layers


@dataclass(frozen=True)
class Layer:
    """One logical layer and the shape of its weight in each framework's layout."""

    name: str
    label: str
    kind: str  # dense | conv | depthwise | embedding
    keras: tuple[int, ...]
    torch: tuple[int, ...]
    jax: tuple[int, ...]
    bias: int  # bias length (out channels)

    def shape(self, framework: str) -> tuple[int, ...]:
        return {"keras": self.keras, "torch": self.torch, "jax": self.jax}[framework]


LAYERS: dict[str, Layer] = {
    l.name: l
    for l in [
        Layer("dense", "Dense 256->512", "dense", (256, 512), (512, 256), (256, 512), 512),
        Layer("conv", "Conv2D 3x3, 64->128", "conv", (3, 3, 64, 128), (128, 64, 3, 3), (3, 3, 64, 128), 128),
        # Keras DepthwiseConv2D(3, depth_multiplier=1) on 64 channels; PyTorch Conv2d(64, 64, 3, groups=64);
        # Flax Conv(64, (3, 3), feature_group_count=64).
        Layer("depthwise", "DepthwiseConv2D 3x3, 64 channels", "depthwise", (3, 3, 64, 1), (64, 1, 3, 3), (3, 3, 1, 64), 64),
        Layer("embedding", "Embedding 1000x64", "embedding", (1000, 64), (1000, 64), (1000, 64), 0),
    ]
}


def to_keras_layout(array: np.ndarray, framework: str, layer: Layer) -> np.ndarray:
    """One framework's weight of `layer` in the Keras layout, converted explicitly."""
    array = np.asarray(array)
    if framework == "keras" or layer.kind == "embedding" or array.ndim < 2:
        return array
    if framework == "torch":
        multiplier = layer.keras[-1] if layer.kind == "depthwise" else 1
        return _kernels.kernel_to_keras(array, "depthwise" if layer.kind == "depthwise" else "conv", multiplier)
    if framework == "jax":
        if layer.kind == "depthwise":  # Flax (*k, 1, C*M): output channel c*M + m -> Keras (*k, C, M)
            return array.reshape(layer.keras)
        return array
    raise UsageError(f"unknown framework {framework!r}")


# ---------------------------------------------------------------- known differences

NOTES: dict[str, str] = {
    "truncation": (
        "Keras's HeNormal, GlorotNormal, LecunNormal (and JAX's he_normal, glorot_normal, lecun_normal) draw a "
        "normal truncated at 2 of its standard deviations (values outside are re-drawn) and divide that std by "
        f"{formulas.TRUNCATION_CORRECTION:.8f}, the std of a standard normal truncated to [-2, 2], so the variance "
        "is still scale / fan. PyTorch's kaiming_normal_ and xavier_normal_ are untruncated normals: same variance, "
        f"but no values beyond +-{2 / formulas.TRUNCATION_CORRECTION:.3f} final standard deviations and a kurtosis "
        f"of {Reference.truncated_normal(0, 1, -2, 2).kurtosis:.3f} instead of 3 (KS distance 0.0167)."
    ),
    "absolute_bounds": (
        "torch.nn.init.trunc_normal_(mean, std, a=-2, b=2) takes ABSOLUTE bounds: with std=0.05 its default "
        "bounds +-2 are 40 standard deviations away, so it draws a plain N(0, 0.05^2). Keras's "
        "TruncatedNormal(stddev=0.05) cuts at mean +- 2 stddev (relative bounds) and has variance "
        f"{Reference.truncated_normal(0, 1, -2, 2).var:.4f} stddev^2 (no correction constant). Pass "
        "a=mean-2*std, b=mean+2*std (initlab.porting.keras_truncated_normal_) to match it."
    ),
    "relative_bounds": (
        "jax.nn.initializers.truncated_normal(stddev) bounds at +-2 stddev (relative, like Keras) and, like Keras's "
        "TruncatedNormal, applies no correction: stddev is the underlying normal's."
    ),
    "conv_layout": (
        "Keras kernels are (*k, in, out), PyTorch weights (out, in, *k); both count fan_in = in*prod(k) and "
        "fan_out = out*prod(k), so fans agree once the layout is converted (initlab.layouts.keras_to_torch_axes)."
    ),
    "depthwise_fans": (
        "Depthwise conv: Keras's DepthwiseConv2D kernel is (kh, kw, C, M) and Keras counts fan_in = kh*kw*C, "
        "fan_out = kh*kw*M; PyTorch's Conv2d(groups=C) weight is (C*M, 1, kh, kw), fan_in = kh*kw, "
        "fan_out = C*M*kh*kw; Flax's kernel (kh, kw, 1, C*M) counts like PyTorch. fan_in differs by the channel "
        "count C (64 here), so fan_in initializers differ in variance by C; fan_avg ones agree only when M = 1."
    ),
    "torch_default": (
        "nn.Linear and nn.ConvNd call kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)) = sqrt(1/3), bound "
        "gain*sqrt(3 / fan_in) = 1/sqrt(fan_in), variance 1 / (3 fan_in). Keras's Dense and Conv default is "
        "GlorotUniform, variance 2 / (fan_in + fan_out). The bias starts at U(-1/sqrt(fan_in), 1/sqrt(fan_in)) in "
        "PyTorch and at 0 in Keras. initlab.porting.TorchDefaultKernel / TorchDefaultBias reproduce PyTorch's."
    ),
    "leaky_relu_slopes": (
        "kaiming_*_ default to nonlinearity='leaky_relu' with a=0, i.e. ReLU's gain sqrt(2); calculate_gain("
        "'leaky_relu') without a slope uses 0.01; nn.LeakyReLU and jax.nn.leaky_relu default to 0.01, "
        "keras.layers.LeakyReLU to 0.3. The activation's slope is never passed to the initializer: set a= yourself."
    ),
    "lecun_gain": (
        "PyTorch has no lecun_*; kaiming_*_(nonlinearity='linear') (gain 1) gives variance 1 / fan_in. "
        "nonlinearity='selu' gives gain 3/4, not LeCun's 1."
    ),
    "normal_means_truncated": (
        "keras VarianceScaling(distribution='normal') silently means 'truncated_normal' (Keras's untruncated one "
        "is 'untruncated_normal'); JAX's variance_scaling(distribution='normal') is UNtruncated."
    ),
    "jax_uniform_one_sided": (
        "jax.nn.initializers.uniform(scale) draws U[0, scale): one-sided, mean scale/2, variance scale^2/12. "
        "Keras's RandomUniform(-0.05, 0.05) is symmetric: jax uniform(0.05) has a quarter of its variance and "
        "mean 0.025. Use jax.random.uniform(key, shape, minval=-s, maxval=s) for a symmetric one."
    ),
    "defaults_differ": (
        "Same name, different defaults: torch normal_ is N(0, 1), Keras RandomNormal N(0, 0.05^2), JAX normal "
        "N(0, 0.01^2); uniform_ is U(0, 1), RandomUniform U(-0.05, 0.05), JAX uniform U[0, 0.01). These pairs "
        "pass matching arguments; porting a model that relied on a default changes its scale."
    ),
    "orthogonal_flatten": (
        "Keras flattens the kernel to (prod(shape[:-1]), shape[-1]) on (*k, in, out); PyTorch to (shape[0], rest) "
        "on (out, in, *k); JAX to (rest, shape[column_axis]). After the layout conversion these are transposes of "
        "each other, and a Haar-random orthogonal matrix's transpose is Haar-random too: same distribution, "
        "entries with mean square gain^2 / max(rows, cols)."
    ),
    "identity_gain": (
        "Keras's Identity has a gain, PyTorch's eye_ has none; eye_ fills (out, in), whose transpose is Keras's "
        "eye(in, out). Both accept 2-D shapes only (PyTorch's dirac_ is for convs)."
    ),
    "embedding": (
        "nn.Embedding starts at N(0, 1); Keras's Embedding at RandomUniform(-0.05, 0.05), variance 0.05^2/3: "
        "a factor of 1200. initlab.porting.TorchEmbedding reproduces PyTorch's."
    ),
    "rnn": (
        "PyTorch RNN/LSTM/GRU parameters are all U(-1/sqrt(hidden), 1/sqrt(hidden)), and an LSTM has two biases "
        "whose sum is triangular; Keras's LSTM starts with GlorotUniform kernel, Orthogonal recurrent kernel, "
        "zero bias and forget-gate bias 1 (unit_forget_bias). initlab.porting.TorchRNN / TorchRNNBias."
    ),
    "seeding": (
        "Seeds mean different things: a Keras initializer object returns the same tensor every call (an int seed is "
        "stateless, and seed=None fixes a random seed at construction); torch.nn.init advances the global generator "
        "(or generator=); JAX takes an explicit key. The same integer gives different numbers in each framework and "
        "each Keras backend: only a weight copy (initlab.porting.copy_keras_to_torch) gives identical starts."
    ),
    "keras_torch_backend": (
        "On Keras 3's torch backend, random.truncated_normal takes 4 normal draws and keeps the first inside +-2, "
        "falling back to an untruncated value when none is (about 4e-6 of the entries): TruncatedNormal and the "
        "truncated variance-scaling initializers can exceed their bounds there (shown by initlab verify)."
    ),
}
# Short causes of a variance difference, for the verdict sentence (the full story is in NOTES).
VARIANCE_WHY: dict[str, str] = {
    "depthwise_fans": "the depthwise layout: Keras counts fan_in = kh*kw*C, PyTorch and Flax count kh*kw "
                      "(one input channel per group)",
    "torch_default": "PyTorch's layer default is kaiming_uniform_(a=sqrt(5)), variance 1/(3 fan_in) (bias "
                     "U(+-1/sqrt(fan_in))), where Keras uses GlorotUniform, 2/(fan_in + fan_out) (bias 0)",
    "absolute_bounds": "trunc_normal_'s default bounds are the absolute +-2, so std=0.05 is in effect untruncated "
                       "(variance std^2, Keras's TruncatedNormal 0.7737 std^2)",
    "jax_uniform_one_sided": "jax uniform(scale) is one-sided, U[0, scale)",
    "embedding": "nn.Embedding starts at N(0, 1), Keras's Embedding at U(-0.05, 0.05)",
}
GENERAL_NOTES = ("seeding", "keras_torch_backend", "leaky_relu_slopes", "defaults_differ", "rnn")


# ---------------------------------------------------------------- pairs


@dataclass(frozen=True)
class Pair:
    """A PyTorch or JAX initializer and the Keras initializer that claims to match it."""

    name: str
    framework: str  # torch | jax
    other: str
    other_config: Mapping[str, Any]
    keras: str
    keras_config: Mapping[str, Any]
    layers: tuple[str, ...]
    documented_match: bool  # the documentation of both sides says they are the same initializer
    notes: tuple[str, ...] = ()
    part: str = "weight"  # weight | bias

    def other_call(self) -> str:
        if self.framework == "torch":
            spec = torch_formulas.get_spec(self.other)
            args = ", ".join(f"{k}={v!r}" for k, v in self.other_config.items())
            if self.other in ("default_weight", "default_bias", "embedding", "rnn"):
                return spec.call
            return f"{spec.call}(w{', ' + args if args else ''})"
        spec = jax_formulas.get_spec(self.other)
        args = ", ".join(repr(v) if k in ("scale", "mode", "distribution", "stddev", "value") else f"{k}={v!r}"
                         for k, v in self.other_config.items())
        return spec.call if spec.kind == "exact" and not args else f"{spec.call.removesuffix('()')}({args})"

    def keras_call(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.keras_config.items())
        return f"keras.initializers.{formulas.get_spec(self.keras).name}({args})"


_VS_LAYERS = ("dense", "conv", "depthwise")
_LIN = {"nonlinearity": "linear"}

PAIRS: tuple[Pair, ...] = (
    # PyTorch
    Pair("kaiming_normal_", "torch", "kaiming_normal_", {}, "HeNormal", {}, _VS_LAYERS, True,
         ("truncation", "conv_layout", "depthwise_fans", "leaky_relu_slopes")),
    Pair("kaiming_uniform_", "torch", "kaiming_uniform_", {}, "HeUniform", {}, _VS_LAYERS, True,
         ("conv_layout", "depthwise_fans", "leaky_relu_slopes")),
    Pair("xavier_uniform_", "torch", "xavier_uniform_", {}, "GlorotUniform", {}, _VS_LAYERS, True,
         ("conv_layout", "depthwise_fans")),
    Pair("xavier_normal_", "torch", "xavier_normal_", {}, "GlorotNormal", {}, _VS_LAYERS, True,
         ("truncation", "conv_layout", "depthwise_fans")),
    Pair("kaiming_normal_(linear)", "torch", "kaiming_normal_", _LIN, "LecunNormal", {}, _VS_LAYERS, True,
         ("lecun_gain", "truncation", "depthwise_fans")),
    Pair("kaiming_uniform_(linear)", "torch", "kaiming_uniform_", _LIN, "LecunUniform", {}, _VS_LAYERS, True,
         ("lecun_gain", "depthwise_fans")),
    Pair("normal_", "torch", "normal_", {"std": 0.05}, "RandomNormal", {}, ("dense",), True, ("defaults_differ",)),
    Pair("uniform_", "torch", "uniform_", {"a": -0.05, "b": 0.05}, "RandomUniform", {}, ("dense",), True,
         ("defaults_differ",)),
    Pair("trunc_normal_", "torch", "trunc_normal_", {"std": 0.05}, "TruncatedNormal", {}, ("dense",), True,
         ("absolute_bounds",)),
    Pair("trunc_normal_(a=-2std,b=2std)", "torch", "trunc_normal_", {"std": 0.05, "a": -0.1, "b": 0.1},
         "TruncatedNormal", {}, ("dense",), True, ("absolute_bounds",)),
    Pair("orthogonal_", "torch", "orthogonal_", {}, "Orthogonal", {}, ("dense", "conv"), True, ("orthogonal_flatten",)),
    Pair("eye_", "torch", "eye_", {}, "Identity", {}, ("dense",), True, ("identity_gain",)),
    Pair("zeros_", "torch", "zeros_", {}, "Zeros", {}, ("dense",), True),
    Pair("ones_", "torch", "ones_", {}, "Ones", {}, ("dense",), True),
    Pair("constant_", "torch", "constant_", {"val": 0.3}, "Constant", {"value": 0.3}, ("dense",), True),
    Pair("torch-default-linear", "torch", "default_weight", {}, "GlorotUniform", {}, ("dense",), False,
         ("torch_default",)),
    Pair("torch-default-linear-bias", "torch", "default_bias", {}, "Zeros", {}, ("dense",), False,
         ("torch_default",), part="bias"),
    Pair("torch-default-conv", "torch", "default_weight", {}, "GlorotUniform", {}, ("conv", "depthwise"), False,
         ("torch_default", "depthwise_fans")),
    Pair("torch-default-conv-bias", "torch", "default_bias", {}, "Zeros", {}, ("conv", "depthwise"), False,
         ("torch_default", "depthwise_fans"), part="bias"),
    Pair("torch-default-embedding", "torch", "embedding", {}, "RandomUniform", {}, ("embedding",), False,
         ("embedding",)),
    # JAX
    *(Pair(f"jax.{j}", "jax", j, {}, k, {}, _VS_LAYERS, True, notes)
      for j, k, notes in [
          ("he_normal", "HeNormal", ("depthwise_fans",)),
          ("he_uniform", "HeUniform", ("depthwise_fans",)),
          ("glorot_uniform", "GlorotUniform", ("depthwise_fans",)),
          ("glorot_normal", "GlorotNormal", ("depthwise_fans",)),
          ("lecun_normal", "LecunNormal", ("depthwise_fans",)),
          ("lecun_uniform", "LecunUniform", ("depthwise_fans",)),
      ]),
    Pair("jax.variance_scaling(normal)", "jax", "variance_scaling",
         {"scale": 1.0, "mode": "fan_in", "distribution": "normal"},
         "VarianceScaling", {"scale": 1.0, "mode": "fan_in", "distribution": "normal"}, ("dense",), False,
         ("normal_means_truncated", "truncation")),
    Pair("jax.normal", "jax", "normal", {"stddev": 0.05}, "RandomNormal", {}, ("dense",), True, ("defaults_differ",)),
    Pair("jax.uniform", "jax", "uniform", {"scale": 0.05}, "RandomUniform", {}, ("dense",), False,
         ("jax_uniform_one_sided",)),
    Pair("jax.truncated_normal", "jax", "truncated_normal", {"stddev": 0.05}, "TruncatedNormal", {}, ("dense",), True,
         ("relative_bounds",)),
    Pair("jax.orthogonal", "jax", "orthogonal", {}, "Orthogonal", {}, ("dense", "conv"), True, ("orthogonal_flatten",)),
    Pair("jax.zeros", "jax", "zeros", {}, "Zeros", {}, ("dense",), True),
    Pair("jax.ones", "jax", "ones", {}, "Ones", {}, ("dense",), True),
    Pair("jax.constant", "jax", "constant", {"value": 0.3}, "Constant", {"value": 0.3}, ("dense",), True),
)
PAIR_NAMES = tuple(p.name for p in PAIRS)


def get_pairs(names: Iterable[str] | None = None) -> list[Pair]:
    """The pairs of a run; unknown names raise UsageError with the closest known ones."""
    if not names:
        return list(PAIRS)
    by_name = {p.name: p for p in PAIRS}
    out = []
    for name in names:
        if name not in by_name:
            close = difflib.get_close_matches(name, PAIR_NAMES, n=4, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"unknown pair {name!r}{hint} (known: {', '.join(PAIR_NAMES)})")
        if by_name[name] not in out:
            out.append(by_name[name])
    return out


# ---------------------------------------------------------------- one side of a pair


@dataclass(frozen=True)
class Side:
    framework: str  # keras | torch | jax
    name: str
    config: Mapping[str, Any]
    shape: tuple[int, ...]  # in the framework's own layout
    layer: Layer
    part: str

    @property
    def kind(self) -> str:
        if self.framework == "keras":
            spec = formulas.get_spec(self.name)
            return "random" if spec.random else ("orthogonal" if spec.family == "orthogonal" else "exact")
        if self.framework == "torch":
            return torch_formulas.get_spec(self.name).kind
        return jax_formulas.get_spec(self.name).kind

    def resolved_config(self) -> dict[str, Any]:
        cfg = dict(self.config)
        if self.framework == "torch" and self.name == "default_bias":
            cfg["fan_in"] = torch_formulas.fans(self.layer.torch)[0]
        return cfg

    def reference(self) -> Reference:
        cfg = self.resolved_config()
        if self.framework == "keras":
            return formulas.reference(self.name, cfg, self.shape)
        if self.framework == "torch":
            return torch_formulas.reference(self.name, cfg, self.shape)
        return jax_formulas.reference(self.name, cfg, self.shape)

    def expected(self) -> np.ndarray:
        cfg = self.resolved_config()
        if self.framework == "keras":
            return formulas.expected_values(self.name, cfg, self.shape)
        if self.framework == "torch":
            return torch_formulas.expected_values(self.name, cfg, self.shape)
        return jax_formulas.expected_values(self.name, cfg, self.shape)

    def variance(self) -> float:
        cfg = self.resolved_config()
        if self.framework == "keras":
            return formulas.weight_variance(self.name, self.shape, cfg)
        if self.framework == "torch":
            return torch_formulas.weight_variance(self.name, cfg, self.shape)
        return jax_formulas.weight_variance(self.name, cfg, self.shape)

    def flat_shape(self) -> tuple[int, int]:
        if self.framework == "keras":
            return formulas.orthogonal_flat_shape(self.shape)
        if self.framework == "torch":
            return torch_formulas.orthogonal_flat_shape(self.shape)
        return jax_formulas.orthogonal_flat_shape(self.shape, self.resolved_config().get("column_axis", -1))

    def call(self, pair: Pair) -> str:
        return pair.keras_call() if self.framework == "keras" else pair.other_call()


def sides(pair: Pair, layer: Layer, keras_shape: tuple[int, ...] | None = None) -> tuple[Side, Side]:
    """Both sides of `pair` at `layer` (or at a custom Keras-layout kernel shape)."""
    if keras_shape is not None:
        shape_k = check_shape(keras_shape)
        shape_o = keras_to_torch_shape(shape_k) if pair.framework == "torch" else shape_k
        layer = Layer("custom", f"custom {shape_k}", "conv", shape_k, keras_to_torch_shape(shape_k), shape_k,
                      shape_k[-1] if shape_k else 1)
    elif pair.part == "bias":
        shape_k = shape_o = (layer.bias,)
    else:
        shape_k, shape_o = layer.keras, layer.shape(pair.framework)
    keras_side = Side("keras", pair.keras, dict(pair.keras_config), shape_k, layer, pair.part)
    other = Side(pair.framework, pair.other, dict(pair.other_config), shape_o, layer, pair.part)
    validate(keras_side, other)
    return keras_side, other


def validate(keras_side: Side, other: Side) -> None:
    """Each framework's shape rules, checked before any framework is called; a shape that either side
    rejects raises one UsageError naming every side's rule."""
    problems = []
    shape = keras_side.shape
    spec = formulas.get_spec(keras_side.name)
    if spec.family == "identity" and len(shape) != 2:
        problems.append(f"Keras's Identity supports 2-D shapes only (eye(rows, cols) * gain); received shape {shape}")
    if spec.family == "orthogonal" and len(shape) < 2:
        problems.append(
            f"Keras's Orthogonal needs a shape of rank >= 2 (it flattens to (prod(shape[:-1]), shape[-1])); "
            f"received shape {shape}"
        )
    try:
        if other.framework == "torch":
            torch_formulas.check_torch_shape(other.name, other.shape)
        elif other.kind == "orthogonal":
            other.flat_shape()
        elif other.kind == "random":
            other.reference()
    except UsageError as exc:
        problems.append(str(exc))
    if problems:
        raise UsageError("; ".join(problems))


# ---------------------------------------------------------------- samplers (frameworks imported here only)


def keras_sampler(side: Side) -> Callable[[int], np.ndarray]:
    from initlab import keras_backend

    def draw(seed: int) -> np.ndarray:
        return keras_backend.to_numpy(keras_backend.make_initializer(side.name, side.config, seed)(side.shape))

    return draw


def _torch_module(layer: Layer):
    import torch

    if layer.kind == "dense":
        return torch.nn.Linear(layer.torch[1], layer.torch[0])
    elif layer.kind == "conv":
        out, inp, *k = layer.torch
        return torch.nn.Conv2d(inp, out, tuple(k))
    elif layer.kind == "depthwise":
        channels = layer.keras[-2]
        return torch.nn.Conv2d(channels, layer.torch[0], tuple(layer.torch[2:]), groups=channels)
    elif layer.kind == "embedding":
        return torch.nn.Embedding(*layer.torch)
    else:
        raise UsageError(f"no PyTorch module for a {layer.kind} layer")


def torch_sampler(side: Side) -> Callable[[int], np.ndarray]:
    import torch

    if side.name in ("default_weight", "default_bias", "embedding"):
        if side.layer.name == "custom":
            raise UsageError("PyTorch's default layer init is compared at the named layers only, not at --shape")
        return _torch_default_sampler(side)
    fn = getattr(torch.nn.init, side.name)
    cfg = dict(side.config)
    seeded = side.kind != "exact"

    def draw(seed: int) -> np.ndarray:
        w = torch.empty(side.shape, dtype=torch.float32)
        with torch.no_grad():
            if seeded:
                fn(w, **cfg, generator=torch.Generator().manual_seed(seed))
            else:
                fn(w, **cfg)
        return w.numpy()

    return draw


def _torch_default_sampler(side: Side) -> Callable[[int], np.ndarray]:
    """PyTorch's layer-constructor init, replayed with public torch.nn.init calls and a generator.

    Constructing a module per draw is slow for small biases (thousands of modules), so the
    draws replay what `reset_parameters` does; `constructor_replay_check` proves, per run, that
    the replay gives the constructor's bytes for the same global seed.
    """
    import torch

    def replay(seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        gen = torch.Generator().manual_seed(seed)
        w = torch.empty(side.layer.torch, dtype=torch.float32)
        with torch.no_grad():
            if side.layer.kind == "embedding":
                torch.nn.init.normal_(w, generator=gen)
                return w.numpy(), None
            torch.nn.init.kaiming_uniform_(w, a=torch_formulas.DEFAULT_LAYER_A, generator=gen)
            bound = torch_formulas.default_bias(torch_formulas.fans(side.layer.torch)[0]).high
            b = torch.empty(side.layer.torch[0], dtype=torch.float32)
            torch.nn.init.uniform_(b, -bound, bound, generator=gen)
        return w.numpy(), b.numpy()

    def draw(seed: int) -> np.ndarray:
        if side.name != "default_bias":
            return replay(seed)[0]
        # The bias alone (the replay would draw the whole weight first): same distribution.
        bound = torch_formulas.default_bias(torch_formulas.fans(side.layer.torch)[0]).high
        b = torch.empty(side.layer.torch[0], dtype=torch.float32)
        with torch.no_grad():
            torch.nn.init.uniform_(b, -bound, bound, generator=torch.Generator().manual_seed(seed))
        return b.numpy()

    draw.replay = replay  # type: ignore[attr-defined]
    return draw


def constructor_replay_check(side: Side, seed: int) -> stats.Check:
    """The module constructor under torch.manual_seed(seed) gives the replay's bytes (weight and bias)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = _torch_module(side.layer)
    w_ref, b_ref = _torch_default_sampler(side).replay(seed)  # type: ignore[attr-defined]
    same = np.array_equal(module.weight.detach().numpy(), w_ref)
    if b_ref is not None:
        same = same and np.array_equal(module.bias.detach().numpy(), b_ref)
    return stats.Check("constructor replay", f"{type(module).__name__}(...) bytes", "identical" if same else "different",
                       bool(same), detectable="any difference")


def jax_sampler(side: Side) -> Callable[[int], np.ndarray]:
    import jax
    import jax.numpy as jnp

    factory = getattr(jax.nn.initializers, side.name)
    init = factory if side.name in ("zeros", "ones") else factory(**side.config)

    # Eager: jit would compile once per pair (about 0.4 s each), more than the draws cost.
    def draw(seed: int) -> np.ndarray:
        return np.asarray(init(jax.random.key(seed), side.shape, jnp.float32))

    return draw


def sampler(side: Side) -> Callable[[int], np.ndarray]:
    try:
        if side.framework == "keras":
            return keras_sampler(side)
        elif side.framework == "torch":
            return torch_sampler(side)
        elif side.framework == "jax":
            return jax_sampler(side)
        else:
            raise UsageError(f"unknown framework {side.framework!r}")
    except ImportError as exc:
        raise BackendError(f"{side.framework} is needed for this pair but cannot be imported: {exc}") from exc


# ---------------------------------------------------------------- statistics beyond initlab.stats


def ks_sorted(sorted_x: np.ndarray, ref: Reference) -> tuple[float, float]:
    """One-sample KS statistic and asymptotic p-value (Kolmogorov's distribution, as
    `stats.ks_critical` uses) of an already sorted sample; sorting once serves several tests."""
    n = sorted_x.size
    cdf = ref.cdf(sorted_x.astype(np.float64))
    i = np.arange(1, n + 1, dtype=np.float64)
    d = float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))
    return d, float(sps.kstwobign.sf(d * math.sqrt(n)))


def cross_ks(sorted_x: np.ndarray, ref: Reference, alpha: float, label: str) -> stats.Check:
    """One side's (sorted) samples against the OTHER side's reference."""
    d, p = ks_sorted(sorted_x, ref)
    return stats.Check(
        f"cross KS ({label})", f"{ref.describe()}", f"D = {d:.4f}", p >= alpha, p, alpha,
        f"CDF distance >= {stats.ks_detectable(alpha, sorted_x.size):.4f}",
    )


def _kurtosis(x: np.ndarray) -> float:
    return float(sps.kurtosis(x, fisher=False))


def variance_ratio_test(x_other: np.ndarray, x_keras: np.ndarray, k_other: float, k_keras: float,
                        alpha: float, label: str) -> tuple[stats.Check, float, tuple[float, float]]:
    """F interval on var(other) / var(keras) with degrees of freedom 2n / (kurtosis - 1).

    For normals this is the classic F test; the kurtosis adjustment keeps its level for uniforms and
    truncated normals (Var(S^2) = sigma^4 (k - 1) / n), unlike Levene's test, which reacts to shape.
    """
    n_o, n_k = x_other.size, x_keras.size
    v_o, v_k = float(np.var(x_other, ddof=1, dtype=np.float64)), float(np.var(x_keras, ddof=1, dtype=np.float64))
    if v_k == 0 or v_o == 0:
        ratio = math.inf if v_k == 0 and v_o > 0 else (0.0 if v_o == 0 and v_k > 0 else 1.0)
        return stats.Check(f"variance ratio ({label})", "1", f"{ratio:g}", ratio == 1.0, None, alpha,
                           "any difference"), ratio, (ratio, ratio)
    df_o = 2.0 * n_o / max(k_other - 1.0, 1e-9)
    df_k = 2.0 * n_k / max(k_keras - 1.0, 1e-9)
    ratio = v_o / v_k
    lo = ratio / float(sps.f.isf(alpha / 2, df_o, df_k))
    hi = ratio / float(sps.f.ppf(alpha / 2, df_o, df_k))
    cdf = float(sps.f.cdf(ratio, df_o, df_k))
    p = 2 * min(cdf, 1 - cdf)
    se = math.sqrt(2 / df_o + 2 / df_k)
    mde = math.exp((stats.z_two_sided(alpha) + stats.z_power()) * se) - 1
    check = stats.Check(
        f"variance ratio ({label})", "1 inside the interval", f"{ratio:.4f} [{lo:.4f}, {hi:.4f}]",
        lo <= 1.0 <= hi, p, alpha, f"ratio off 1 by >= {mde:.2%}",
    )
    return check, ratio, (lo, hi)


def mean_test(x_other: np.ndarray, x_keras: np.ndarray, alpha: float) -> stats.Check:
    m_o, m_k = float(np.mean(x_other, dtype=np.float64)), float(np.mean(x_keras, dtype=np.float64))
    se = math.sqrt(np.var(x_other, dtype=np.float64) / x_other.size + np.var(x_keras, dtype=np.float64) / x_keras.size)
    if se == 0:
        return stats.Check("mean difference", "0", f"{m_o - m_k:g}", m_o == m_k, None, alpha, "any difference")
    z = (m_o - m_k) / se
    p = float(2 * sps.norm.sf(abs(z)))
    pooled_sd = math.sqrt((np.var(x_other) + np.var(x_keras)) / 2)
    mde = (stats.z_two_sided(alpha) + stats.z_power()) * se / pooled_sd
    return stats.Check("mean difference", "0", f"{m_o - m_k:.4g}", p >= alpha, p, alpha,
                       f"shift >= {mde:.2%} of the std")


def ks2_detectable(alpha: float, n: int, m: int, power: float = stats.POWER) -> float:
    """Smallest CDF distance a two-sample KS at (n, m) detects with probability `power`:
    the ECDF difference at the worst point has sd <= 0.5 sqrt(1/n + 1/m)."""
    scale = math.sqrt(1 / n + 1 / m)
    return (float(sps.kstwobign.isf(alpha)) + stats.z_power(power) * 0.5) * scale


def ks2_test(x_other: np.ndarray, x_keras: np.ndarray, alpha: float) -> stats.Check:
    result = sps.ks_2samp(x_other, x_keras, method="asymp")
    return stats.Check(
        "two-sample KS", "D small", f"D = {result.statistic:.4f}", float(result.pvalue) >= alpha,
        float(result.pvalue), alpha, f"CDF distance >= {ks2_detectable(alpha, x_other.size, x_keras.size):.4f}",
    )


# ---------------------------------------------------------------- predictions from the formula tables


@dataclass
class Prediction:
    verdict: str
    variance_ratio: float  # other / keras
    mean_shift: float  # (other - keras) in units of Keras's std
    ks_distance: float | None
    how: str


def _shape_words(name: str, ref: Reference) -> str:
    if ref.family == "normal":
        bounds = "unbounded (normal tails)"
    else:
        bounds = f"bounded at {(ref.high - ref.mean) / ref.std:.3f} std above the mean"
    return f"{name} is {ref.describe()}, {bounds}, kurtosis {ref.kurtosis:.3f}"


def predict(keras_side: Side, other: Side) -> Prediction:
    """The verdict the formula tables predict for this pair at this layer."""
    fw = {"torch": "PyTorch", "jax": "JAX"}[other.framework]
    kinds = (keras_side.kind, other.kind)
    if "exact" in kinds:
        if kinds != ("exact", "exact"):
            var_o, var_k = other.variance(), keras_side.variance()
            ratio = math.inf if var_k == 0 else var_o / var_k
            return Prediction(DIFF_VAR, ratio, 0.0, None,
                              f"Keras starts every entry at a constant ({var_k:g} variance); {fw} draws at random "
                              f"(variance {var_o:.4g})")
        k_vals = keras_side.expected()
        o_vals = to_keras_layout(other.expected(), other.framework, other.layer)
        same = k_vals.shape == o_vals.shape and np.array_equal(k_vals, o_vals)
        return Prediction(IDENTICAL if same else DIFF_VALUES, 1.0, 0.0, None,
                          "the same constant tensor after the layout conversion" if same else
                          "the documented tensors differ")
    var_k, var_o = keras_side.variance(), other.variance()
    ratio = var_o / var_k
    if "orthogonal" in kinds:
        if math.isclose(ratio, 1.0, rel_tol=1e-9):
            return Prediction(SAME, ratio, 0.0, None, "both are gain x a Haar-random orthogonal matrix")
        return Prediction(DIFF_VAR, ratio, 0.0, None, "different gains or flattenings")
    ref_k, ref_o = keras_side.reference(), other.reference()
    shift = (ref_o.mean - ref_k.mean) / ref_k.std
    ks = ks_distance(ref_k, ref_o)
    words = f"{_shape_words(fw, ref_o)}; {_shape_words('Keras', ref_k)}"
    if not math.isclose(ratio, 1.0, rel_tol=1e-9):
        return Prediction(DIFF_VAR, ratio, shift, ks, words)
    if abs(shift) > 1e-9:
        return Prediction(DIFF_MEAN, ratio, shift, ks, words)
    if ks > 1e-6:
        return Prediction(SAME_VAR, ratio, shift, ks, words)
    return Prediction(SAME, ratio, shift, ks, words)


# ---------------------------------------------------------------- one comparison


@dataclass
class Comparison:
    pair: str
    framework: str
    layer: str
    part: str
    keras_call: str
    other_call: str
    keras_shape: tuple[int, ...]
    other_shape: tuple[int, ...]
    documented_match: bool
    predicted: Prediction
    observed: str
    status: str  # ok | FAIL
    verdict: str  # the sentence a user reads
    checks_keras: list[stats.Check]
    checks_other: list[stats.Check]
    checks_cross: list[stats.Check]
    checks_two_sample: list[stats.Check]
    two_sample_n: int
    large_n: int
    two_sample_can_tell: bool | None
    notes: list[str]
    keras_reference: dict[str, Any] | None = None
    other_reference: dict[str, Any] | None = None
    samples_file: str | None = None
    figure: str | None = None

    @property
    def slug(self) -> str:
        text = f"{self.framework}-{self.pair}-{self.layer}"
        return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)

    @property
    def passed(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if not k.startswith("checks")}
        for key in ("checks_keras", "checks_other", "checks_cross", "checks_two_sample"):
            out[key] = [c.to_dict() for c in getattr(self, key)]
        out["keras_shape"], out["other_shape"] = list(self.keras_shape), list(self.other_shape)
        out["predicted"] = asdict(self.predicted)
        return _finite(out)


def _finite(obj: Any) -> Any:
    """Infinite floats as the strings 'inf' / '-inf', so that the JSON is standard."""
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _ref_dict(ref: Reference | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"family": ref.family, "loc": ref.loc, "scale": ref.scale, "low": ref.low, "high": ref.high,
            "describe": ref.describe(), "var": ref.var, "kurtosis": ref.kurtosis}


def reference_from_dict(d: Mapping[str, Any]) -> Reference:
    return Reference(d["family"], float(d["loc"]), float(d["scale"]), float(d["low"]), float(d["high"]))


@dataclass
class _Context:
    seed: int
    alpha: float
    large_n: int
    two_n: int
    out_dir: str | None
    backend: str = "tensorflow"
    keras_cache: dict = field(default_factory=dict)
    index: int = 0


def _pool(draw, shape, n, seeds) -> np.ndarray:
    return verify.pooled(draw, shape, n, seeds)


def _own_checks(side: Side, draw_fresh, ctx: _Context, seeds) -> tuple[list[stats.Check], np.ndarray]:
    """The side against its own formula; returns the checks and the pooled samples in its own layout."""
    kind = side.kind
    n = ctx.large_n if kind != "exact" else 1
    memo: dict[int, np.ndarray] = {}

    def draw_once(s: int) -> np.ndarray:  # check_draws pools again: reuse the same tensors
        if s not in memo:
            memo[s] = np.asarray(draw_fresh(s))
        return memo[s]

    draw = draw_once
    if kind == "random":
        x = _pool(draw, side.shape, n, seeds)
        if side.framework == "keras":
            checks = verify.check_draws(side.name, side.config, side.shape, draw, n, ctx.alpha, seeds)
        else:
            checks = stats.distribution_checks(x, side.reference(), ctx.alpha)
            if side.framework == "torch" and side.name in ("default_weight", "default_bias", "embedding"):
                checks.append(constructor_replay_check(side, ctx.seed))
        return checks, x
    if kind == "orthogonal":
        x = _pool(draw, side.shape, n, seeds)
        gain = side.resolved_config().get("gain", side.resolved_config().get("scale", 1.0))
        size = math.prod(side.shape)
        first = x[:size].reshape(side.shape)
        if side.framework == "jax" and side.shape[-1] != side.flat_shape()[1]:
            first = np.moveaxis(first, side.resolved_config()["column_axis"], -1)
        return [stats.orthogonality_check(first, gain, side.flat_shape())], x
    x = draw(seeds(0))
    expected = side.expected()
    return [stats.exact_check(x, expected, stats.exact_tolerance(expected))], np.asarray(x)


def compare(pair: Pair, layer: Layer, ctx: _Context, keras_shape: tuple[int, ...] | None = None) -> Comparison:
    """Draws both sides of `pair` at `layer`, runs the three groups of tests and words the verdict."""
    keras_side, other = sides(pair, layer, keras_shape)
    prediction = predict(keras_side, other)
    index = ctx.index
    ctx.index += 1

    key = (keras_side.name, tuple(sorted(keras_side.config.items())), keras_side.shape)
    if key not in ctx.keras_cache:
        seeds_k = lambda j, i=len(ctx.keras_cache): verify.draw_seed(ctx.seed, 10_000 + i, j)  # noqa: E731
        ctx.keras_cache[key] = _own_checks(keras_side, sampler(keras_side), ctx, seeds_k)
    checks_k, x_k = ctx.keras_cache[key]
    seeds_o = lambda j: verify.draw_seed(ctx.seed, index, j)  # noqa: E731
    checks_o, x_o_native = _own_checks(other, sampler(other), ctx, seeds_o)
    own_ok = all(c.passed for c in checks_k + checks_o)

    cross: list[stats.Check] = []
    two: list[stats.Check] = []
    can_tell = None
    ref_k = ref_o = None
    if "exact" in (keras_side.kind, other.kind):
        x_o = to_keras_layout(x_o_native, other.framework, other.layer) if other.kind == "exact" else x_o_native
        if keras_side.kind == other.kind == "exact":
            same = x_o.shape == x_k.shape and np.array_equal(np.asarray(x_o, np.float32), np.asarray(x_k, np.float32))
            cross.append(stats.Check("values after layout conversion", "identical",
                                     "identical" if same else "different", same, detectable="any difference"))
            observed = IDENTICAL if same else DIFF_VALUES
        else:
            observed = DIFF_VAR if float(np.var(x_o_native)) != float(np.var(x_k)) else SAME
            if other.kind == "random":
                ref_o = other.reference()
    else:
        x_o = x_o_native  # entries only: the marginal distribution does not depend on the layout
        if keras_side.kind == "random" and other.kind == "random":
            ref_k, ref_o = keras_side.reference(), other.reference()
            k_k, k_o = ref_k.kurtosis, ref_o.kurtosis
            key_sorted = ("sorted",) + key
            if key_sorted not in ctx.keras_cache:
                ctx.keras_cache[key_sorted] = np.sort(x_k)
            cross.append(cross_ks(np.sort(x_o), ref_k, ctx.alpha, "other vs Keras formula"))
            cross.append(cross_ks(ctx.keras_cache[key_sorted], ref_o, ctx.alpha, "Keras vs other formula"))
        else:
            k_k, k_o = _kurtosis(x_k), _kurtosis(x_o)
            cross.append(ks2_test(x_o, x_k, ctx.alpha))
        var_check, _, _ = variance_ratio_test(x_o, x_k, k_o, k_k, ctx.alpha, f"n={x_o.size:,}")
        cross.insert(0, var_check)
        cross.insert(1, mean_test(x_o, x_k, ctx.alpha))
        if not cross[0].passed:
            observed = DIFF_VAR
        elif not cross[1].passed:
            observed = DIFF_MEAN
        elif not all(c.passed for c in cross[2:]):
            observed = SAME_VAR
        else:
            observed = SAME
        # Two-sample at 10k: what a quick comparison of two samples can and cannot see.
        a, b = x_o[: ctx.two_n].astype(np.float64), x_k[: ctx.two_n].astype(np.float64)
        f_check, _, _ = variance_ratio_test(a, b, k_o, k_k, ctx.alpha, f"n={a.size:,}")
        ks_check = ks2_test(a, b, ctx.alpha)
        two = [f_check, ks_check]
        d_ks = ks2_detectable(ctx.alpha, a.size, b.size)
        se = math.sqrt((k_o - 1) / a.size + (k_k - 1) / b.size)
        d_var = math.exp((stats.z_two_sided(ctx.alpha) + stats.z_power()) * se) - 1
        if prediction.verdict == SAME:
            can_tell = None
        elif prediction.verdict == SAME_VAR:
            can_tell = (prediction.ks_distance or 0.0) >= d_ks
        else:
            can_tell = abs(prediction.variance_ratio - 1) >= d_var or (prediction.ks_distance or 0) >= d_ks
        if ctx.out_dir:
            samples_dir = os.path.join(ctx.out_dir, "samples")
            os.makedirs(samples_dir, exist_ok=True)
            path = os.path.join(samples_dir, f"{pair.framework}-{_slug(pair.name)}-{layer.name if keras_shape is None else 'custom'}.npz")
            np.savez_compressed(path, keras=x_k[: ctx.two_n], other=x_o[: ctx.two_n])
        else:
            path = None

    status = "ok" if own_ok and _consistent(prediction.verdict, observed) else "FAIL"
    verdict = _verdict_sentence(pair, prediction, observed, status, can_tell, ctx, checks_k, checks_o, other)
    comparison = Comparison(
        pair.name, pair.framework, layer.name if keras_shape is None else "custom", pair.part,
        pair.keras_call(), pair.other_call(), keras_side.shape, other.shape, pair.documented_match,
        prediction, observed, status, verdict, checks_k, checks_o, cross, two, ctx.two_n, ctx.large_n, can_tell,
        [f"{key}: {NOTES[key]}" for key in pair.notes if key != "depthwise_fans" or layer.kind == "depthwise"],
        _ref_dict(ref_k if ref_k is not None else (keras_side.reference() if keras_side.kind == "random" else None)),
        _ref_dict(ref_o),
    )
    if "exact" not in (keras_side.kind, other.kind):
        comparison.samples_file = path
    return comparison


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def _consistent(predicted: str, observed: str) -> bool:
    return predicted == observed


def _verdict_sentence(pair, prediction: Prediction, observed: str, status: str, can_tell, ctx, checks_k, checks_o,
                      other: Side) -> str:
    fw = {"torch": "PyTorch", "jax": "JAX"}[pair.framework]
    failed = [f"Keras {c.statistic}" for c in checks_k if not c.passed] + [f"{fw} {c.statistic}" for c in checks_o if not c.passed]
    if status == "FAIL":
        if failed:
            known = ""
            if ctx.backend == "torch" and "Keras support" in failed:
                known = f" Known: {NOTES['keras_torch_backend']}"
            return (f"MISMATCH: a side does not follow its own formula ({', '.join(failed)}); "
                    f"predicted {prediction.verdict}, observed {observed}.{known}")
        return f"MISMATCH: the formulas predict {prediction.verdict}, the samples show {observed}."
    v = prediction.verdict
    if v == IDENTICAL:
        return "Identical values after the layout conversion."
    if v == SAME:
        return (f"Same distribution: {prediction.how}." if prediction.ks_distance is None
                else f"Same distribution ({fw} and Keras draw the same formula).")
    power = ""
    if can_tell is False:
        power = (f" A two-sample test at {ctx.two_n:,} per side cannot tell these apart (CDF distance "
                 f"{prediction.ks_distance:.4f} < detectable {ks2_detectable(ctx.alpha, ctx.two_n, ctx.two_n):.4f}); "
                 f"the one-sample tests at n={ctx.large_n:,} can (detectable {stats.ks_detectable(ctx.alpha, ctx.large_n):.4f}) "
                 "and confirm the difference.")
    elif can_tell:
        power = f" Visible already at {ctx.two_n:,} samples per side."
    if v == SAME_VAR:
        return f"Same variance, different shape: {prediction.how}.{power}"
    if v == DIFF_MEAN:
        return f"Same variance, different mean (shift {prediction.mean_shift:+.3f} std): {prediction.how}.{power}"
    if v == DIFF_VAR:
        r = prediction.variance_ratio
        factor = "infinite (Keras is constant)" if math.isinf(r) else f"{r:.4g} (std x{math.sqrt(r):.4g})"
        why = "; ".join(f"{VARIANCE_WHY[k]} (note {k})" for k in pair.notes
                        if k in VARIANCE_WHY and (k != "depthwise_fans" or other.layer.kind == "depthwise"))
        mean = f", mean shift {prediction.mean_shift:+.3f} std" if abs(prediction.mean_shift) > 1e-9 else ""
        return f"Different variance: {fw}/Keras = {factor}{mean}; {prediction.how}. Why: {why or 'see notes'}.{power}"
    return f"{v}: {prediction.how}."


# ---------------------------------------------------------------- a run


@dataclass
class ParityResult:
    comparisons: list[Comparison]
    meta: dict[str, Any]
    notes: dict[str, str]

    @property
    def failed(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.passed]

    @property
    def figures(self) -> list[str]:
        return [c.figure for c in self.comparisons if c.figure]

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "notes": self.notes, "comparisons": [c.to_dict() for c in self.comparisons],
                "figures": self.figures, "failed": [f"{c.pair} @ {c.layer}" for c in self.failed]}


def _statistical_checks(plan: list[tuple[Pair, Layer]], keras_shape) -> int:
    count, keras_cases = 0, set()
    for pair, layer in plan:
        k, o = sides(pair, layer, keras_shape)
        if k.kind == "random":
            keras_cases.add((k.name, tuple(sorted(k.config.items())), k.shape))
        if "exact" in (k.kind, o.kind):
            continue
        if o.kind == "random":
            count += stats.checks_per_reference(o.reference()) - (1 if o.reference().bounded else 0)
        count += 3 + (1 if k.kind == o.kind == "random" else 0) + 2  # var, mean, KS(x1 or x2); two-sample F, KS
    for name, cfg, shape in keras_cases:
        ref = formulas.reference(name, dict(cfg), shape)
        count += stats.checks_per_reference(ref) - (1 if ref.bounded else 0)
    return max(count, 1)


def plan_pairs(pairs: Iterable[str] | None = None, layers: Iterable[str] | None = None) -> list[tuple[Pair, Layer]]:
    chosen = get_pairs(pairs)
    if layers:
        for name in layers:
            if name not in LAYERS:
                raise UsageError(f"unknown layer {name!r}; known: {', '.join(LAYERS)}")
    out = []
    for pair in chosen:
        for name in pair.layers:
            if not layers or name in layers:
                out.append((pair, LAYERS[name]))
    if not out:
        raise UsageError("no (pair, layer) combination left; each pair lists the layers it is compared at")
    return out


def run_parity(
    pairs: Iterable[str] | None = None,
    out_dir: str | os.PathLike | None = None,
    seed: int = 0,
    samples: int = TWO_SAMPLE_N,
    large_samples: int | None = None,
    layers: Iterable[str] | None = None,
    shape: Sequence[int] | None = None,
    backend: str | None = None,
    family_alpha: float = stats.FAMILY_ALPHA,
    figures: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ParityResult:
    """Compares every pair (or the named ones) at its layers; writes samples and PNG figures under out_dir."""
    from initlab import keras_backend

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"the seed must be a non-negative integer; received {seed!r}")
    two_n = verify.check_samples_count(samples)
    keras_shape = None
    if shape is not None:
        if not pairs:
            raise UsageError("a custom shape needs explicit pairs (--pair)")
        keras_shape = check_shape(shape)
    plan = plan_pairs(pairs, layers) if keras_shape is None else [(p, LAYERS["dense"]) for p in get_pairs(pairs)]
    n_checks = _statistical_checks(plan, keras_shape)
    alpha = family_alpha / n_checks
    large_n = verify.check_samples_count(large_samples) if large_samples is not None else verify.default_samples(alpha)
    if large_n < two_n:
        raise UsageError(f"the one-sample count ({large_n:,}) must be at least the two-sample count ({two_n:,})")
    active = keras_backend.use_backend(backend)
    out = os.fspath(out_dir) if out_dir is not None else None
    if out:
        os.makedirs(out, exist_ok=True)
    ctx = _Context(int(seed), alpha, large_n, two_n, out, active)
    comparisons = []
    for pair, layer in plan:
        if progress:
            progress(f"{pair.name} @ {layer.name if keras_shape is None else keras_shape}")
        comparisons.append(compare(pair, layer, ctx, keras_shape))
    if out and figures:
        from initlab import parity_plots

        for c in comparisons:
            if c.samples_file:
                c.figure = parity_plots.plot_comparison(c.to_dict(), os.path.join(out, "figures", f"{c.slug}.png"))
    notes_used = sorted({n.split(":", 1)[0] for c in comparisons for n in c.notes} | set(GENERAL_NOTES))
    meta = {
        "backend": active,
        "seed": int(seed),
        "two_sample_n": two_n,
        "one_sample_n": large_n,
        "family_alpha": family_alpha,
        "alpha_per_check": alpha,
        "statistical_checks": n_checks,
        "power": stats.POWER,
        "detectable": {
            f"one-sample at n={large_n:,}": verify.detectable_effects(large_n, alpha),
            f"two-sample KS at {two_n:,} per side": f"CDF distance {ks2_detectable(alpha, two_n, two_n):.4f}",
            f"two-sample variance ratio at {two_n:,} per side (normal)":
                f"{math.exp((stats.z_two_sided(alpha) + stats.z_power()) * math.sqrt(4 / two_n)) - 1:.2%}",
            "normal vs variance-matched truncated normal": f"CDF distance {_normal_vs_truncated():.4f}",
        },
        "layers": {k: asdict(v) for k, v in LAYERS.items()},
        "versions": keras_backend.versions(),
    }
    if active == "torch":
        meta["backend_warning"] = NOTES["keras_torch_backend"]
    return ParityResult(comparisons, meta, {k: NOTES[k] for k in notes_used})


def _normal_vs_truncated() -> float:
    return ks_distance(Reference.normal(0, 1), formulas.variance_scaling_reference((1,), 1.0, "fan_in", "truncated_normal"))
