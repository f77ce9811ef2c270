"""Benchmark: a default `initlab parity` (figures included) and a default `initlab reconstruct`.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_parity.py [--repeats 3] [--json benchmarks/results/bench_parity.json]

Each measurement is the wall time of the whole command in a fresh process
(interpreter start, TensorFlow/Keras, PyTorch and JAX import, every draw and
test, every PNG written), the median of the repeats, run interleaved. Target
(the issue): a default `initlab parity`, figures included, in at most 60 s on
the 2-core machine. The command's exit status and counts are recorded too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _common import CLI  # noqa: E402
from _common import timed as _timed

TARGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"parity": [], "reconstruct": []}
    codes: dict[str, list[int]] = {"parity": [], "reconstruct": []}
    facts = {}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "parity"
            seconds, code = _timed([*CLI, "parity", "--out", str(out), "--no-progress", "--quiet"])
            runs["parity"].append(seconds)
            codes["parity"].append(code)
            payload = json.loads((out / "parity.json").read_text())
            facts = {"comparisons": len(payload["comparisons"]), "figures": len(payload["figures"]),
                     "failed": len(payload["failed"]), "one_sample_n": payload["meta"]["one_sample_n"],
                     "two_sample_n": payload["meta"]["two_sample_n"]}
        seconds, code = _timed([*CLI, "reconstruct"])
        runs["reconstruct"].append(seconds)
        codes["reconstruct"].append(code)
    result = {
        "cpus": os.cpu_count(),
        "target_s": TARGET_S,
        "median_s": {k: statistics.median(v) for k, v in runs.items()},
        "runs_s": runs,
        "exit_codes": codes,
        "parity": facts,
        "load_average_after": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["median_s"]["parity"] <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
