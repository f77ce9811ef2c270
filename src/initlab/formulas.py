"""The table of truth: every `keras.initializers` class described once, as data.

Each `InitializerSpec` says what family an initializer belongs to, its
constructor defaults, the non-default configurations worth testing, its
documented formula, the paper it comes from, and its closest PyTorch and JAX
calls. The functions below turn a spec, a configuration and a shape into what
the documentation promises: a `Reference` distribution for random
initializers, exact values for deterministic ones. `verify`, `reconstruct`,
`parity`, `audit`, the report and the docs all read this module; none of them
restates a formula.

The core imports no framework.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import signal, stats

from initlab.distributions import Reference
from initlab.errors import UsageError
from initlab.layouts import check_shape, compute_fans

Family = Literal[
    "variance_scaling", "normal", "truncated_normal", "uniform", "orthogonal", "identity", "constant", "stft"
]
Mode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["truncated_normal", "untruncated_normal", "uniform"]

MODES: tuple[Mode, ...] = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS: tuple[Distribution, ...] = ("truncated_normal", "untruncated_normal", "uniform")
# Keras accepts distribution="normal" and silently turns it into "truncated_normal".
DISTRIBUTION_ALIASES = {"normal": "truncated_normal"}

# Every Keras truncated normal re-draws values beyond two standard deviations of
# the underlying normal.
TRUNCATION_SIGMAS = 2.0
# The standard deviation of a standard normal truncated to [-2, 2]. VarianceScaling
# divides its stddev by it so that the *truncated* distribution has the variance
# scale / n. Keras hard-codes 0.87962566103423978; tests pin that the two agree.
TRUNCATION_CORRECTION = float(stats.truncnorm(-TRUNCATION_SIGMAS, TRUNCATION_SIGMAS).std())


@dataclass(frozen=True)
class VarianceScalingParams:
    """The `(scale, mode, distribution)` that a named initializer fixes."""

    scale: float
    mode: Mode
    distribution: Distribution

    def as_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


@dataclass(frozen=True)
class InitializerSpec:
    """One row of the table of truth."""

    name: str
    family: Family
    formula: str
    defaults: Mapping[str, Any]
    grid: tuple[Mapping[str, Any], ...] = ()
    shapes: tuple[tuple[int, ...], ...] = ()
    grid_shapes: tuple[tuple[int, ...], ...] = ()
    aliases: tuple[str, ...] = ()
    variance_scaling: VarianceScalingParams | None = None
    torch: str | None = None
    jax: str | None = None
    paper: str | None = None
    seeded: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def random(self) -> bool:
        return self.family in ("variance_scaling", "normal", "truncated_normal", "uniform")

    @property
    def snake_name(self) -> str:
        return _snake(self.name)

    def resolve(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with `config`; unknown keys are an error that lists the known ones."""
        config = dict(config or {})
        config.pop("seed", None)
        resolved = resolve_arguments(self.name, self.defaults, config)
        if self.family == "variance_scaling" and self.variance_scaling is None:
            _check_variance_scaling(resolved)
        return resolved

    def cases(self) -> list[tuple[dict[str, Any], tuple[int, ...]]]:
        """The (config, shape) pairs a default `verify` run checks."""
        out = [(self.resolve(), shape) for shape in self.shapes]
        out += [(self.resolve(cfg), shape) for cfg in self.grid for shape in self.grid_shapes]
        return out


