"""PyTorch's initialization formulas, as data and pure functions. No torch import.

Every formula that `torch.nn.init` and PyTorch's layer constructors document
lives here once, as a function of the weight's shape in PyTorch's layout
`(out, in, *kernel)` that returns an `initlab.distributions.Reference` (random
initializers) or exact values (deterministic ones). `parity`, `porting` and
`reconstruct` read these functions; none restates a PyTorch formula.

Sources: `torch/nn/init.py` (`calculate_gain`, `kaiming_*_`, `xavier_*_`,
`trunc_normal_`, `orthogonal_`, `eye_`), `torch/nn/modules/linear.py` and
`conv.py` (`reset_parameters`: `kaiming_uniform_(a=sqrt(5))` and a bias
U(-1/sqrt(fan_in), 1/sqrt(fan_in))), `sparse.py` (Embedding: N(0, 1)),
`rnn.py` (every RNN/LSTM/GRU parameter U(-1/sqrt(hidden), 1/sqrt(hidden))).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from initlab import formulas
from initlab.distributions import Reference
from initlab.errors import UsageError
from initlab.layouts import check_shape, compute_fans

Kind = Literal["random", "orthogonal", "exact"]

# torch.nn.init.calculate_gain, as data. leaky_relu's gain depends on its slope.
LINEAR_NONLINEARITIES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
)
FIXED_GAINS: dict[str, float] = {
    **{name: 1.0 for name in LINEAR_NONLINEARITIES},
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4.0,
}
# calculate_gain("leaky_relu") with no param uses slope 0.01, but kaiming_*_ pass
# their own `a`, whose default is 0: kaiming's default gain is ReLU's sqrt(2).
CALCULATE_GAIN_DEFAULT_SLOPE = 0.01
KAIMING_DEFAULT_A = 0.0
# nn.Linear / nn.Conv*d call kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / 6) = sqrt(1/3),
# bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
DEFAULT_LAYER_A = math.sqrt(5.0)
# trunc_normal_'s default bounds are absolute, whatever std is.
TRUNC_NORMAL_DEFAULT_BOUNDS = (-2.0, 2.0)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """`torch.nn.init.calculate_gain`: 1 for linear/conv/sigmoid, 5/3 tanh, sqrt(2) relu,
    sqrt(2 / (1 + slope^2)) leaky_relu (slope 0.01 when param is None), 3/4 selu."""
    if nonlinearity in FIXED_GAINS:
        return FIXED_GAINS[nonlinearity]
    elif nonlinearity == "leaky_relu":
        slope = CALCULATE_GAIN_DEFAULT_SLOPE if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    else:
        known = ", ".join([*FIXED_GAINS, "leaky_relu"])
        raise UsageError(f"PyTorch has no gain for nonlinearity {nonlinearity!r}; its nonlinearities are {known}")


def fans(shape: Sequence[int]) -> tuple[int, int]:
    """PyTorch's `(fan_in, fan_out)` of a weight in the `(out, in, *kernel)` layout (rank >= 2)."""
    return compute_fans(shape, layout="torch")


def _fan(shape: Sequence[int], mode: str) -> int:
    fan_in, fan_out = fans(shape)
    if mode == "fan_in":
        return fan_in
    elif mode == "fan_out":
        return fan_out
    else:
        raise UsageError(f"PyTorch's kaiming_*_ mode must be 'fan_in' or 'fan_out'; received mode={mode!r}")


