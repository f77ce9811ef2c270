"""JAX's initialization formulas (`jax.nn.initializers`), as data and pure functions. No jax import.

JAX names axes instead of fixing a layout: `variance_scaling(in_axis=-2,
out_axis=-1, batch_axis=())`, which is the Keras layout `(*kernel, in, out)`
by default (and Flax's). Differences from Keras that these functions encode:

* `variance_scaling(distribution="normal")` is an UNtruncated normal; in Keras
  `distribution="normal"` means truncated.
* `uniform(scale)` is one-sided, U[0, scale); Keras's RandomUniform is U[minval, maxval).
* `truncated_normal(stddev)` takes the std of the underlying normal and bounds it at
  +-2 of those (Keras's TruncatedNormal does the same); it does not apply the 0.8796 correction.
* Fans: every axis that is neither in, out nor batch is receptive field, also with
  explicit axes (Keras's explicit `input_axes`/`output_axes` ignore the others).
* A rank-0/1 shape with the default in_axis is an error (Keras uses fans (n, n)).
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
from initlab.formulas import TRUNCATION_CORRECTION, TRUNCATION_SIGMAS
from initlab.layouts import check_shape

Axes = int | Sequence[int]
JAX_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
JAX_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")
# jax.nn.initializers.normal / uniform / truncated_normal default to 1e-2.
DEFAULT_SCALE = 1e-2


def _prod(shape: Sequence[int], axes: Axes) -> int:
    if isinstance(axes, int):
        return shape[axes]
    return math.prod(shape[a] for a in axes)


def compute_fans(shape: Sequence[int], in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = ()) -> tuple[float, float]:
    """JAX's `_compute_fans`: receptive = numel / (in * out * batch); fans = (in, out) * receptive."""
    shape = check_shape(shape)
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise UsageError(
            f"JAX's variance_scaling cannot compute fans of a {len(shape)}-dimensional shape with the default "
            f"in_axis=-2 ('Must be at least 2D or specify in_axis explicitly'); received shape {shape}"
        )
    rank = len(shape)
    for axis in [in_axis, out_axis, batch_axis]:
        for a in [axis] if isinstance(axis, int) else axis:
            if not -rank <= a < rank:
                raise UsageError(f"axis {a} is out of range for shape {shape}")
    in_size, out_size, batch = _prod(shape, in_axis), _prod(shape, out_axis), _prod(shape, batch_axis)
    receptive = math.prod(shape) / in_size / out_size / batch
    return in_size * receptive, out_size * receptive


def variance_scaling(
    shape: Sequence[int],
    scale: float,
    mode: str,
    distribution: str,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Reference:
    """`jax.nn.initializers.variance_scaling`: variance scale / n, n the fan of `mode`
    (fan_geo_avg = sqrt(fan_in fan_out)); truncated_normal divides the std by 0.8796 and
    truncates at +-2 of the underlying std; normal is untruncated; uniform is U[-sqrt(3v), sqrt(3v))."""
    if mode not in JAX_MODES:
        raise UsageError(f"JAX's variance_scaling mode must be one of {JAX_MODES}; received {mode!r}")
    if distribution not in JAX_DISTRIBUTIONS:
        raise UsageError(
            f"JAX's variance_scaling distribution must be one of {JAX_DISTRIBUTIONS}; received {distribution!r}"
        )
    fan_in, fan_out = compute_fans(shape, in_axis, out_axis, batch_axis)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0,
         "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    variance = scale / n
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / TRUNCATION_CORRECTION
        return Reference.truncated_normal(0.0, std, -TRUNCATION_SIGMAS * std, TRUNCATION_SIGMAS * std)
    elif distribution == "normal":
        return Reference.normal(0.0, math.sqrt(variance))
    else:
        limit = math.sqrt(3.0 * variance)
        return Reference.uniform(-limit, limit)


# The named wrappers: (scale, mode, distribution), as in jax/_src/nn/initializers.py.
NAMED: dict[str, tuple[float, str, str]] = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
}
ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
           "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal"}


def normal(stddev: float = DEFAULT_SCALE) -> Reference:
    """`normal(stddev)`: N(0, stddev^2); mean 0 only."""
    return Reference.normal(0.0, stddev)


def uniform(scale: float = DEFAULT_SCALE) -> Reference:
    """`uniform(scale)`: U[0, scale), ONE-sided (mean scale / 2)."""
    return Reference.uniform(0.0, scale)


def truncated_normal(stddev: float = DEFAULT_SCALE, lower: float = -2.0, upper: float = 2.0) -> Reference:
    """`truncated_normal(stddev, lower, upper)`: stddev * TN(0, 1) on [lower, upper] (relative bounds)."""
    return Reference.truncated_normal(0.0, stddev, lower * stddev, upper * stddev)


