"""Choosing the Keras 3 backend and drawing tensors from Keras initializers.

Keras reads `KERAS_BACKEND` once, at import, so a process runs one backend.
`use_backend` sets it before the first import and refuses to switch later;
`initlab.compare` runs other backends in subprocesses instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from initlab.errors import BackendError
from initlab.formulas import get_spec

BACKENDS = ("tensorflow", "jax", "torch")


def _quiet_frameworks() -> None:
    # TensorFlow's C++ banner and JAX's accelerator probing are noise on a CPU box.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def use_backend(backend: str | None = None) -> str:
    """Makes `backend` the Keras backend of this process (before Keras is imported) and returns it.

    `None` keeps whatever Keras is configured with (`KERAS_BACKEND` or ~/.keras/keras.json).
    """
    _quiet_frameworks()
    if backend is not None and backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if "keras" in sys.modules:
        import keras

        active = keras.backend.backend()
        if backend is not None and backend != active:
            raise BackendError(
                f"Keras is already running on {active!r} in this process and cannot switch to {backend!r}; "
                f"start a new process with KERAS_BACKEND={backend}"
            )
        return active
    if backend is not None:
        os.environ["KERAS_BACKEND"] = backend
    try:
        import keras
    except ImportError as exc:
        raise BackendError(f"cannot import Keras with backend {backend or 'default'!r}: {exc}") from exc
    return keras.backend.backend()


def make_initializer(name: str, config: Mapping[str, Any] | None = None, seed: int | None = None):
    """A Keras initializer object for the table entry `name`, built through Keras's own registry."""
    import keras

    spec = get_spec(name)
    cfg = dict(spec.resolve(config))
    if spec.seeded:
        cfg["seed"] = seed
    return keras.initializers.get({"class_name": spec.name, "config": cfg})


def to_numpy(tensor: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(tensor))


def versions() -> dict[str, str]:
    """Versions of the frameworks that are importable, without importing the ones that are not loaded."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for dist in ("initlab", "keras", "tensorflow", "jax", "jaxlib", "torch", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out
