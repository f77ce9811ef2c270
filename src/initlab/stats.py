"""Statistical checks of samples against a documented distribution.

Every test here has a stated per-check significance level `alpha` (the
false-alarm probability when the initializer is right) and reports the
smallest effect it detects with probability `POWER`. A run of K checks uses
alpha = family_alpha / K (Bonferroni), so the probability that a correct
initializer fails anywhere in the run is at most `family_alpha`.

Checks and their statistics (n samples, documented mean mu, variance s2,
Pearson kurtosis k):
  mean      z = (xbar - mu) / sqrt(s2 / n)                 two-sided normal (exact for normals, CLT otherwise)
  variance  z = (S^2 / s2 - 1) / sqrt((k - 1) / n)          two-sided normal, Var(S^2) = s2^2 (k - 1) / n
  support   every sample inside [low, high] (up to float rounding)   exact, no false alarms
  reach     min <= q_lo and max >= q_hi, where P(min > q_lo) = P(max < q_hi) = alpha / 2
  shape     one-sample Kolmogorov-Smirnov against the analytic CDF
  exact     |x - expected| <= tolerance derived from the dtype's unit roundoff
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from initlab.distributions import Reference

FAMILY_ALPHA = 1e-3
POWER = 0.99

# The effects a default run must detect with probability POWER.
TARGET_EFFECTS = {
    "std": 0.01,  # relative error in a standard deviation (2% in variance)
    "mean": 0.02,  # mean shift in units of the standard deviation
    "bound": 0.01,  # relative error in a bound
}

FLOAT32_EPS = float(np.finfo(np.float32).eps)


@dataclass
class Check:
    """One statistic of one sample, with its verdict and what it could have detected."""

    statistic: str
    expected: str
    observed: str
    passed: bool
    p_value: float | None = None
    alpha: float | None = None
    detectable: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def z_two_sided(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2.0))


def z_power(power: float = POWER) -> float:
    return float(stats.norm.ppf(power))


def ks_critical(alpha: float, n: int) -> float:
    """Asymptotic critical value of the one-sample KS distance at level alpha."""
    return float(stats.kstwobign.isf(alpha)) / math.sqrt(n)


def ks_detectable(alpha: float, n: int, power: float = POWER) -> float:
    """Smallest sup-CDF distance detected with probability `power`.

    Under an alternative at KS distance d, the empirical CDF at the worst point
    has standard deviation at most 0.5 / sqrt(n), so D_n exceeds the critical
    value with probability >= power once d >= crit + z_power * 0.5 / sqrt(n).
    """
    return ks_critical(alpha, n) + z_power(power) * 0.5 / math.sqrt(n)


def required_samples(alpha: float, kurtosis: float = 3.0, shape_distance: float | None = None) -> int:
    """The n that gives each check POWER against TARGET_EFFECTS at level alpha."""
    z = z_two_sided(alpha) + z_power()
    n_mean = (z / TARGET_EFFECTS["mean"]) ** 2
    rel_var = (1 + TARGET_EFFECTS["std"]) ** 2 - 1  # 1% in std is 2.01% in variance
    n_var = z**2 * (kurtosis - 1) / rel_var**2
    n = max(n_mean, n_var)
    if shape_distance is not None:
        c = float(stats.kstwobign.isf(alpha)) + z_power() * 0.5
        n = max(n, (c / shape_distance) ** 2)
    return int(math.ceil(n))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def mean_check(x: np.ndarray, ref: Reference, alpha: float) -> Check:
    n = x.size
    se = ref.std / math.sqrt(n)
    mean = float(np.mean(x, dtype=np.float64))
    z = (mean - ref.mean) / se
    p = float(2 * stats.norm.sf(abs(z)))
    mde = (z_two_sided(alpha) + z_power()) / math.sqrt(n)
    return Check(
        "mean", _fmt(ref.mean), _fmt(mean), p >= alpha, p, alpha, f"shift >= {mde:.2%} of std"
    )


def variance_check(x: np.ndarray, ref: Reference, alpha: float) -> Check:
    n = x.size
    var = float(np.var(x, dtype=np.float64, ddof=1))
    se_rel = math.sqrt((ref.kurtosis - 1.0) / n)
    z = (var / ref.var - 1.0) / se_rel
    p = float(2 * stats.norm.sf(abs(z)))
    mde_var = (z_two_sided(alpha) + z_power()) * se_rel
    return Check(
        "variance",
        _fmt(ref.var),
        f"{_fmt(var)} (std x{math.sqrt(var / ref.var):.4f})",
        p >= alpha,
        p,
        alpha,
        f"variance off by >= {mde_var:.2%} (std {math.sqrt(1 + mde_var) - 1:.2%})",
    )


def _rounding_slack(bound: float) -> float:
    # Samples are float32: the bound itself and `low + (high - low) * u` are
    # rounded, so allow two units in the last place of the bound.
    return 2.0 * FLOAT32_EPS * abs(bound)


def bound_checks(x: np.ndarray, ref: Reference, alpha: float) -> list[Check]:
    """Support and reach of both bounds of a bounded reference.

    'support' can never fail for a correct initializer. 'reach' fails with
    probability alpha: P(min > q_lo) = (1 - F(q_lo))^n = alpha / 2.
    """
    n = x.size
    lo, hi = ref.support
    xmin, xmax = float(np.min(x)), float(np.max(x))
    inside = xmin >= lo - _rounding_slack(lo) and xmax <= hi + _rounding_slack(hi)
    tail = -math.expm1(math.log(alpha / 2.0) / n)  # 1 - (alpha/2)^(1/n), without cancellation
    q_lo, q_hi = ref.ppf(tail), ref.isf(tail)
    width = hi - lo
    # A bound that is short by more than this cannot be reached by the sample max;
    # one that is too wide leaves >= 1 sample outside with probability POWER once
    # n * pdf(bound) * excess >= -log(1 - POWER).
    short = max(hi - q_hi, q_lo - lo) / width
    density = min(float(ref.pdf(np.array([lo]))[0]), float(ref.pdf(np.array([hi]))[0]))
    # A bound far out in the tails (density 0 in float64) leaves no sample outside a wider bound.
    excess = -math.log(1 - POWER) / (n * density * width) if density > 0 else math.inf
    relative = max(short, excess) * width / max(abs(lo), abs(hi))
    detect = f"bound off by >= {relative:.3%}" if math.isfinite(relative) else "a wider bound: undetectable"
    return [
        Check("support", f"[{_fmt(lo)}, {_fmt(hi)}]", f"[{_fmt(xmin)}, {_fmt(xmax)}]", inside, None, 0.0, detect),
        Check(
            "reach",
            f"min <= {_fmt(q_lo)}, max >= {_fmt(q_hi)}",
            f"[{_fmt(xmin)}, {_fmt(xmax)}]",
            xmin <= q_lo and xmax >= q_hi,
            None,
            alpha,
            detect,
        ),
    ]


def shape_check(x: np.ndarray, ref: Reference, alpha: float) -> Check:
    n = x.size
    result = stats.kstest(np.asarray(x, dtype=np.float64), ref.cdf, method="asymp" if n > 10_000 else "auto")
    crit = ks_critical(alpha, n)
    return Check(
        "shape (KS)",
        f"{ref.describe()}, D <= {crit:.4f}",
        f"D = {result.statistic:.4f}",
        float(result.pvalue) >= alpha,
        float(result.pvalue),
        alpha,
        f"CDF distance >= {ks_detectable(alpha, n):.4f}",
    )


def distribution_checks(x: np.ndarray, ref: Reference, alpha: float) -> list[Check]:
    """All checks of a random initializer's samples against its reference."""
    x = np.asarray(x).ravel()
    checks = [mean_check(x, ref, alpha), variance_check(x, ref, alpha)]
    if ref.bounded:
        checks += bound_checks(x, ref, alpha)
    checks.append(shape_check(x, ref, alpha))
    return checks


