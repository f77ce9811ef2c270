"""Kernel layouts of one layer in Keras and PyTorch, including depthwise convs. Pure numpy.

Dense and conv: Keras `(*k, in, out)` <-> PyTorch `(out, in, *k)` (`initlab.layouts`).
Depthwise: Keras `DepthwiseConvND` `(*k, C, M)` <-> PyTorch `ConvNd(groups=C)` `(C*M, 1, *k)`,
output channel `c*M + m` reading input channel `c`. `initlab.porting` and `initlab.parity`
both use these; nothing else restates the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from initlab.errors import UsageError
from initlab.layouts import check_shape, keras_to_torch_axes, torch_to_keras_axes

Kind = Literal["dense", "conv", "depthwise"]
KINDS: tuple[Kind, ...] = ("dense", "conv", "depthwise")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UsageError(f"unknown weight kind {kind!r}; expected one of {KINDS}")


def kernel_shape_to_torch(shape: Sequence[int], kind: Kind = "conv") -> tuple[int, ...]:
    """Keras kernel shape -> PyTorch weight shape of the same layer.

    dense/conv: (*k, in, out) -> (out, in, *k).
    depthwise: Keras DepthwiseConv (*k, C, M) -> PyTorch ConvNd(groups=C) (C*M, 1, *k).
    """
    _check_kind(kind)
    shape = check_shape(shape, min_rank=2, what="kernel shape")
    if kind == "depthwise":
        if len(shape) < 3:
            raise UsageError(f"a depthwise kernel is (*kernel, channels, multiplier); received {shape}")
        return (shape[-2] * shape[-1], 1, *shape[:-2])
    return (shape[-1], shape[-2], *shape[:-2])


def kernel_to_torch(kernel: np.ndarray, kind: Kind = "conv") -> np.ndarray:
    """A Keras kernel as the PyTorch weight of the same layer (a new C-contiguous array)."""
    kernel = np.asarray(kernel)
    kernel_shape_to_torch(kernel.shape, kind)
    if kind == "depthwise":
        rank = kernel.ndim
        c, m = kernel.shape[-2:]
        # (*k, C, M) -> (C, M, *k) -> (C*M, 1, *k): output channel c*M + m reads input channel c.
        moved = np.transpose(kernel, (rank - 2, rank - 1, *range(rank - 2)))
        return np.ascontiguousarray(moved.reshape(c * m, 1, *kernel.shape[:-2]))
    return np.ascontiguousarray(np.transpose(kernel, keras_to_torch_axes(kernel.ndim)))


def kernel_to_keras(weight: np.ndarray, kind: Kind = "conv", multiplier: int = 1) -> np.ndarray:
    """A PyTorch weight as the Keras kernel of the same layer (inverse of `kernel_to_torch`)."""
    _check_kind(kind)
    weight = np.asarray(weight)
    check_shape(weight.shape, min_rank=2, what="weight shape")
    if kind == "depthwise":
        if weight.ndim < 3 or weight.shape[1] != 1 or weight.shape[0] % multiplier:
            raise UsageError(
                f"a PyTorch depthwise weight is (channels * multiplier, 1, *kernel); received {weight.shape} "
                f"with multiplier {multiplier}"
            )
        c = weight.shape[0] // multiplier
        k = weight.shape[2:]
        split = weight.reshape(c, multiplier, *k)
        return np.ascontiguousarray(np.transpose(split, (*range(2, 2 + len(k)), 0, 1)))
    return np.ascontiguousarray(np.transpose(weight, torch_to_keras_axes(weight.ndim)))
