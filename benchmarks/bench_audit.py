"""Benchmark: a default `initlab defaults`, and `initlab audit` of a ResNet-50-sized model.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_audit.py [--repeats 3] [--json benchmarks/results/bench_audit.json]

Each measurement is the wall time of the whole command in a fresh process
(interpreter start, TensorFlow/Keras and PyTorch import, model build, the
checks), the median of the repeats. Targets (the issue): at most 30 s each.
Options measured:
  defaults          `initlab defaults` (15 Keras layers and their PyTorch modules)
  audit_builder     `initlab audit initlab.models:resnet50_sized` (25.6 M parameters, built in-process)
  audit_file        `initlab audit resnet50.keras` (the same model saved once beforehand, loaded in safe mode)
  audit_in_process  `audit_model(model)` alone, the model already built (no import or build time)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import CLI, ROOT  # noqa: E402
from _common import bench_env as _env
from _common import timed as _timed

IN_PROCESS = """
import json, time
from initlab import audit, models
model = models.resnet50_sized()
start = time.perf_counter()
result = audit.audit_model(model)
print(json.dumps({"seconds": time.perf_counter() - start, "weights": len(result.weights),
                  "parameters": result.meta["parameters"], "failed": result.failed}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "resnet50.keras"
        subprocess.run([sys.executable, "-c", f"from initlab import models; models.resnet50_sized().save({str(model_file)!r})"],
                       cwd=ROOT, env=_env(), check=True, stderr=subprocess.DEVNULL)
        commands = {
            "defaults": CLI + ["defaults"],
            "audit_builder": CLI + ["audit", "initlab.models:resnet50_sized", "--policy", "initlab:resnet.toml", "-q"],
            "audit_file": CLI + ["audit", str(model_file), "--policy", "initlab:resnet.toml", "-q"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        codes: dict[str, int] = {}
        inner: list[dict] = []
        for _ in range(args.repeats):  # interleaved, so background load hits every option alike
            for name, cmd in commands.items():
                seconds, codes[name] = _timed(cmd)
                times[name].append(seconds)
            out = subprocess.run([sys.executable, "-c", IN_PROCESS], cwd=ROOT, env=_env(), capture_output=True,
                                 text=True, check=True)
            inner.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = {name: {"median_s": statistics.median(t), "runs_s": t, "exit_code": codes[name]} for name, t in times.items()}
    rows["audit_in_process"] = {"median_s": statistics.median(i["seconds"] for i in inner),
                                "runs_s": [i["seconds"] for i in inner], "weights": inner[0]["weights"],
                                "parameters": inner[0]["parameters"], "exit_code": int(inner[0]["failed"])}
    print("| measurement | median (s) | runs (s) | exit |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_s']:.1f} | {', '.join(f'{t:.1f}' for t in row['runs_s'])} | {row['exit_code']} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"results": rows, "cpus": os.cpu_count(), "python": sys.version}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