def resolve_arguments(label: str, defaults: Mapping[str, Any], config: Mapping[str, Any] | None) -> dict[str, Any]:
    """`defaults` overlaid with `config`; an unknown key is an error naming `label`'s arguments."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise UsageError(
            f"{label} has no argument(s) {', '.join(unknown)}; "
            f"its arguments are {', '.join(sorted(defaults)) or 'none'}"
        )
    return {**defaults, **config}


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _check_variance_scaling(cfg: dict[str, Any]) -> None:
    scale = cfg["scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise UsageError(f"VarianceScaling scale must be a positive number; received scale={scale!r}")
    if cfg["mode"] not in MODES:
        raise UsageError(f"VarianceScaling mode must be one of {MODES}; received mode={cfg['mode']!r}")
    dist = str(cfg["distribution"]).lower()
    if dist not in DISTRIBUTIONS and dist not in DISTRIBUTION_ALIASES:
        raise UsageError(
            f"VarianceScaling distribution must be one of {DISTRIBUTIONS} (or 'normal', "
            f"which Keras treats as 'truncated_normal'); received distribution={cfg['distribution']!r}"
        )


# Shapes that tell the fan modes apart: non-square 2-D (fan_out = 4 fan_in),
# conv kernels of rank 3, 4 and 5 (receptive fields 5, 9, 27), and 1-D.
DENSE = (256, 1024)
CONV1D = (5, 64, 16)
CONV2D = (3, 3, 32, 128)
CONV3D = (3, 3, 3, 16, 48)
VECTOR = (4096,)
FAN_SHAPES = (DENSE, CONV1D, CONV2D, CONV3D, VECTOR)

_VS_GRID = tuple(
    {"scale": 0.5, "mode": mode, "distribution": dist}
    for mode in MODES
    for dist in (*DISTRIBUTIONS, "normal")
)
# Explicit axes: on a conv kernel these give fans (3, 128) instead of (288, 1152).
_AXES_GRID = ({"input_axes": [0], "output_axes": [-1]},)
_NAMED_DEFAULTS = {"input_axes": None, "output_axes": None}

_GLOROT = "Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward neural networks"
_HE = "He et al. 2015, Delving Deep into Rectifiers (arXiv:1502.01852)"
_LECUN = "LeCun et al. 1998, Efficient BackProp; Klambauer et al. 2017, Self-Normalizing Neural Networks"
_SAXE = "Saxe et al. 2014, Exact solutions to the nonlinear dynamics of learning in deep linear networks"


def _named_vs(name: str, scale: float, mode: Mode, dist: Distribution, formula: str, torch: str, jax: str, paper: str):
    return InitializerSpec(
        name=name,
        family="variance_scaling",
        formula=formula,
        defaults=dict(_NAMED_DEFAULTS),
        grid=_AXES_GRID,
        shapes=FAN_SHAPES,
        grid_shapes=(CONV2D,),
        variance_scaling=VarianceScalingParams(scale, mode, dist),
        torch=torch,
        jax=jax,
        paper=paper,
    )


SPECS: dict[str, InitializerSpec] = {
    spec.name: spec
    for spec in [
        InitializerSpec(
            name="VarianceScaling",
            family="variance_scaling",
            formula=(
                "n = fan_in | fan_out | (fan_in + fan_out) / 2 (at least 1); "
                "truncated_normal: TN(0, (sqrt(scale / n) / 0.8796)^2) re-drawn beyond 2 of its sigmas, variance scale / n; "
                "untruncated_normal: N(0, scale / n); uniform: U[-sqrt(3 scale / n), sqrt(3 scale / n))"
            ),
            defaults={"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", **_NAMED_DEFAULTS},
            grid=_VS_GRID + tuple({"scale": 2.5, **axes} for axes in _AXES_GRID),
            shapes=FAN_SHAPES,
            grid_shapes=(DENSE, CONV2D),
            torch="no single call; kaiming_*/xavier_* with a gain cover the untruncated cases",
            jax="jax.nn.initializers.variance_scaling(scale, mode, distribution)",
            paper=_HE,
            notes=("distribution='normal' is accepted and means truncated_normal.",),
        ),
        _named_vs(
            "GlorotUniform", 1.0, "fan_avg", "uniform",
            "U[-limit, limit), limit = sqrt(6 / (fan_in + fan_out))",
            "torch.nn.init.xavier_uniform_", "jax.nn.initializers.glorot_uniform", _GLOROT,
        ),
        _named_vs(
            "GlorotNormal", 1.0, "fan_avg", "truncated_normal",
            "truncated normal with variance 2 / (fan_in + fan_out)",
            "torch.nn.init.xavier_normal_ (untruncated)", "jax.nn.initializers.glorot_normal", _GLOROT,
        ),
        _named_vs(
            "HeNormal", 2.0, "fan_in", "truncated_normal",
            "truncated normal with variance 2 / fan_in",
            "torch.nn.init.kaiming_normal_(nonlinearity='relu') (untruncated)",
            "jax.nn.initializers.he_normal", _HE,
        ),
        _named_vs(
            "HeUniform", 2.0, "fan_in", "uniform",
            "U[-limit, limit), limit = sqrt(6 / fan_in)",
            "torch.nn.init.kaiming_uniform_(nonlinearity='relu')", "jax.nn.initializers.he_uniform", _HE,
        ),
        _named_vs(
            "LecunNormal", 1.0, "fan_in", "truncated_normal",
            "truncated normal with variance 1 / fan_in",
            "torch.nn.init.kaiming_normal_(nonlinearity='linear') (untruncated)",
            "jax.nn.initializers.lecun_normal", _LECUN,
        ),
        _named_vs(
            "LecunUniform", 1.0, "fan_in", "uniform",
            "U[-limit, limit), limit = sqrt(3 / fan_in)",
            "torch.nn.init.kaiming_uniform_(nonlinearity='linear')", "jax.nn.initializers.lecun_uniform", _LECUN,
        ),
        InitializerSpec(
            name="RandomNormal",
            family="normal",
            formula="N(mean, stddev^2)",
            defaults={"mean": 0.0, "stddev": 0.05},
            grid=({"mean": 0.3, "stddev": 2.0},),
            shapes=(DENSE, CONV2D, VECTOR),
            grid_shapes=(DENSE,),
            aliases=("normal",),
            torch="torch.nn.init.normal_(mean, std)",
            jax="jax.nn.initializers.normal(stddev) (mean 0 only)",
        ),
        InitializerSpec(
            name="RandomUniform",
            family="uniform",
            formula="U[minval, maxval)",
            defaults={"minval": -0.05, "maxval": 0.05},
            grid=({"minval": -0.3, "maxval": 0.7},),
            shapes=(DENSE, CONV2D, VECTOR),
            grid_shapes=(DENSE,),
            aliases=("uniform",),
            torch="torch.nn.init.uniform_(a, b)",
            jax="jax.nn.initializers.uniform(scale) (one-sided: U[0, scale))",
        ),
        InitializerSpec(
            name="TruncatedNormal",
            family="truncated_normal",
            formula="N(mean, stddev^2) re-drawn outside [mean - 2 stddev, mean + 2 stddev]; variance 0.7737 stddev^2",
            defaults={"mean": 0.0, "stddev": 0.05},
            grid=({"mean": -0.5, "stddev": 0.3},),
            shapes=(DENSE, CONV2D, VECTOR),
            grid_shapes=(DENSE,),
            torch="torch.nn.init.trunc_normal_(mean, std, a=mean-2*std, b=mean+2*std) (absolute bounds)",
            jax="jax.nn.initializers.truncated_normal(stddev) (std of the underlying normal, bounds +-2)",
        ),
        InitializerSpec(
            name="Orthogonal",
            family="orthogonal",
            formula=(
                "gain * Q, Q from the QR decomposition of a normal matrix (sign-corrected), "
                "flattened to (prod(shape[:-1]), shape[-1]); orthonormal rows if rows < cols, else columns"
            ),
            defaults={"gain": 1.0},
            grid=({"gain": 2.5},),
            shapes=((64, 256), (256, 64), (96, 96), (3, 3, 16, 32), (5, 8, 8)),
            grid_shapes=((64, 256), (256, 64)),
            aliases=("OrthogonalInitializer",),
            torch="torch.nn.init.orthogonal_(gain) (flattens (out, in*k): same rule on the torch layout)",
            jax="jax.nn.initializers.orthogonal(scale, column_axis=-1)",
            paper=_SAXE,
        ),
        InitializerSpec(
            name="Identity",
            family="identity",
            formula="gain * eye(rows, cols); 2-D shapes only",
            defaults={"gain": 1.0},
            grid=({"gain": 0.5},),
            shapes=((64, 64), (32, 96), (96, 32)),
            grid_shapes=((64, 64), (32, 96)),
            aliases=("IdentityInitializer",),
            torch="torch.nn.init.eye_ (no gain)",
            jax="no direct equivalent (jax.nn.initializers.delta_orthogonal is for convs)",
            seeded=False,
        ),
        InitializerSpec(
            name="Zeros",
            family="constant",
            formula="0 everywhere",
            defaults={},
            shapes=(DENSE, CONV2D, VECTOR, ()),
            aliases=("zero",),
            torch="torch.nn.init.zeros_",
            jax="jax.nn.initializers.zeros",
            seeded=False,
        ),
        InitializerSpec(
            name="Ones",
            family="constant",
            formula="1 everywhere",
            defaults={},
            shapes=(DENSE, CONV2D, VECTOR, ()),
            aliases=("one",),
            torch="torch.nn.init.ones_",
            jax="jax.nn.initializers.ones",
            seeded=False,
        ),
        InitializerSpec(
            name="Constant",
            family="constant",
            formula="value everywhere",
            defaults={"value": 0.0},
            grid=({"value": -1.25}, {"value": 3.0}),
            shapes=(DENSE, CONV2D),
            grid_shapes=(DENSE, VECTOR, ()),
            torch="torch.nn.init.constant_(val)",
            jax="jax.nn.initializers.constant(value)",
            seeded=False,
        ),
        InitializerSpec(
            name="STFT",
            family="stft",
            formula=(
                "kernel[t, 0, k] = trig(-2 pi t k / (2 (F - 1))) * w[t] / s, trig = cos (real) | sin (imag), "
                "shape (T, 1, F), w = scipy.signal.get_window(window, T, fftbins=periodic), "
                "s = sqrt(sum w^2) (density) | sum |w| (spectrum) | 1 (None or no window)"
            ),
            defaults={"side": "real", "window": "hann", "scaling": "density", "periodic": False},
            grid=tuple(
                {"side": side, "window": window, "scaling": scaling, "periodic": periodic}
                for side in ("real", "imag")
                for window in ("hann", "hamming", None)
                for scaling in ("density", "spectrum", None)
                for periodic in (False, True)
                if (side, window, scaling, periodic) != ("real", "hann", "density", False)
            ),
            shapes=((16, 1, 9), (15, 1, 33)),
            grid_shapes=((16, 1, 9),),
            aliases=("STFTInitializer",),
            torch="no equivalent (torch.stft computes the transform, not a kernel)",
            jax="no equivalent",
            seeded=False,
        ),
    ]
}


def _key(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


_LOOKUP: dict[str, str] = {}
for _spec in SPECS.values():
    for _alias in (_spec.name, _spec.snake_name, *_spec.aliases):
        _LOOKUP[_key(_alias)] = _spec.name


def get_spec(name: str) -> InitializerSpec:
    """Finds a spec by Keras class name, snake_case name or alias, in any case.

    An unknown name raises UsageError listing the closest known names.
    """
    if not isinstance(name, str):
        raise UsageError(f"initializer name must be a string; received {name!r}")
    canonical = _LOOKUP.get(_key(name))
    if canonical is None:
        known = sorted({s.name for s in SPECS.values()} | {s.snake_name for s in SPECS.values()})
        close = difflib.get_close_matches(name, known, n=4, cutoff=0.5)
        close += [k for k in known if _key(name) and _key(name) in _key(k) and k not in close][:4]
        hint = f"; did you mean {', '.join(dict.fromkeys(close))}?" if close else ""
        raise UsageError(f"unknown initializer {name!r}{hint} (known: {', '.join(sorted(SPECS))})")
    return SPECS[canonical]


def variance_scaling_reference(
    shape: Sequence[int],
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> Reference:
    """The distribution `VarianceScaling(scale, mode, distribution)` documents for `shape`.

    n = max(1, fan) for the mode; the target variance is scale / n.
    truncated_normal: the underlying normal has std sqrt(scale / n) / TRUNCATION_CORRECTION
    and is re-drawn beyond 2 of its standard deviations, so the result has variance scale / n.
    """
    cfg = {"scale": scale, "mode": mode, "distribution": distribution}
    _check_variance_scaling(cfg)
    fan_in, fan_out = compute_fans(shape, "keras", input_axes, output_axes)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    variance = scale / max(1.0, n)
    dist = DISTRIBUTION_ALIASES.get(distribution.lower(), distribution.lower())
    if dist == "truncated_normal":
        std = math.sqrt(variance) / TRUNCATION_CORRECTION
        return Reference.truncated_normal(0.0, std, -TRUNCATION_SIGMAS * std, TRUNCATION_SIGMAS * std)
    elif dist == "untruncated_normal":
        return Reference.normal(0.0, math.sqrt(variance))
    elif dist == "uniform":
        limit = math.sqrt(3.0 * variance)
        return Reference.uniform(-limit, limit)
    else:
        raise UsageError(f"unknown distribution {distribution!r}")


def reference(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> Reference:
    """The documented distribution of one entry of `name(**config)(shape)`; random initializers only."""
    spec = get_spec(name)
    cfg = spec.resolve(config)
    shape = check_shape(shape)
    if spec.family == "variance_scaling":
        vs = spec.variance_scaling.as_config() if spec.variance_scaling else {}
        return variance_scaling_reference(
            shape,
            scale=vs.get("scale", cfg.get("scale")),
            mode=vs.get("mode", cfg.get("mode")),
            distribution=vs.get("distribution", cfg.get("distribution")),
            input_axes=cfg["input_axes"],
            output_axes=cfg["output_axes"],
        )
    elif spec.family == "normal":
        return Reference.normal(cfg["mean"], cfg["stddev"])
    elif spec.family == "truncated_normal":
        mean, std = cfg["mean"], cfg["stddev"]
        return Reference.truncated_normal(mean, std, mean - TRUNCATION_SIGMAS * std, mean + TRUNCATION_SIGMAS * std)
    elif spec.family == "uniform":
        return Reference.uniform(cfg["minval"], cfg["maxval"])
    else:
        raise UsageError(f"{spec.name} is not a random initializer; use expected_values() for it")


def expected_values(name: str, config: Mapping[str, Any] | None, shape: Sequence[int]) -> np.ndarray:
    """The exact float64 tensor a deterministic initializer documents."""
    spec = get_spec(name)
    cfg = spec.resolve(config)
    shape = check_shape(shape)
    if spec.family == "constant":
        value = {"Zeros": 0.0, "Ones": 1.0}.get(spec.name, cfg.get("value"))
        return np.full(shape, float(value))
    elif spec.family == "identity":
        if len(shape) != 2:
            raise UsageError(f"Identity is documented for 2-D shapes only; received shape {shape} of rank {len(shape)}")
        return cfg["gain"] * np.eye(*shape)
    elif spec.family == "stft":
        return stft_kernel(shape, **cfg)
    else:
        raise UsageError(f"{spec.name} is random; use reference() for it")


def stft_kernel(
    shape: Sequence[int], side: str = "real", window: Any = "hann", scaling: str | None = "density", periodic: bool = False
) -> np.ndarray:
    """The documented STFT kernel in float64, shape (T, 1, F); see the STFT spec's formula."""
    shape = check_shape(shape, min_rank=3, what="STFT shape")
    if len(shape) != 3:
        raise UsageError(f"STFT kernels have shape (frame_length, channels, fft_bins); received {shape}")
    frames, _, bins = shape
    if bins < 2:
        raise UsageError(f"STFT needs at least 2 frequency bins (the FFT length is 2 (F - 1)); received F={bins}")
    fft_length = 2 * (bins - 1)
    t = np.arange(frames, dtype=np.float64).reshape(frames, 1, 1)
    k = np.arange(bins, dtype=np.float64).reshape(1, 1, bins)
    args = -2.0 * math.pi * t * k / fft_length
    if side == "real":
        kernel = np.cos(args)
    elif side == "imag":
        kernel = np.sin(args)
    else:
        raise UsageError(f"STFT side must be 'real' or 'imag'; received {side!r}")
    if window is None:
        return kernel
    w = signal.get_window(window, frames, fftbins=periodic) if isinstance(window, str) else np.asarray(window, float)
    if scaling == "density":
        norm = math.sqrt(float(np.sum(w**2)))
    elif scaling == "spectrum":
        norm = float(np.sum(np.abs(w)))
    elif scaling is None:
        norm = 1.0
    else:
        raise UsageError(f"STFT scaling must be 'density', 'spectrum' or None; received {scaling!r}")
    return kernel * w.reshape(frames, 1, 1) / norm


