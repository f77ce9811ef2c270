"""Section 1: check every Keras initializer against its documented formula.

`plan` lists the (initializer, config, shape) cases of a run from the table of
truth; `run_verify` samples them under the active Keras backend and applies
the checks of `initlab.stats`. `check_draws` is the engine underneath: it takes
any function `seed -> tensor`, so the same checks judge Keras, deliberately
wrong initializers in the tests, and PyTorch or JAX in `parity`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from initlab import formulas, stats
from initlab.distributions import Reference, ks_distance
from initlab.errors import UsageError
from initlab.formulas import InitializerSpec, get_spec

Draw = Callable[[int], np.ndarray]

# Each sample is held as float32 from the framework, then as float64 for the
# statistics (about three copies at once).
BYTES_PER_SAMPLE = 4 + 3 * 8


@dataclass(frozen=True)
class Case:
    spec: InitializerSpec
    config: Mapping[str, Any]
    shape: tuple[int, ...]

    @property
    def label(self) -> str:
        return config_label(self.spec, self.config)


@dataclass
class Record:
    """One row of the verify table; `to_dict` is the JSON record."""

    initializer: str
    config: str
    shape: tuple[int, ...]
    statistic: str
    expected: str
    observed: str
    passed: bool
    p_value: float | None
    alpha: float | None
    detectable: str
    samples: int
    seed: int

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["shape"] = list(self.shape)
        out["verdict"] = self.verdict
        return out


@dataclass
class VerifyResult:
    records: list[Record]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[Record]:
        return [r for r in self.records if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "records": [r.to_dict() for r in self.records]}


def config_label(spec: InitializerSpec, config: Mapping[str, Any]) -> str:
    """The arguments that differ from the defaults, or 'defaults'."""
    changed = {k: v for k, v in config.items() if spec.defaults.get(k, object()) != v}
    if not changed:
        return "defaults"
    return ", ".join(f"{k}={v!r}" for k, v in changed.items())


# Pooling more draws than this means a shape far too small for the sample size.
MAX_DRAWS = 10_000


def plan(names: Iterable[str] | None = None, shapes: Sequence[Sequence[int]] | None = None) -> list[Case]:
    """The cases of a run: every spec (or the named ones) at its defaults and grid, on the table's
    shapes; or, with `shapes`, each spec at its defaults on those shapes."""
    specs = formulas.all_specs() if not names else list({s.name: s for s in map(get_spec, names)}.values())
    if not shapes:
        return [Case(spec, config, shape) for spec in specs for config, shape in spec.cases()]
    return [Case(spec, spec.resolve(), formulas.check_shape_for(spec.name, shape)) for spec in specs for shape in shapes]


def check_draw_count(cases: Sequence[Case], n: int) -> None:
    """Refuses a run whose smallest random shape would need more than MAX_DRAWS tensors."""
    for case in cases:
        if case.spec.random and draws_needed(case.shape, n) > MAX_DRAWS:
            raise UsageError(
                f"{case.spec.name} on shape {case.shape} ({math.prod(case.shape)} entries) would need "
                f"{draws_needed(case.shape, n):,} "
                f"draws to pool {n:,} samples; use a larger shape or fewer --samples"
            )


def statistical_checks(case: Case) -> int:
    """How many checks with a false-alarm probability this case adds (seeding included)."""
    if case.spec.random:
        ref = formulas.reference(case.spec.name, case.config, case.shape)
        return stats.checks_per_reference(ref) - (1 if ref.bounded else 0)  # 'support' never false-alarms
    if case.spec.family == "orthogonal":
        return 1  # Haar sign symmetry
    return 0


def seeding_checks(cases: Sequence[Case]) -> int:
    return sum(1 for spec in {c.spec.name: c.spec for c in cases}.values() if spec.seeded)


def statistical_check_count(cases: Sequence[Case]) -> int:
    return sum(statistical_checks(c) for c in cases) + seeding_checks(cases)


def alpha_per_check(cases: Sequence[Case], family_alpha: float = stats.FAMILY_ALPHA) -> float:
    """Bonferroni: the per-check level that keeps the whole run's false-alarm rate at family_alpha."""
    return family_alpha / max(1, statistical_check_count(cases))


def default_samples(alpha: float) -> int:
    """Samples per case so that every check has POWER against TARGET_EFFECTS.

    The shape check must tell a normal from a variance-matched normal truncated
    at two standard deviations (KS distance about 0.0167), the hardest shape
    difference among Keras's families.
    """
    normal = Reference.normal(0.0, 1.0)
    matched = formulas.variance_scaling_reference((1,), 1.0, "fan_in", "truncated_normal")
    return stats.required_samples(alpha, kurtosis=3.0, shape_distance=ks_distance(normal, matched))


def check_samples_count(samples: object) -> int:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples <= 0:
        raise UsageError(f"the sample count must be a positive integer; received {samples!r}")
    samples = int(samples)
    if samples < 2:
        raise UsageError(f"the sample count must be at least 2 to estimate a variance; received {samples}")
    available = _available_memory()
    need = samples * BYTES_PER_SAMPLE
    if available is not None and need > available // 2:
        raise UsageError(
            f"{samples:,} samples need about {need / 2**30:.1f} GiB, more than half of the "
            f"{available / 2**30:.1f} GiB this machine has available; use fewer samples"
        )
    return samples


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def draw_seed(seed: int, case_index: int, draw_index: int) -> int:
    """Independent, reproducible 31-bit seeds for every draw of a run."""
    return int(np.random.SeedSequence([seed, case_index, draw_index]).generate_state(1)[0] & 0x7FFFFFFF)