def checks_per_reference(ref: Reference) -> int:
    return 5 if ref.bounded else 3


def exact_tolerance(expected: np.ndarray, dtype: np.dtype = np.float32, ops: int = 8) -> float:
    """Absolute tolerance for a tensor computed in `dtype` by a short chain of `ops` roundings."""
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    return ops * float(np.finfo(dtype).eps) * max(scale, 1.0)


def exact_check(x: np.ndarray, expected: np.ndarray, tolerance: float, statistic: str = "values") -> Check:
    x = np.asarray(x, dtype=np.float64)
    if x.shape != expected.shape:
        return Check(statistic, f"shape {expected.shape}", f"shape {x.shape}", False, detectable="any change")
    err = float(np.max(np.abs(x - expected))) if x.size else 0.0
    return Check(
        statistic,
        f"max |error| <= {tolerance:.2g}",
        f"max |error| = {err:.3g}",
        err <= tolerance,
        detectable=f"any entry off by > {tolerance:.2g}",
    )


def orthogonality_check(x: np.ndarray, gain: float, flat_shape: tuple[int, int]) -> Check:
    """Rows (rows < cols) or columns (otherwise) of the flattened tensor are orthogonal with norm gain.

    Householder QR in float32 has a backward error of order m * u (m the long
    side, u = eps / 2); the tolerance is 10 m u gain^2, far below the O(1)
    deviation of a non-orthogonal matrix or of a gain that was ignored.
    """
    rows, cols = flat_shape
    q = np.asarray(x, dtype=np.float64).reshape(rows, cols)
    if rows < cols:
        gram, which = q @ q.T, "rows"
    else:
        gram, which = q.T @ q, "columns"
    target = gain**2 * np.eye(gram.shape[0])
    err = float(np.max(np.abs(gram - target)))
    tol = 10 * max(rows, cols) * FLOAT32_EPS / 2 * gain**2
    return Check(
        f"orthogonality ({which})",
        f"Q Q^T = {gain:g}^2 I, max |error| <= {tol:.2g}",
        f"max |error| = {err:.3g}",
        err <= tol,
        detectable=f"gram entries off by > {tol:.2g}",
    )