def kaiming_std(shape: Sequence[int], a: float = KAIMING_DEFAULT_A, mode: str = "fan_in",
                nonlinearity: str = "leaky_relu") -> float:
    """std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))


def kaiming_normal(shape: Sequence[int], a: float = KAIMING_DEFAULT_A, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu") -> Reference:
    """`kaiming_normal_`: N(0, (gain / sqrt(fan))^2), untruncated (He et al. 2015)."""
    return Reference.normal(0.0, kaiming_std(shape, a, mode, nonlinearity))


def kaiming_uniform(shape: Sequence[int], a: float = KAIMING_DEFAULT_A, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Reference:
    """`kaiming_uniform_`: U(-b, b), b = gain * sqrt(3 / fan)."""
    bound = math.sqrt(3.0) * kaiming_std(shape, a, mode, nonlinearity)
    return Reference.uniform(-bound, bound)


def xavier_std(shape: Sequence[int], gain: float = 1.0) -> float:
    fan_in, fan_out = fans(shape)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_normal(shape: Sequence[int], gain: float = 1.0) -> Reference:
    """`xavier_normal_`: N(0, gain^2 * 2 / (fan_in + fan_out)), untruncated (Glorot & Bengio 2010)."""
    return Reference.normal(0.0, xavier_std(shape, gain))


def xavier_uniform(shape: Sequence[int], gain: float = 1.0) -> Reference:
    """`xavier_uniform_`: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    bound = math.sqrt(3.0) * xavier_std(shape, gain)
    return Reference.uniform(-bound, bound)


def normal(shape: Sequence[int] = (), mean: float = 0.0, std: float = 1.0) -> Reference:
    """`normal_`: N(mean, std^2); the defaults are N(0, 1)."""
    return Reference.normal(mean, std)


def uniform(shape: Sequence[int] = (), a: float = 0.0, b: float = 1.0) -> Reference:
    """`uniform_`: U(a, b); the defaults are U(0, 1)."""
    return Reference.uniform(a, b)


def trunc_normal(shape: Sequence[int] = (), mean: float = 0.0, std: float = 1.0,
                 a: float = TRUNC_NORMAL_DEFAULT_BOUNDS[0], b: float = TRUNC_NORMAL_DEFAULT_BOUNDS[1]) -> Reference:
    """`trunc_normal_`: N(mean, std^2) restricted to the ABSOLUTE bounds [a, b] (defaults -2, 2,
    whatever std is; Keras and JAX bound at 2 standard deviations instead)."""
    return Reference.truncated_normal(mean, std, a, b)


def default_weight(shape: Sequence[int]) -> Reference:
    """nn.Linear / nn.Conv*d weight: `kaiming_uniform_(a=sqrt(5))` = U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    For a grouped or depthwise conv the weight is `(out, in / groups, *kernel)`, so
    fan_in counts one group's inputs only.
    """
    return kaiming_uniform(shape, a=DEFAULT_LAYER_A)


def default_bias(fan_in: int) -> Reference:
    """nn.Linear / nn.Conv*d bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in of the weight."""
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in <= 0:
        raise UsageError(f"fan_in must be a positive integer; received {fan_in!r}")
    bound = 1.0 / math.sqrt(fan_in)
    return Reference.uniform(-bound, bound)


def embedding() -> Reference:
    """nn.Embedding weight: `normal_` = N(0, 1)."""
    return Reference.normal(0.0, 1.0)


def rnn(hidden_size: int) -> Reference:
    """Every nn.RNN / LSTM / GRU parameter (weights and both biases): U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size <= 0:
        raise UsageError(f"hidden_size must be a positive integer; received {hidden_size!r}")
    bound = 1.0 / math.sqrt(hidden_size)
    return Reference.uniform(-bound, bound)


def rnn_effective_bias(hidden_size: int) -> tuple[float, float]:
    """(variance, bound) of b_ih + b_hh: two independent U(-s, s) sum to a triangular on [-2s, 2s],
    variance 2 s^2 / 3. Keras RNN layers have one bias; this is what it must match."""
    s = 1.0 / math.sqrt(hidden_size)
    return 2.0 * s * s / 3.0, 2.0 * s


def orthogonal_flat_shape(shape: Sequence[int]) -> tuple[int, int]:
    """`orthogonal_` flattens to (shape[0], numel / shape[0]); it rejects rank < 2."""
    shape = check_shape(shape)
    if len(shape) < 2:
        raise UsageError(
            f"PyTorch's orthogonal_ needs a tensor of at least 2 dimensions (it flattens to (shape[0], rest)); "
            f"received shape {shape} of rank {len(shape)}"
        )
    return shape[0], math.prod(shape[1:])


def orthogonal_variance(shape: Sequence[int], gain: float = 1.0) -> float:
    """Mean square of an orthogonal_ tensor's entries: gain^2 / max(rows, cols)."""
    rows, cols = orthogonal_flat_shape(shape)
    return gain**2 / max(rows, cols)


