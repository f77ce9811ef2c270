"""Weight layouts and the fan rules that read them. Pure numpy-free math.

Keras kernels are laid out `(*receptive_field, in, out)`; PyTorch weights are
`(out, in, *receptive_field)`; JAX's `variance_scaling` names its axes
(`in_axis=-2`, `out_axis=-1`, `batch_axis=()`), which is the Keras layout by
default. The fan rules below are the documented ones of each framework; the
converters move a tensor between layouts so that one logical layer can be
compared across frameworks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from initlab.errors import UsageError

Layout = Literal["keras", "torch"]
LAYOUTS: tuple[Layout, ...] = ("keras", "torch")


def check_shape(shape: object, *, min_rank: int = 0, what: str = "shape") -> tuple[int, ...]:
    """Returns `shape` as a tuple of positive ints, or raises UsageError saying what was received."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise UsageError(f"{what} must be a sequence of positive integers; received {shape!r}")
    dims = []
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise UsageError(f"{what} must be a sequence of positive integers; received {tuple(shape)!r}")
        dims.append(int(dim))
    if len(dims) < min_rank:
        raise UsageError(f"{what} must have rank >= {min_rank}; received {tuple(dims)!r} of rank {len(dims)}")
    return tuple(dims)


def parse_shape(text: str) -> tuple[int, ...]:
    """Parses '256x512', '3,3,64,128' or '(3, 3, 64, 128)' into a shape tuple."""
    cleaned = text.strip().strip("()[]").replace("x", ",").replace("X", ",")
    parts = [p.strip() for p in cleaned.split(",") if p.strip()]
    dims = []
    for part in parts:
        try:
            dims.append(int(part))
        except ValueError:
            raise UsageError(f"shape must be integers like 256x512 or 3,3,64,128; received {text!r}") from None
    return check_shape(dims)


def compute_fans(
    shape: Sequence[int],
    layout: Layout = "keras",
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Returns `(fan_in, fan_out)` of a weight of `shape` under a framework's documented rule.

    Keras (`keras.src.initializers.random_initializers.compute_fans`):
      rank 0: (1, 1); rank 1: (n, n); rank 2: (shape[0], shape[1]);
      rank >= 3: receptive = prod(shape[:-2]), (shape[-2] * receptive, shape[-1] * receptive).
      Explicit `input_axes` and `output_axes` are honoured only when *both* are
      given: fan_in = prod(shape[input_axes]), fan_out = prod(shape[output_axes]).
    PyTorch (`torch.nn.init._calculate_fan_in_and_fan_out`), layout (out, in, *k):
      rank < 2 is an error; receptive = prod(shape[2:]),
      (shape[1] * receptive, shape[0] * receptive).
    """
    shape = check_shape(shape)
    if layout == "keras":
        if input_axes is not None and output_axes is not None:
            rank = len(shape)
            for axis in (*input_axes, *output_axes):
                if not -rank <= axis < rank:
                    raise UsageError(f"axis {axis} is out of range for shape {shape}")
            return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
        if len(shape) == 0:
            return 1, 1
        if len(shape) == 1:
            return shape[0], shape[0]
        receptive = math.prod(shape[:-2])
        return shape[-2] * receptive, shape[-1] * receptive
    elif layout == "torch":
        if len(shape) < 2:
            raise UsageError(
                f"PyTorch cannot compute fans of a tensor with fewer than 2 dimensions; received shape {shape}"
            )
        receptive = math.prod(shape[2:])
        return shape[1] * receptive, shape[0] * receptive
    else:
        raise UsageError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def keras_to_torch_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """(*k, in, out) -> (out, in, *k). Rank 0 and 1 are the same in both layouts."""
    shape = tuple(shape)
    if len(shape) < 2:
        return shape
    return (shape[-1], shape[-2], *shape[:-2])


def torch_to_keras_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """(out, in, *k) -> (*k, in, out)."""
    shape = tuple(shape)
    if len(shape) < 2:
        return shape
    return (*shape[2:], shape[1], shape[0])


def keras_to_torch_axes(rank: int) -> tuple[int, ...]:
    """The `transpose` permutation that takes a Keras-layout array to the PyTorch layout."""
    if rank < 2:
        return tuple(range(rank))
    return (rank - 1, rank - 2, *range(rank - 2))


def torch_to_keras_axes(rank: int) -> tuple[int, ...]:
    """The inverse of `keras_to_torch_axes`."""
    if rank < 2:
        return tuple(range(rank))
    return (*range(2, rank), 1, 0)