def haar_sign_check(x: np.ndarray, flat_shape: tuple[int, int], alpha: float) -> Check:
    """Signs of the flattened matrix's diagonal are fair coins, as for a Haar-distributed Q.

    Haar measure is invariant under flipping the sign of any column, so the signs of
    Q[0, 0], ..., Q[k-1, k-1] are independent fair coins: the count of positive ones is
    exactly Binomial(k, 1/2). A QR without Keras's sign correction (q *= sign(diag(r)))
    makes them mostly negative.
    """
    rows, cols = flat_shape
    diag = np.diag(np.asarray(x, dtype=np.float64).reshape(rows, cols))
    k = diag.size
    positive = int(np.sum(diag > 0))
    p = float(stats.binomtest(positive, k, 0.5).pvalue)
    shift = (z_two_sided(alpha) + z_power()) * 0.5 / math.sqrt(k)
    return Check(
        "Haar sign symmetry", f"P(diagonal > 0) = 1/2 over {k}", f"{positive}/{k} positive", p >= alpha, p, alpha,
        f"P(diagonal > 0) off 1/2 by >= {shift:.2f}" if shift < 0.5 else "nothing at this size",
    )


def independence_check(a: np.ndarray, b: np.ndarray, alpha: float) -> Check:
    """Pearson correlation of two draws with different seeds; sqrt(n) r is N(0, 1) if independent."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    n = a.size
    r = float(np.corrcoef(a, b)[0, 1])
    z = r * math.sqrt(n)
    p = float(2 * stats.norm.sf(abs(z)))
    mde = (z_two_sided(alpha) + z_power()) / math.sqrt(n)
    return Check("seed independence", "corr = 0", f"corr = {r:.4f}", p >= alpha, p, alpha, f"|corr| >= {mde:.3f}")
