"""He et al. (2015) variance propagation, as pure functions of fans.

He, Zhang, Ren, Sun, "Delving Deep into Rectifiers", ICCV 2015, eq. (7)-(10):
for a layer `y_l = W_l x_l` with zero-mean i.i.d. weights,
`Var[y_l] = n_l Var[w_l] E[x_l^2]`, where `n_l` is the fan-in
(`k*k*c_in` for a conv). With `x_l = relu(y_{l-1})` and `y_{l-1}` symmetric
about zero, `E[x_l^2] = Var[y_{l-1}] / 2`, so the pre-activation variance
changes from layer to layer by

    ratio_l = 1/2 * n_l * Var[w_l]      (ReLU input)
    ratio_l =       n_l * Var[w_l]      (linear input, or tanh near zero)

GlorotUniform has `Var[w] = 2 / (fan_in + fan_out)`, so with equal widths
the ReLU ratio is 1/2 per layer; HeNormal has `Var[w] = 2 / fan_in`, ratio 1.
"""

from __future__ import annotations

from initlab.errors import UsageError

__all__ = ["weight_variance", "gain", "predicted_ratio", "fans"]


def weight_variance(initializer: str, fan_in: int, fan_out: int) -> float:
    """Var[w] of a Keras initializer (Keras `VarianceScaling` formulas; truncation is corrected by Keras)."""
    if initializer in ("glorot_uniform", "glorot_normal"):
        return 2.0 / (fan_in + fan_out)
    elif initializer in ("he_normal", "he_uniform"):
        return 2.0 / fan_in
    elif initializer in ("lecun_normal", "lecun_uniform"):
        return 1.0 / fan_in
    else:
        raise UsageError(f"no variance formula for initializer {initializer!r}")


def gain(activation: str) -> float:
    """E[x^2] / Var[y] for x = activation(y), y symmetric about 0 (tanh: its small-y limit)."""
    if activation == "relu":
        return 0.5
    elif activation in ("tanh", "linear"):
        return 1.0
    else:
        raise UsageError(f"no He gain for activation {activation!r}")


def fans(kernel_shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras fans of a kernel `(*receptive, in, out)`."""
    if len(kernel_shape) < 2:
        raise UsageError(f"a kernel needs at least 2 dimensions, got {kernel_shape}")
    receptive = 1
    for k in kernel_shape[:-2]:
        receptive *= int(k)
    return receptive * int(kernel_shape[-2]), receptive * int(kernel_shape[-1])


def predicted_ratio(input_activation: str, initializer: str, kernel_shape: tuple[int, ...]) -> float:
    """Var[y_l] / Var[y_{l-1}] predicted by He et al. for a layer fed by `input_activation`."""
    fan_in, fan_out = fans(kernel_shape)
    return gain(input_activation) * fan_in * weight_variance(initializer, fan_in, fan_out)
