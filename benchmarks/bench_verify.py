"""Benchmark: `initlab --help` start-up and a default `initlab verify` per backend.

Side by side in one run:
  - `initlab --help` (lazy framework imports) against `python -c "import keras"`,
    what every command would cost if the CLI imported Keras at the top;
  - a default `initlab verify` on each Keras backend, wall time of the whole
    command (interpreter start, framework import, sampling, statistics).

Usage: .venv/bin/python benchmarks/bench_verify.py [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - start, proc.returncode


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