def eye(shape: Sequence[int]) -> np.ndarray:
    """`eye_`: the 2-D identity (no gain); PyTorch rejects other ranks."""
    shape = check_shape(shape)
    if len(shape) != 2:
        raise UsageError(
            f"PyTorch's eye_ supports 2-D tensors only ('Only tensors with 2 dimensions are supported'; "
            f"use dirac_ for convolutions); received shape {shape} of rank {len(shape)}"
        )
    return np.eye(*shape)


def constant(shape: Sequence[int], val: float) -> np.ndarray:
    return np.full(check_shape(shape), float(val))


@dataclass(frozen=True)
class TorchSpec:
    """One PyTorch initializer: its call, what it draws, and its defaults."""

    name: str
    call: str
    kind: Kind
    defaults: Mapping[str, Any] = field(default_factory=dict)
    formula: str = ""

    def resolve(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        return formulas.resolve_arguments(f"PyTorch's {self.name}", self.defaults, config)


_KAIMING = {"a": KAIMING_DEFAULT_A, "mode": "fan_in", "nonlinearity": "leaky_relu"}

SPECS: dict[str, TorchSpec] = {
    s.name: s
    for s in [
        TorchSpec("kaiming_normal_", "torch.nn.init.kaiming_normal_", "random", _KAIMING, "N(0, gain^2 / fan)"),
        TorchSpec("kaiming_uniform_", "torch.nn.init.kaiming_uniform_", "random", _KAIMING,
                  "U(-gain sqrt(3 / fan), gain sqrt(3 / fan))"),
        TorchSpec("xavier_normal_", "torch.nn.init.xavier_normal_", "random", {"gain": 1.0},
                  "N(0, gain^2 2 / (fan_in + fan_out))"),
        TorchSpec("xavier_uniform_", "torch.nn.init.xavier_uniform_", "random", {"gain": 1.0},
                  "U(-b, b), b = gain sqrt(6 / (fan_in + fan_out))"),
        TorchSpec("normal_", "torch.nn.init.normal_", "random", {"mean": 0.0, "std": 1.0}, "N(mean, std^2)"),
        TorchSpec("uniform_", "torch.nn.init.uniform_", "random", {"a": 0.0, "b": 1.0}, "U(a, b)"),
        TorchSpec("trunc_normal_", "torch.nn.init.trunc_normal_", "random",
                  {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0}, "N(mean, std^2) on the absolute [a, b]"),
        TorchSpec("orthogonal_", "torch.nn.init.orthogonal_", "orthogonal", {"gain": 1.0},
                  "gain Q, Q orthogonal, flattened to (shape[0], rest)"),
        TorchSpec("eye_", "torch.nn.init.eye_", "exact", {}, "eye(out, in)"),
        TorchSpec("zeros_", "torch.nn.init.zeros_", "exact", {}, "0"),
        TorchSpec("ones_", "torch.nn.init.ones_", "exact", {}, "1"),
        TorchSpec("constant_", "torch.nn.init.constant_", "exact", {"val": 0.0}, "val"),
        TorchSpec("default_weight", "nn.Linear / nn.Conv*d default weight (kaiming_uniform_(a=sqrt(5)))",
                  "random", {}, "U(-1/sqrt(fan_in), 1/sqrt(fan_in))"),
        TorchSpec("default_bias", "nn.Linear / nn.Conv*d default bias", "random", {"fan_in": None},
                  "U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in of the weight"),
        TorchSpec("embedding", "nn.Embedding default weight (normal_)", "random", {}, "N(0, 1)"),
        TorchSpec("rnn", "nn.RNN / LSTM / GRU default parameter", "random", {"hidden_size": None},
                  "U(-1/sqrt(hidden), 1/sqrt(hidden))"),
    ]
}

_REFERENCES: dict[str, Callable[..., Reference]] = {
    "kaiming_normal_": kaiming_normal,
    "kaiming_uniform_": kaiming_uniform,
    "xavier_normal_": xavier_normal,
    "xavier_uniform_": xavier_uniform,
    "normal_": normal,
    "uniform_": uniform,
    "trunc_normal_": trunc_normal,
    "default_weight": default_weight,
    "default_bias": lambda shape, fan_in: default_bias(fan_in),
    "embedding": lambda shape: embedding(),
    "rnn": lambda shape, hidden_size: rnn(hidden_size),
}


def get_spec(name: str) -> TorchSpec:
    if name not in SPECS:
        raise UsageError(f"unknown PyTorch initializer {name!r}; known: {', '.join(SPECS)}")
    return SPECS[name]


def check_torch_shape(name: str, shape: Sequence[int]) -> tuple[int, ...]:
    """The shape rules PyTorch enforces, raised as UsageError naming the rule."""
    shape = check_shape(shape)
    if name in ("kaiming_normal_", "kaiming_uniform_", "xavier_normal_", "xavier_uniform_", "default_weight"):
        if len(shape) < 2:
            raise UsageError(
                f"PyTorch's {name} computes fans, which needs a tensor of at least 2 dimensions "
                f"('Fan in and fan out can not be computed for tensor with fewer than 2 dimensions'); "
                f"received shape {shape}"
            )
    elif name == "orthogonal_":
        orthogonal_flat_shape(shape)
    elif name == "eye_":
        eye(shape)
    return shape


def reference(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> Reference:
    """The distribution of one entry of PyTorch's `name(tensor of shape, **config)`; random ones only."""
    spec = get_spec(name)
    cfg = spec.resolve(config)
    shape = check_torch_shape(name, shape)
    if spec.kind != "random":
        raise UsageError(f"PyTorch's {name} is not a random initializer")
    return _REFERENCES[name](shape, **cfg)


def expected_values(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> np.ndarray:
    """The exact float64 tensor of a deterministic PyTorch initializer, in the torch layout."""
    spec = get_spec(name)
    cfg = spec.resolve(config)
    shape = check_torch_shape(name, shape)
    if name == "eye_":
        return eye(shape)
    elif name == "zeros_":
        return constant(shape, 0.0)
    elif name == "ones_":
        return constant(shape, 1.0)
    elif name == "constant_":
        return constant(shape, cfg["val"])
    else:
        raise UsageError(f"PyTorch's {name} is not deterministic")


def weight_variance(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> float:
    """Variance of one entry (orthogonal: mean square; exact: variance of the values)."""
    spec = get_spec(name)
    if spec.kind == "random":
        return reference(name, config, shape).var
    elif spec.kind == "orthogonal":
        check_torch_shape(name, shape)
        return orthogonal_variance(shape, spec.resolve(config)["gain"])
    else:
        return float(np.var(expected_values(name, config, shape)))


def gain_for_scale(scale: float) -> tuple[str, float | None]:
    """A (nonlinearity, a) whose kaiming gain^2 equals `scale`, or ('', None) when none does.

    scale 1 is 'linear', 2 is 'relu', 0 < scale < 2 is leaky_relu with a = sqrt(2 / scale - 1).
    """
    if math.isclose(scale, 1.0):
        return "linear", None
    if math.isclose(scale, 2.0):
        return "relu", None
    if 0 < scale < 2:
        return "leaky_relu", math.sqrt(2.0 / scale - 1.0)
    return "", None
