"""Benchmark: the whole lab, `initlab run`, as a user runs it (fresh folder, default settings).

Records wall time per section (from the command's own output), total wall time
and the peak resident memory of the process tree.

Usage: .venv/bin/python benchmarks/bench_lab.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="initlab-lab-bench-") as out:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "initlab", "run", "--out", out],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sections = {m.group(1): float(m.group(2)) for m in re.finditer(r"✓ (\S+) in (\d+) s", proc.stdout)}
    result = {"exit": proc.returncode, "total_s": seconds, "peak_rss_mib": peak_mib, "sections_s": sections}
    for key, value in sections.items():
        print(f"{key:<14} {value:6.0f} s")
    print(f"{'total':<14} {seconds:6.0f} s, exit {proc.returncode}, peak RSS of one process {peak_mib:.0f} MiB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
