"""Section 2: every named VarianceScaling initializer rebuilt from `VarianceScaling(scale, mode, distribution)`.

Two proofs per name, both read from the table of truth (`initlab.formulas`):

* exactly: for the same seed and shape, on the active Keras backend, the named
  initializer and `VarianceScaling(**spec.variance_scaling)` return the same
  bytes (2-D and conv shapes). `exact_on_backend` runs another backend in a
  subprocess, since Keras picks its backend once per process.
* by formula: the table's reference of the named initializer and of its
  reconstruction have equal variance and bounds, and samples of both pass the
  `verify` checks.

The other direction, `identify(config)`, names the Keras initializer a
VarianceScaling configuration equals (if any) and the PyTorch and JAX calls
that draw from the same distribution, with the reference of each so that the
claim is checked, not asserted.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from initlab import formulas, jax_formulas, stats, torch_formulas, verify
from initlab.distributions import Reference, ks_distance
from initlab.errors import BackendError, UsageError
from initlab.layouts import compute_fans, keras_to_torch_shape

NAMED = ("GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform")
# A 2-D (Dense 256->512) and a conv (3x3, 64->128) kernel, Keras layout; fans differ in each.
SHAPES: dict[str, tuple[int, ...]] = {"dense": (256, 512), "conv": (3, 3, 64, 128)}
# Equal-to-the-last-bit floats are expected; the formulas compute the same numbers two ways.
FORMULA_RTOL = 1e-12


@dataclass
class ExactRecord:
    """Named initializer vs its reconstruction, same seed and shape, one backend."""

    name: str
    shape: tuple[int, ...]
    backend: str
    seed: int
    identical: bool
    max_abs_diff: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["shape"] = list(self.shape)
        return out


@dataclass
class FormulaRecord:
    """The table's reference of the named initializer vs that of its reconstruction, one shape."""

    name: str
    shape: tuple[int, ...]
    named: str
    reconstruction: str
    variance: float
    variance_reconstruction: float
    bounds: tuple[float, float]
    bounds_reconstruction: tuple[float, float]
    equal: bool
    checks_named: list[stats.Check]
    checks_reconstruction: list[stats.Check]
    samples: int

    @property
    def passed(self) -> bool:
        return self.equal and all(c.passed for c in self.checks_named + self.checks_reconstruction)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if not k.startswith("checks")}
        out["shape"] = list(self.shape)
        out["bounds"] = list(self.bounds)
        out["bounds_reconstruction"] = list(self.bounds_reconstruction)
        out["checks_named"] = [c.to_dict() for c in self.checks_named]
        out["checks_reconstruction"] = [c.to_dict() for c in self.checks_reconstruction]
        out["passed"] = self.passed
        return out


@dataclass
class Identification:
    """What a VarianceScaling configuration equals in Keras, PyTorch and JAX."""

    config: dict[str, Any]
    keras: str | None
    keras_call: str
    torch_call: str
    torch_exact_call: bool  # a single torch.nn.init call (no initlab helper needed)
    jax_call: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reconstruction:
    name: str
    config: dict[str, Any]
    keras_call: str
    exact: list[ExactRecord]
    formula: list[FormulaRecord]

    @property
    def passed(self) -> bool:
        return all(r.identical for r in self.exact) and all(r.passed for r in self.formula)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": self.config,
            "keras_call": self.keras_call,
            "passed": self.passed,
            "exact": [r.to_dict() for r in self.exact],
            "formula": [r.to_dict() for r in self.formula],
        }


@dataclass
class ReconstructResult:
    reconstructions: list[Reconstruction]
    reverse: list[Identification]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reconstructions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "passed": self.passed,
            "reconstructions": [r.to_dict() for r in self.reconstructions],
            "reverse": [i.to_dict() for i in self.reverse],
        }


def variance_scaling_config(name: str) -> dict[str, Any]:
    """The `VarianceScaling` arguments that equal the named initializer, from the table."""
    spec = formulas.get_spec(name)
    if spec.variance_scaling is None:
        raise UsageError(f"{spec.name} is not a VarianceScaling initializer; the ones that are: {', '.join(NAMED)}")
    return spec.variance_scaling.as_config()


def keras_call(config: Mapping[str, Any]) -> str:
    return (
        f"keras.initializers.VarianceScaling(scale={config['scale']!r}, mode={config['mode']!r}, "
        f"distribution={config['distribution']!r})"
    )


