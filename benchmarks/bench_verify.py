"""Benchmark: `initlab --help` start-up and a default `initlab verify` per backend.

Side by side in one run:
  - `initlab --help` (lazy framework imports) against `python -c "import keras"`,
    what every command would cost if the CLI imported Keras at the top;
  - a default `initlab verify` on each Keras backend, wall time of the whole
    command (interpreter start, framework import, sampling, statistics);
  - the KS shape check of one truncated-normal case (n = the default sample
    size): `scipy.stats.kstest` against `scipy.stats.truncnorm(...).cdf`, the
    plain way, against `initlab.stats.shape_check` (direct CDF).

Usage: .venv/bin/python benchmarks/bench_verify.py [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from _common import timed


def ks_timings(repeat: int) -> tuple[float, float]:
    import numpy as np
    from scipy import stats as sps

    from initlab import formulas, stats, verify

    alpha = verify.alpha_per_check(verify.plan())
    n = verify.default_samples(alpha)
    ref = formulas.reference("HeNormal", None, (256, 1024))
    x = ref.rv.rvs(size=n, random_state=np.random.default_rng(0)).astype(np.float32)
    plain, ours = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        sps.kstest(x.astype(np.float64), sps.truncnorm(ref.low / ref.scale, ref.high / ref.scale, scale=ref.scale).cdf)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        stats.shape_check(x, ref, alpha)
        ours.append(time.perf_counter() - start)
    return statistics.median(plain), statistics.median(ours)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", nargs="*", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    py = sys.executable
    results: dict[str, object] = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0]}

    help_times = [timed([py, "-m", "initlab", "--help"])[0] for _ in range(args.repeat)]
    keras_times = [timed([py, "-c", "import keras"], {"KERAS_BACKEND": "tensorflow"})[0] for _ in range(args.repeat)]
    results["help_median_s"] = statistics.median(help_times)
    results["import_keras_median_s"] = statistics.median(keras_times)
    print(f"initlab --help          median {results['help_median_s']:.3f} s over {args.repeat}")
    print(f"python -c 'import keras' median {results['import_keras_median_s']:.3f} s over {args.repeat}")

    ks_plain, ks_ours = ks_timings(args.repeat)
    results["ks_plain_scipy_median_s"], results["ks_initlab_median_s"] = ks_plain, ks_ours
    print(f"KS check, scipy truncnorm.cdf  median {ks_plain:.3f} s; initlab shape_check median {ks_ours:.3f} s")

    for backend in args.backends:
        seconds, code = timed([py, "-m", "initlab", "verify", "--backend", backend, "-q", "--no-progress"])
        results[f"verify_{backend}_s"] = seconds
        results[f"verify_{backend}_exit"] = code
        print(f"initlab verify --backend {backend:<10} {seconds:6.1f} s (exit {code})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
