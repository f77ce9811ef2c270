"""What the benchmark scripts share: a quiet environment and a timed subprocess.

The scripts run as `python benchmarks/bench_x.py`, so this folder is on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "initlab"]


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("JAX_PLATFORMS", "cpu")
    return env


def timed(cmd: list[str], env: dict[str, str] | None = None, ok=(0, 1)) -> tuple[float, int]:
    """Wall time and exit code of `cmd` run from the repository root; an exit code outside `ok` stops the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**bench_env(), **(env or {})},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, proc.returncode