@dataclass(frozen=True)
class JaxSpec:
    name: str
    call: str
    kind: Literal["random", "orthogonal", "exact"]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        return formulas.resolve_arguments(f"JAX's {self.name}", self.defaults, config)


_AXES = {"in_axis": -2, "out_axis": -1, "batch_axis": ()}
SPECS: dict[str, JaxSpec] = {
    s.name: s
    for s in [
        *(JaxSpec(n, f"jax.nn.initializers.{n}()", "random", _AXES) for n in NAMED),
        JaxSpec("variance_scaling", "jax.nn.initializers.variance_scaling", "random",
                {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", **_AXES}),
        JaxSpec("normal", "jax.nn.initializers.normal", "random", {"stddev": DEFAULT_SCALE}),
        JaxSpec("uniform", "jax.nn.initializers.uniform", "random", {"scale": DEFAULT_SCALE}),
        JaxSpec("truncated_normal", "jax.nn.initializers.truncated_normal", "random",
                {"stddev": DEFAULT_SCALE, "lower": -2.0, "upper": 2.0}),
        JaxSpec("orthogonal", "jax.nn.initializers.orthogonal", "orthogonal", {"scale": 1.0, "column_axis": -1}),
        JaxSpec("zeros", "jax.nn.initializers.zeros", "exact"),
        JaxSpec("ones", "jax.nn.initializers.ones", "exact"),
        JaxSpec("constant", "jax.nn.initializers.constant", "exact", {"value": 0.0}),
    ]
}


def get_spec(name: str) -> JaxSpec:
    name = ALIASES.get(name, name)
    if name not in SPECS:
        raise UsageError(f"unknown JAX initializer {name!r}; known: {', '.join(SPECS)}")
    return SPECS[name]


def orthogonal_flat_shape(shape: Sequence[int], column_axis: int = -1) -> tuple[int, int]:
    """`orthogonal` moves column_axis last and flattens to (numel / cols, cols); rank < 2 is an error."""
    shape = check_shape(shape)
    if len(shape) < 2:
        raise UsageError(
            f"JAX's orthogonal needs a shape of at least 2 dimensions ('orthogonal initializer requires "
            f"at least a 2D shape'); received shape {shape}"
        )
    cols = shape[column_axis]
    return math.prod(shape) // cols, cols


def reference(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> Reference:
    """The distribution of one entry of `jax.nn.initializers.<name>(**config)(key, shape)`."""
    spec = get_spec(name)
    cfg = spec.resolve(config)
    shape = check_shape(shape)
    if spec.name in NAMED:
        return variance_scaling(shape, *NAMED[spec.name], **cfg)
    elif spec.name == "variance_scaling":
        return variance_scaling(shape, **cfg)
    elif spec.name == "normal":
        return normal(cfg["stddev"])
    elif spec.name == "uniform":
        return uniform(cfg["scale"])
    elif spec.name == "truncated_normal":
        return truncated_normal(cfg["stddev"], cfg["lower"], cfg["upper"])
    else:
        raise UsageError(f"JAX's {spec.name} is not a random initializer")


def expected_values(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> np.ndarray:
    spec = get_spec(name)
    cfg = spec.resolve(config)
    shape = check_shape(shape)
    values: dict[str, Callable[[], np.ndarray]] = {
        "zeros": lambda: np.zeros(shape),
        "ones": lambda: np.ones(shape),
        "constant": lambda: np.full(shape, float(cfg.get("value", 0.0))),
    }
    if spec.name not in values:
        raise UsageError(f"JAX's {spec.name} is not deterministic")
    return values[spec.name]()


def weight_variance(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> float:
    spec = get_spec(name)
    if spec.kind == "random":
        return reference(name, config, shape).var
    elif spec.kind == "orthogonal":
        cfg = spec.resolve(config)
        rows, cols = orthogonal_flat_shape(shape, cfg["column_axis"])
        return cfg["scale"] ** 2 / max(rows, cols)
    else:
        return float(np.var(expected_values(name, config, shape)))


def keras_distribution(distribution: str) -> str:
    """The JAX `distribution` string that draws what Keras's `distribution` draws."""
    mapping = {"truncated_normal": "truncated_normal", "normal": "truncated_normal",
               "untruncated_normal": "normal", "uniform": "uniform"}
    if distribution not in mapping:
        raise UsageError(f"unknown Keras distribution {distribution!r}; expected one of {tuple(mapping)}")
    return mapping[distribution]
