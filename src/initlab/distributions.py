"""Analytic reference distributions that initializers are checked against.

A `Reference` is what a formula says a weight's entries are: a family and its
parameters, with the moments, support and CDF that the statistical tests use.
Everything here is closed form through scipy; nothing samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from scipy import special, stats

Family = Literal["normal", "truncated_normal", "uniform"]


@dataclass(frozen=True)
class Reference:
    """A continuous distribution with closed-form moments.

    normal:            N(loc, scale^2), unbounded.
    truncated_normal:  N(loc, scale^2) restricted to [low, high] (absolute bounds),
                       i.e. values outside are re-drawn, not clipped.
    uniform:           U[low, high).
    """

    family: Family
    loc: float = 0.0
    scale: float = 1.0
    low: float = -math.inf
    high: float = math.inf

    @staticmethod
    def normal(mean: float, std: float) -> Reference:
        return Reference("normal", loc=float(mean), scale=float(std))

    @staticmethod
    def truncated_normal(mean: float, std: float, low: float, high: float) -> Reference:
        """N(mean, std^2) re-drawn outside the absolute bounds [low, high]."""
        return Reference("truncated_normal", loc=float(mean), scale=float(std), low=float(low), high=float(high))

    @staticmethod
    def uniform(low: float, high: float) -> Reference:
        return Reference("uniform", low=float(low), high=float(high))

    @cached_property
    def rv(self) -> stats.rv_continuous:
        if self.family == "normal":
            return stats.norm(loc=self.loc, scale=self.scale)
        elif self.family == "truncated_normal":
            a = (self.low - self.loc) / self.scale
            b = (self.high - self.loc) / self.scale
            return stats.truncnorm(a, b, loc=self.loc, scale=self.scale)
        elif self.family == "uniform":
            return stats.uniform(loc=self.low, scale=self.high - self.low)
        else:
            raise ValueError(f"unknown family {self.family!r}")

    @cached_property
    def mean(self) -> float:
        return float(self.rv.mean())

    @cached_property
    def var(self) -> float:
        return float(self.rv.var())

    @property
    def std(self) -> float:
        return math.sqrt(self.var)

    @cached_property
    def kurtosis(self) -> float:
        """Pearson kurtosis E[(X - mu)^4] / sigma^4 (3 for a normal)."""
        return float(self.rv.stats(moments="k")) + 3.0

    @property
    def support(self) -> tuple[float, float]:
        if self.family == "normal":
            return (-math.inf, math.inf)
        return (self.low, self.high)

    @property
    def bounded(self) -> bool:
        return self.family != "normal"

    def cdf(self, x: np.ndarray) -> np.ndarray:
        if self.family == "truncated_normal" and self._near_truncation:
            # scipy's truncnorm.cdf works in log space for far tails and is ~30x slower;
            # within 6 sigmas (Keras cuts at 2) the direct formula loses nothing.
            a, b = (self.low - self.loc) / self.scale, (self.high - self.loc) / self.scale
            pa, pb = float(special.ndtr(a)), float(special.ndtr(b))
            z = (np.asarray(x, dtype=np.float64) - self.loc) / self.scale
            return np.clip((special.ndtr(z) - pa) / (pb - pa), 0.0, 1.0)
        return self.rv.cdf(x)

    @property
    def _near_truncation(self) -> bool:
        return self.low - self.loc >= -6 * self.scale and self.high - self.loc <= 6 * self.scale

    def pdf(self, x: np.ndarray) -> np.ndarray:
        return self.rv.pdf(x)

    def ppf(self, q: float) -> float:
        return float(self.rv.ppf(q))

    def isf(self, q: float) -> float:
        return float(self.rv.isf(q))

    def describe(self) -> str:
        """A short formula a person reads, e.g. 'TN(0, 0.0512^2) on [-0.102, 0.102]'."""
        if self.family == "normal":
            return f"N({self.loc:.4g}, {self.scale:.4g}^2)"
        elif self.family == "truncated_normal":
            return f"TN({self.loc:.4g}, {self.scale:.4g}^2) on [{self.low:.4g}, {self.high:.4g}]"
        else:
            return f"U[{self.low:.4g}, {self.high:.4g})"


def ks_distance(a: Reference, b: Reference, points: int = 200_001) -> float:
    """sup_x |F_a(x) - F_b(x)|, evaluated on a fine grid spanning both supports."""
    lo = min(a.ppf(1e-9), b.ppf(1e-9))
    hi = max(a.isf(1e-9), b.isf(1e-9))
    grid = np.linspace(lo, hi, points)
    return float(np.max(np.abs(a.cdf(grid) - b.cdf(grid))))