def _bytes_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def exact_checks(seed: int = 0, names: Sequence[str] = NAMED, shapes: Mapping[str, tuple[int, ...]] = SHAPES,
                 backend: str | None = None) -> list[ExactRecord]:
    """Named vs reconstruction, same seed and shape, on the active (or given) Keras backend, in-process."""
    from initlab import keras_backend

    active = keras_backend.use_backend(backend)
    records = []
    for name in names:
        config = variance_scaling_config(name)
        for shape in shapes.values():
            a = keras_backend.to_numpy(keras_backend.make_initializer(name, None, seed)(shape))
            b = keras_backend.to_numpy(keras_backend.make_initializer("VarianceScaling", config, seed)(shape))
            diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.shape == b.shape else math.inf
            records.append(ExactRecord(name, tuple(shape), active, seed, _bytes_equal(a, b), diff))
    return records


def exact_on_backend(backend: str, seed: int = 0, timeout: float = 300.0) -> list[ExactRecord]:
    """`exact_checks` on another Keras backend, in a fresh Python process."""
    from initlab.keras_backend import BACKENDS

    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    code = (
        "import json, sys; from initlab.reconstruct import exact_checks; "
        f"print(json.dumps([r.to_dict() for r in exact_checks(seed={int(seed)}, backend={backend!r})]))"
    )
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise BackendError(f"the {backend} backend subprocess failed: {tail[0]}")
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    return [ExactRecord(r["name"], tuple(r["shape"]), r["backend"], r["seed"], r["identical"], r["max_abs_diff"])
            for r in rows]


def _support(ref: Reference) -> tuple[float, float]:
    return ref.support


def formula_checks(name: str, shape: tuple[int, ...], draw_named, draw_vs, n: int, alpha: float,
                   seeds) -> FormulaRecord:
    """Compares the two table references, then checks samples of each against its own reference."""
    config = variance_scaling_config(name)
    named_ref = formulas.reference(name, None, shape)
    vs_ref = formulas.reference("VarianceScaling", config, shape)
    equal = (
        named_ref.family == vs_ref.family
        and math.isclose(named_ref.var, vs_ref.var, rel_tol=FORMULA_RTOL)
        and all(
            (math.isinf(x) and x == y) or math.isclose(x, y, rel_tol=FORMULA_RTOL)
            for x, y in zip(_support(named_ref), _support(vs_ref), strict=True)
        )
    )
    checks_named = verify.check_draws(name, None, shape, draw_named, n, alpha, seeds)
    checks_vs = verify.check_draws("VarianceScaling", config, shape, draw_vs, n, alpha, seeds)
    return FormulaRecord(
        name, tuple(shape), named_ref.describe(), vs_ref.describe(), named_ref.var, vs_ref.var,
        _support(named_ref), _support(vs_ref), equal, checks_named, checks_vs, n,
    )


def run_reconstruct(
    seed: int = 0,
    backend: str | None = None,
    samples: int | None = None,
    other_backends: Sequence[str] = (),
    family_alpha: float = stats.FAMILY_ALPHA,
) -> ReconstructResult:
    """Both proofs for every name on the active backend (and, in subprocesses, on `other_backends`),
    plus `identify` for the named configurations and the VarianceScaling grid of the table."""
    from initlab import keras_backend

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"the seed must be a non-negative integer; received {seed!r}")
    seed = int(seed)
    active = keras_backend.use_backend(backend)
    # Each formula record has 2 references x (mean, variance, reach, shape) checks that can false-alarm.
    n_checks = sum(2 * (stats.checks_per_reference(formulas.reference(nm, None, s)) - 1)
                   for nm in NAMED for s in SHAPES.values())
    alpha = family_alpha / n_checks
    n = verify.check_samples_count(samples) if samples is not None else verify.default_samples(alpha)

    exact = exact_checks(seed, backend=active)
    for other in other_backends:
        if other != active:
            exact += exact_on_backend(other, seed)

    reconstructions = []
    for index, name in enumerate(NAMED):
        config = variance_scaling_config(name)
        records = []
        for j, shape in enumerate(SHAPES.values()):
            seeds = lambda k, i=index, j=j: verify.draw_seed(seed, 100 * i + j, k)  # noqa: E731
            named = lambda s, nm=name, sh=shape: keras_backend.to_numpy(keras_backend.make_initializer(nm, None, s)(sh))  # noqa: E731
            vs = lambda s, sh=shape, c=config: keras_backend.to_numpy(  # noqa: E731
                keras_backend.make_initializer("VarianceScaling", c, s)(sh))
            records.append(formula_checks(name, shape, named, vs, n, alpha, seeds))
        reconstructions.append(
            Reconstruction(name, config, keras_call(config), [r for r in exact if r.name == name], records)
        )
    reverse = [identify(cfg) for cfg in reverse_grid()]
    meta = {
        "backend": active,
        "other_backends": list(other_backends),
        "seed": seed,
        "samples_per_check": n,
        "family_alpha": family_alpha,
        "alpha_per_check": alpha,
        "statistical_checks": n_checks,
        "power": stats.POWER,
        "detectable": verify.detectable_effects(n, alpha),
        "shapes": {k: list(v) for k, v in SHAPES.items()},
        "versions": keras_backend.versions(),
    }
    return ReconstructResult(reconstructions, reverse, meta)