def orthogonal_flat_shape(shape: Sequence[int]) -> tuple[int, int]:
    """Orthogonal's documented flattening: (prod(shape[:-1]), shape[-1])."""
    shape = check_shape(shape, min_rank=2, what="Orthogonal shape")
    return math.prod(shape[:-1]), shape[-1]


def weight_variance(name: str, shape: Sequence[int], config: Mapping[str, Any] | None = None) -> float:
    """Var of one entry of `name(**config)(shape)`: the documented variance, or the mean square
    of an orthogonal/deterministic tensor's entries (what a forward pass sees)."""
    spec = get_spec(name)
    if spec.random:
        return reference(name, config, shape).var
    elif spec.family == "orthogonal":
        rows, cols = orthogonal_flat_shape(shape)
        return spec.resolve(config)["gain"] ** 2 / max(rows, cols)
    else:
        values = expected_values(name, config, shape)
        return float(np.var(values))


def check_shape_for(name: str, shape: Sequence[int]) -> tuple[int, ...]:
    """`shape` if the initializer documents it, else UsageError naming Keras's rule."""
    spec = get_spec(name)
    shape = check_shape(shape)
    if spec.family == "identity" and len(shape) != 2:
        raise UsageError(f"Identity is documented for 2-D shapes only; received {shape} of rank {len(shape)}")
    elif spec.family == "orthogonal" and len(shape) < 2:
        raise UsageError(
            f"Orthogonal needs rank >= 2 (it flattens to (prod(shape[:-1]), shape[-1])); received {shape}"
        )
    elif spec.family == "stft" and (len(shape) != 3 or shape[2] < 2):
        raise UsageError(f"STFT kernels have shape (frames, channels, bins) with bins >= 2; received {shape}")
    return shape


def all_specs() -> list[InitializerSpec]:
    return list(SPECS.values())