def pooled(draw: Draw, shape: tuple[int, ...], n: int, seeds: Callable[[int], int]) -> np.ndarray:
    """Draws whole tensors of `shape` until at least n entries are pooled."""
    return np.concatenate([np.asarray(draw(seeds(j)), dtype=np.float32).ravel() for j in range(draws_needed(shape, n))])


def draws_needed(shape: Sequence[int], n: int) -> int:
    """Whole tensors of `shape` to draw so that at least n entries are pooled."""
    return max(1, math.ceil(n / math.prod(shape)))


def check_draws(
    spec: InitializerSpec | str,
    config: Mapping[str, Any] | None,
    shape: Sequence[int],
    draw: Draw,
    n: int,
    alpha: float,
    seeds: Callable[[int], int] = lambda j: j,
) -> list[stats.Check]:
    """Checks tensors from `draw(seed)` against what the table documents for (spec, config, shape)."""
    spec = get_spec(spec) if isinstance(spec, str) else spec
    config = spec.resolve(config)
    shape = tuple(shape)
    if spec.random:
        ref = formulas.reference(spec.name, config, shape)
        return stats.distribution_checks(pooled(draw, shape, n, seeds), ref, alpha)
    x = np.asarray(draw(seeds(0)))
    if x.shape != shape:
        return [stats.Check("shape", str(shape), str(x.shape), False, detectable="any change")]
    if spec.family == "orthogonal":
        flat = formulas.orthogonal_flat_shape(shape)
        return [stats.orthogonality_check(x, config["gain"], flat), stats.haar_sign_check(x, flat, alpha)]
    expected = formulas.expected_values(spec.name, config, shape)
    ops = 8 if spec.family != "stft" else 8 * (1 + int(math.ceil(2 * math.pi * shape[0] * shape[2] / 2)))
    # STFT's float32 argument -2 pi t k / N carries a rounding error proportional to its size.
    return [stats.exact_check(x, expected, stats.exact_tolerance(expected, np.float32, ops))]


def seeding(spec: InitializerSpec, config: Mapping[str, Any], shape: tuple[int, ...], make, seed: int, alpha: float):
    """Seeded initializers are reproducible, and different seeds give independent tensors."""
    a = np.asarray(make(config, seed)(shape))
    again = np.asarray(make(config, seed)(shape))
    b = np.asarray(make(config, seed + 1)(shape))
    same = stats.Check(
        "seed reproducible", "identical", "identical" if np.array_equal(a, again) else "different",
        bool(np.array_equal(a, again)), detectable="any difference",
    )
    if not spec.random:
        return [same]
    return [same, stats.independence_check(a, b, alpha)]


def run_verify(
    names: Iterable[str] | None = None,
    samples: int | None = None,
    seed: int = 0,
    backend: str | None = None,
    family_alpha: float = stats.FAMILY_ALPHA,
    progress: Callable[[Case], None] | None = None,
    shapes: Sequence[Sequence[int]] | None = None,
) -> VerifyResult:
    """Runs the checks of every planned case under a Keras backend."""
    from initlab import keras_backend

    cases = plan(names, shapes)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"the seed must be a non-negative integer; received {seed!r}")
    n_checks = statistical_check_count(cases)
    alpha = alpha_per_check(cases, family_alpha)
    n = check_samples_count(samples) if samples is not None else default_samples(alpha)
    check_draw_count(cases, n)
    active = keras_backend.use_backend(backend)

    def make(spec):
        return lambda config, s: _numpy_initializer(keras_backend.make_initializer(spec.name, config, s))

    records: list[Record] = []
    seeded_done: set[str] = set()
    for index, case in enumerate(cases):
        if progress:
            progress(case)
        init = make(case.spec)
        seeds = lambda j, i=index: draw_seed(seed, i, j)  # noqa: E731
        checks = check_draws(case.spec, case.config, case.shape, lambda s: init(case.config, s)(case.shape), n, alpha, seeds)
        if case.spec.name not in seeded_done:
            seeded_done.add(case.spec.name)
            checks += seeding(case.spec, case.config, case.shape, init, draw_seed(seed, index, 10**6), alpha)
        count = math.prod(case.shape) * (draws_needed(case.shape, n) if case.spec.random else 1)
        records += [
            Record(case.spec.name, case.label, case.shape, c.statistic, c.expected, c.observed, c.passed,
                   c.p_value, c.alpha, c.detectable, count, seed)
            for c in checks
        ]
    meta = {
        "backend": active,
        "seed": seed,
        "samples_per_case": n,
        "family_alpha": family_alpha,
        "alpha_per_check": alpha,
        "statistical_checks": n_checks,
        "power": stats.POWER,
        "target_effects": stats.TARGET_EFFECTS,
        "detectable": detectable_effects(n, alpha),
        "versions": keras_backend.versions(),
    }
    return VerifyResult(records, meta)


def _numpy_initializer(init):
    from initlab.keras_backend import to_numpy

    return lambda shape: to_numpy(init(shape))


def detectable_effects(n: int, alpha: float) -> dict[str, str]:
    """The smallest effect each statistic detects with probability POWER at (n, alpha)."""
    z = stats.z_two_sided(alpha) + stats.z_power()
    rel_var_normal = z * math.sqrt(2.0 / n)
    return {
        "mean": f"{z / math.sqrt(n):.2%} of the std",
        "variance": f"{rel_var_normal:.2%} in variance ({math.sqrt(1 + rel_var_normal) - 1:.2%} in std) for a normal",
        "shape (KS)": f"CDF distance {stats.ks_detectable(alpha, n):.4f}",
        "reach": f"a bound short by {-math.log(alpha / 2) / n:.2e} of the uniform's width",
    }
