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
Var[w] comes from `initlab.formulas`, like every other formula in initlab.
"""

from __future__ import annotations

from initlab import formulas
from initlab.errors import UsageError
from initlab.layouts import check_shape, compute_fans

__all__ = ["weight_variance", "gain", "predicted_ratio", "fans"]


def weight_variance(initializer: str, kernel_shape: tuple[int, ...]) -> float:
    """Var[w] of a Keras initializer for a kernel, from the formula table (the one source of truth)."""
    return formulas.weight_variance(initializer, kernel_shape)


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
    return compute_fans(check_shape(kernel_shape, min_rank=2, what="kernel shape"))


def predicted_ratio(input_activation: str, initializer: str, kernel_shape: tuple[int, ...]) -> float:
    """Var[y_l] / Var[y_{l-1}] predicted by He et al. for a layer fed by `input_activation`."""
    fan_in, _ = fans(kernel_shape)
    return gain(input_activation) * fan_in * weight_variance(initializer, kernel_shape)
