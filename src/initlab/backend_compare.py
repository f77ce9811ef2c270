"""Runs `initlab verify` under every Keras backend and names what differs.

Keras picks its backend once per process, so each backend runs in its own
subprocess and writes JSON; this module compares the JSON records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from initlab.errors import BackendError
from initlab.keras_backend import BACKENDS


def verify_on_backends(
    verify_args: Sequence[str], backends: Sequence[str] = BACKENDS, timeout: float = 600
) -> dict[str, dict[str, Any]]:
    """`initlab verify <verify_args> --backend B --json ...` for each backend; returns the JSON by backend."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="initlab-backends-") as tmp:
        for backend in backends:
            out = Path(tmp) / f"{backend}.json"
            cmd = [sys.executable, "-m", "initlab", "verify", *verify_args, "--backend", backend,
                   "--json", str(out), "--quiet", "--no-progress"]
            env = {**os.environ, "KERAS_BACKEND": backend}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
            if proc.returncode not in (0, 1) or not out.exists():
                raise BackendError(
                    f"verify on backend {backend!r} did not run (exit {proc.returncode}): "
                    f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no message'}"
                )
            results[backend] = json.loads(out.read_text())
    return results


def differences(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Checks whose verdict is not the same on every backend, with each backend's observation."""
    keyed: dict[tuple, dict[str, dict[str, Any]]] = {}
    for backend, payload in results.items():
        for rec in payload["records"]:
            key = (rec["initializer"], rec["config"], tuple(rec["shape"]), rec["statistic"])
            keyed.setdefault(key, {})[backend] = rec
    out = []
    for (name, config, shape, statistic), by_backend in keyed.items():
        verdicts = {b: r["verdict"] for b, r in by_backend.items()}
        if len(set(verdicts.values())) > 1:
            out.append({
                "initializer": name,
                "config": config,
                "shape": list(shape),
                "statistic": statistic,
                "expected": next(iter(by_backend.values()))["expected"],
                "observed": {b: r["observed"] for b, r in by_backend.items()},
                "verdict": verdicts,
            })
    return out
