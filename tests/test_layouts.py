import numpy as np
import pytest

from initlab.errors import UsageError
from initlab.layouts import (
    check_shape,
    compute_fans,
    keras_to_torch_axes,
    keras_to_torch_shape,
    parse_shape,
    torch_to_keras_axes,
    torch_to_keras_shape,
)


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((256, 1024), (256, 1024)),
        ((5, 64, 16), (320, 80)),
        ((3, 3, 32, 128), (288, 1152)),
        ((3, 3, 3, 16, 48), (432, 1296)),
    ],
)
def test_keras_fan_rule(shape, fans):
    assert compute_fans(shape) == fans


def test_keras_explicit_axes_need_both():
    assert compute_fans((3, 3, 32, 128), input_axes=[0, 1, 2], output_axes=[3]) == (288, 128)
    # Keras ignores input_axes when output_axes is missing; so does the table.
    assert compute_fans((3, 3, 32, 128), input_axes=[0]) == (288, 1152)


def test_explicit_axis_out_of_range():
    with pytest.raises(UsageError, match="axis 4 is out of range"):
        compute_fans((3, 4), input_axes=[4], output_axes=[0])


@pytest.mark.parametrize(
    "torch_shape, fans",
    [((512, 256), (256, 512)), ((128, 64, 3, 3), (576, 1152)), ((64, 1, 3, 3), (9, 576))],
)
def test_torch_fan_rule(torch_shape, fans):
    assert compute_fans(torch_shape, layout="torch") == fans


def test_torch_rejects_rank_one():
    with pytest.raises(UsageError, match="fewer than 2 dimensions"):
        compute_fans((10,), layout="torch")


def test_same_layer_same_fans_in_both_layouts():
    for keras_shape in [(256, 512), (3, 3, 64, 128), (5, 16, 8), (3, 3, 3, 4, 8)]:
        assert compute_fans(keras_shape) == compute_fans(keras_to_torch_shape(keras_shape), layout="torch")


def test_layout_conversion_moves_the_right_entries():
    rng = np.random.default_rng(0)
    k = rng.normal(size=(3, 5, 7, 11))  # (kh, kw, in, out)
    t = k.transpose(keras_to_torch_axes(4))
    assert t.shape == keras_to_torch_shape(k.shape) == (11, 7, 3, 5)
    assert t[10, 6, 2, 4] == k[2, 4, 6, 10]
    back = t.transpose(torch_to_keras_axes(4))
    assert np.array_equal(back, k)
    assert torch_to_keras_shape(t.shape) == k.shape


@pytest.mark.parametrize("bad", [(0, 3), (-1,), (2.5, 3), "3x3", None, (True, 2)])
def test_check_shape_rejects(bad):
    with pytest.raises(UsageError, match="positive integers"):
        check_shape(bad)


def test_parse_shape():
    assert parse_shape("256x512") == (256, 512)
    assert parse_shape("(3, 3, 64, 128)") == (3, 3, 64, 128)
    with pytest.raises(UsageError, match="integers"):
        parse_shape("3xa")
