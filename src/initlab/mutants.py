"""Deliberately wrong initializers, to show that `verify`'s checks have power.

Each mutant is a real Keras initializer that claims to be a documented one
and gets one thing wrong: a scale, a fan mode, the truncation correction, the
truncation bound, the shape, a mean, a bound, orthogonality or a gain.
`catch_mutants` runs the verify engine on each at the default run's level
and sample size, and reports which statistics caught it. Importing this module
imports Keras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from scipy import stats as sps

from initlab import formulas, verify
from initlab.keras_backend import to_numpy
from initlab.layouts import compute_fans

CORRECTION = formulas.TRUNCATION_CORRECTION


class _Mutant(keras.initializers.Initializer):
    def __init__(self, seed=None):
        self.seed = seed

    def get_config(self):
        return {"seed": self.seed}


class HeNormalStdOnePercentHigh(_Mutant):
    def __call__(self, shape, dtype=None):
        std = math.sqrt(2 / compute_fans(shape)[0]) / CORRECTION * 1.01
        return keras.random.truncated_normal(shape, stddev=std, seed=self.seed, dtype=dtype)


class HeUniformWithFanAvg(_Mutant):
    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6 / ((fan_in + fan_out) / 2))
        return keras.random.uniform(shape, -limit, limit, seed=self.seed, dtype=dtype)


class HeNormalWithoutCorrection(_Mutant):
    def __call__(self, shape, dtype=None):
        std = math.sqrt(2 / compute_fans(shape)[0])
        return keras.random.truncated_normal(shape, stddev=std, seed=self.seed, dtype=dtype)


class HeNormalUntruncated(_Mutant):
    """Same variance as HeNormal without truncation: PyTorch's kaiming_normal_."""

    def __call__(self, shape, dtype=None):
        std = math.sqrt(2 / compute_fans(shape)[0])
        return keras.random.normal(shape, stddev=std, seed=self.seed, dtype=dtype)


class HeNormalTruncatedAtWrongBound(_Mutant):
    """Variance-matched, but re-drawn beyond `sigmas` instead of 2 standard deviations."""

    sigmas = 2.5

    def __call__(self, shape, dtype=None):
        c = sps.truncnorm(-self.sigmas, self.sigmas).std()
        std = math.sqrt(2 / compute_fans(shape)[0]) / c
        rng = np.random.default_rng(self.seed)
        x = sps.truncnorm(-self.sigmas, self.sigmas, scale=std).rvs(size=shape, random_state=rng)
        return keras.ops.convert_to_tensor(x.astype("float32"))


class HeNormalTruncatedOnePercentShort(HeNormalTruncatedAtWrongBound):
    sigmas = 2.0 * 0.99


class RandomNormalMeanShifted(_Mutant):
    def __call__(self, shape, dtype=None):
        return keras.random.normal(shape, mean=0.02 * 0.05, stddev=0.05, seed=self.seed, dtype=dtype)


class RandomUniformBoundShort(_Mutant):
    def __call__(self, shape, dtype=None):
        return keras.random.uniform(shape, -0.05 * 0.99, 0.05 * 0.99, seed=self.seed, dtype=dtype)


class NotOrthogonal(_Mutant):
    def __call__(self, shape, dtype=None):
        return keras.random.normal(shape, stddev=1 / math.sqrt(max(shape)), seed=self.seed, dtype=dtype)


class OrthogonalGainIgnored(_Mutant):
    def __call__(self, shape, dtype=None):
        return keras.initializers.Orthogonal(gain=1.0, seed=self.seed)(shape, dtype=dtype)


class OrthogonalWithoutSignCorrection(_Mutant):
    """Q from a QR of a normal matrix, without Keras's `q *= sign(diag(r))`: orthogonal, but not Haar."""

    def __call__(self, shape, dtype=None):
        q, _ = keras.ops.qr(keras.random.normal(shape, seed=self.seed, dtype=dtype))
        return q


@dataclass(frozen=True)
class Mutant:
    cls: type
    claims: str
    config: dict[str, Any] | None
    shape: tuple[int, ...]
    must_fail: frozenset[str]
    error: str


MUTANTS = [
    Mutant(HeNormalStdOnePercentHigh, "HeNormal", None, (256, 1024), frozenset({"variance"}),
           "standard deviation 1% too large"),
    Mutant(HeUniformWithFanAvg, "HeUniform", None, (256, 1024), frozenset({"variance", "reach"}),
           "fan_avg instead of fan_in"),
    Mutant(HeNormalWithoutCorrection, "HeNormal", None, (3, 3, 32, 128), frozenset({"variance", "reach"}),
           "truncation correction 0.8796 missing (variance x0.774)"),
    Mutant(HeNormalUntruncated, "HeNormal", None, (256, 1024), frozenset({"support", "shape (KS)"}),
           "untruncated normal with the right variance"),
    Mutant(HeNormalTruncatedAtWrongBound, "HeNormal", None, (256, 1024), frozenset({"support"}),
           "truncated at 2.5 sigma instead of 2 (variance matched)"),
    Mutant(HeNormalTruncatedOnePercentShort, "HeNormal", None, (256, 1024), frozenset({"reach"}),
           "truncation bound 1% short (variance matched)"),
    Mutant(RandomNormalMeanShifted, "RandomNormal", None, (256, 1024), frozenset({"mean"}),
           "mean shifted by 2% of the standard deviation"),
    Mutant(RandomUniformBoundShort, "RandomUniform", None, (256, 1024), frozenset({"reach"}),
           "bounds 1% short"),
    Mutant(NotOrthogonal, "Orthogonal", None, (256, 64), frozenset({"orthogonality (columns)"}),
           "a scaled normal matrix, not orthogonal"),
    Mutant(OrthogonalGainIgnored, "Orthogonal", {"gain": 2.5}, (64, 256), frozenset({"orthogonality (rows)"}),
           "gain 2.5 ignored"),
    Mutant(OrthogonalWithoutSignCorrection, "Orthogonal", None, (256, 64), frozenset({"Haar sign symmetry"}),
           "QR without the sign correction (orthogonal, not Haar)"),
]


def catch_mutants(seed: int = 0) -> list[dict[str, Any]]:
    """Runs every mutant through the checks of a default verify run; one row per mutant."""
    alpha = verify.alpha_per_check(verify.plan())
    n = verify.default_samples(alpha)
    rows = []
    for index, mutant in enumerate(MUTANTS):
        seeds = lambda j, i=index: verify.draw_seed(seed, i, j)  # noqa: E731
        checks = verify.check_draws(
            mutant.claims, mutant.config, mutant.shape,
            lambda s, m=mutant: to_numpy(m.cls(seed=s)(m.shape)), n, alpha, seeds,
        )
        failed = sorted(c.statistic for c in checks if not c.passed)
        rows.append({
            "mutant": mutant.cls.__name__,
            "claims": mutant.claims + (f" {mutant.config}" if mutant.config else ""),
            "error": mutant.error,
            "shape": "x".join(map(str, mutant.shape)),
            "expected to fail": ", ".join(sorted(mutant.must_fail)),
            "failed": ", ".join(failed) or "nothing",
            "caught": "caught" if mutant.must_fail <= set(failed) else "FAIL: missed",
        })
    return rows
