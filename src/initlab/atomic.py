"""Atomic writes for every result file initlab saves: a temporary file in the target folder,
fsync, then `os.replace`, so an interrupted run never leaves a half-written file."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_file(target: Path, mode: str = "wb"):
    """Yields a file in the target's folder; on success it is fsynced and renamed onto `target`,
    on any error (Ctrl-C included) it is removed, so `target` is either the old or the new whole file."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix="." + target.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_file(target, "wb") as f:
        f.write(data)


def write_text_atomic(target: Path, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None  # JSON has no NaN; a diverged loss is None plus the status
    return x


def write_json_atomic(target: Path, obj: Any) -> None:
    write_text_atomic(target, json.dumps(_jsonable(obj), indent=1, sort_keys=True, allow_nan=False) + "\n")


def write_npz_atomic(target: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_file(target, "wb") as f:
        np.savez(f, **arrays)


def write_csv_atomic(target: Path, frame) -> None:
    write_text_atomic(target, frame.to_csv(index=False))