# ---------------------------------------------------------------- the other direction


def reverse_grid() -> list[dict[str, Any]]:
    """Every (scale, mode, distribution) of the named initializers, and a few that no name covers."""
    configs = [variance_scaling_config(n) for n in NAMED]
    for scale in (0.5, 1.0, 2.0, 3.0):
        for mode in formulas.MODES:
            for dist in (*formulas.DISTRIBUTIONS, "normal"):
                cfg = {"scale": scale, "mode": mode, "distribution": dist}
                if cfg not in configs:
                    configs.append(cfg)
    return configs


def _normalize(config: Mapping[str, Any]) -> dict[str, Any]:
    spec = formulas.get_spec("VarianceScaling")
    cfg = spec.resolve(config)
    if cfg.get("input_axes") is not None or cfg.get("output_axes") is not None:
        raise UsageError(
            "identify() covers VarianceScaling with the default fan rule; explicit input_axes/output_axes have "
            "no PyTorch equivalent, and JAX's in_axis/out_axis count the other axes as receptive field"
        )
    dist = str(cfg["distribution"]).lower()
    return {"scale": float(cfg["scale"]), "mode": cfg["mode"],
            "distribution": formulas.DISTRIBUTION_ALIASES.get(dist, dist)}


def keras_name_for(config: Mapping[str, Any]) -> str | None:
    """The named Keras initializer whose table entry equals `config`, if any."""
    cfg = _normalize(config)
    for name in NAMED:
        vs = variance_scaling_config(name)
        if (math.isclose(vs["scale"], cfg["scale"]) and vs["mode"] == cfg["mode"]
                and vs["distribution"] == cfg["distribution"]):
            return name
    return None


def _torch_call(cfg: dict[str, Any]) -> tuple[str, bool]:
    scale, mode, dist = cfg["scale"], cfg["mode"], cfg["distribution"]
    if dist == "truncated_normal":
        # torch has no variance-scaled truncated normal; the helper calls trunc_normal_ with relative bounds.
        fan = {"fan_in": "fan_in", "fan_out": "fan_out", "fan_avg": "(fan_in + fan_out) / 2"}[mode]
        call = (
            f"initlab.porting.keras_variance_scaling_(w, {scale:g}, {mode!r}, 'truncated_normal'), i.e. "
            f"trunc_normal_(w, 0, s, -2*s, 2*s) with s = sqrt({scale:g} / {fan}) / {formulas.TRUNCATION_CORRECTION:.8f}"
        )
        return call, False
    family = "uniform" if dist == "uniform" else "normal"
    if mode == "fan_avg":
        gain = math.sqrt(scale)
        return f"torch.nn.init.xavier_{family}_(w, gain={gain:.10g})", True
    nonlinearity, a = torch_formulas.gain_for_scale(scale)
    if nonlinearity == "leaky_relu":
        return f"torch.nn.init.kaiming_{family}_(w, a={a:.10g}, mode={mode!r}, nonlinearity='leaky_relu')", True
    elif nonlinearity:
        return f"torch.nn.init.kaiming_{family}_(w, mode={mode!r}, nonlinearity={nonlinearity!r})", True
    else:
        return (f"torch.nn.init.kaiming_{family}_(w, mode={mode!r}, nonlinearity='linear'); "
                f"w.mul_({math.sqrt(scale):.10g})  # no kaiming gain reaches scale > 2"), True


def torch_reference(config: Mapping[str, Any], torch_shape: Sequence[int]) -> Reference:
    """The distribution `_torch_call(config)` draws for a weight of `torch_shape` (PyTorch layout)."""
    cfg = _normalize(config)
    scale, mode, dist = cfg["scale"], cfg["mode"], cfg["distribution"]
    if dist == "truncated_normal":
        fan_in, fan_out = torch_formulas.fans(torch_shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        std = math.sqrt(scale / n) / formulas.TRUNCATION_CORRECTION
        return torch_formulas.trunc_normal(torch_shape, 0.0, std, -2 * std, 2 * std)
    family = "uniform" if dist == "uniform" else "normal"
    if mode == "fan_avg":
        fn = torch_formulas.xavier_uniform if family == "uniform" else torch_formulas.xavier_normal
        return fn(torch_shape, gain=math.sqrt(scale))
    fn = torch_formulas.kaiming_uniform if family == "uniform" else torch_formulas.kaiming_normal
    nonlinearity, a = torch_formulas.gain_for_scale(scale)
    if nonlinearity:
        return fn(torch_shape, a=a if a is not None else 0.0, mode=mode, nonlinearity=nonlinearity)
    ref = fn(torch_shape, mode=mode, nonlinearity="linear")
    k = math.sqrt(scale)
    if ref.family == "uniform":
        return Reference.uniform(ref.low * k, ref.high * k)
    return Reference.normal(0.0, ref.scale * k)


def _jax_config(cfg: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    jdist = jax_formulas.keras_distribution(cfg["distribution"])
    for jname, (scale, mode, dist) in jax_formulas.NAMED.items():
        if math.isclose(scale, cfg["scale"]) and mode == cfg["mode"] and dist == jdist:
            return f"jax.nn.initializers.{jname}()", jname, {}
    jcfg = {"scale": cfg["scale"], "mode": cfg["mode"], "distribution": jdist}
    return (f"jax.nn.initializers.variance_scaling({cfg['scale']:g}, {cfg['mode']!r}, {jdist!r})",
            "variance_scaling", jcfg)


def jax_reference(config: Mapping[str, Any], shape: Sequence[int]) -> Reference:
    """The distribution the JAX call of `identify(config)` draws for a Keras-layout `shape`."""
    _, name, jcfg = _jax_config(_normalize(config))
    return jax_formulas.reference(name, jcfg, shape)


def identify(config: Mapping[str, Any]) -> Identification:
    """Names the Keras initializer `VarianceScaling(**config)` equals, and the PyTorch and JAX calls
    that draw from the same distribution (weights in each framework's own layout)."""
    cfg = _normalize(config)
    name = keras_name_for(cfg)
    torch_call, torch_exact = _torch_call(cfg)
    jax_call, _, _ = _jax_config(cfg)
    notes = []
    raw = str(dict(config).get("distribution", "truncated_normal")).lower()
    if raw == "normal":
        notes.append("Keras reads distribution='normal' as 'truncated_normal'; JAX's 'normal' is untruncated.")
    if cfg["distribution"] == "untruncated_normal":
        notes.append("JAX calls this distribution 'normal'.")
    if cfg["distribution"] == "truncated_normal":
        notes.append("PyTorch's kaiming_normal_/xavier_normal_ are untruncated: same variance, different shape.")
    return Identification(
        dict(cfg),
        name,
        f"keras.initializers.{name}()" if name else keras_call(cfg),
        torch_call,
        torch_exact,
        jax_call,
        notes,
    )


def identification_distance(config: Mapping[str, Any], shape: Sequence[int]) -> dict[str, float]:
    """KS distance and variance ratio between Keras's reference and the PyTorch / JAX ones (0 and 1 if equal)."""
    keras_ref = formulas.variance_scaling_reference(shape, **_normalize(config))
    out = {}
    for fw, ref in (("torch", torch_reference(config, keras_to_torch_shape(shape))), ("jax", jax_reference(config, shape))):
        out[f"{fw}_ks"] = ks_distance(keras_ref, ref)
        out[f"{fw}_variance_ratio"] = ref.var / keras_ref.var
    return out


def fans_agree(shape: Sequence[int]) -> bool:
    """Keras's fans of a (*k, in, out) kernel equal PyTorch's of the same layer's (out, in, *k) weight."""
    return compute_fans(shape, "keras") == compute_fans(keras_to_torch_shape(shape), "torch")
