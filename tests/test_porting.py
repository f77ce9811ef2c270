"""Porting helpers: PyTorch-default Keras initializers, Keras-initializer PyTorch functions, weight copies."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from initlab import formulas, stats, torch_formulas, verify
from initlab.errors import UsageError
from initlab.keras_backend import to_numpy

porting = pytest.importorskip("initlab.porting")
keras = porting.keras

# Every distribution test below shares one family-wise false-alarm rate.
CHECKS = 60
ALPHA = stats.FAMILY_ALPHA / CHECKS
N = verify.default_samples(ALPHA)


def _draw_keras(init, shape, n=N):
    count = math.ceil(n / math.prod(shape))
    cls, cfg = type(init), init.get_config()
    out = []
    for j in range(count):
        out.append(to_numpy(cls(**{**cfg, "seed": verify.draw_seed(1, 0, j)})(shape)).ravel())
    return np.concatenate(out)


def _draw_torch(fn, shape, n=N, **kwargs):
    count = math.ceil(n / math.prod(shape))
    out = []
    for j in range(count):
        w = torch.empty(shape)
        fn(w, generator=torch.Generator().manual_seed(verify.draw_seed(2, 0, j)), **kwargs)
        out.append(w.numpy().ravel())
    return np.concatenate(out)


def _passes(x, ref):
    checks = stats.distribution_checks(x, ref, ALPHA)
    return all(c.passed for c in checks), [c for c in checks if not c.passed]


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize("shape, kind", [((256, 512), "dense"), ((5, 16, 8), "conv"), ((3, 3, 16, 32), "conv"),
                                         ((3, 3, 3, 4, 8), "conv"), ((3, 3, 8, 2), "depthwise")])
def test_kernel_layout_round_trip(shape, kind):
    k = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    t = porting.kernel_to_torch(k, kind)
    assert t.shape == porting.kernel_shape_to_torch(shape, kind)
    assert np.array_equal(porting.kernel_to_keras(t, kind, multiplier=shape[-1] if kind == "depthwise" else 1), k)


def test_depthwise_channel_order():
    k = np.random.default_rng(0).standard_normal((3, 3, 8, 2)).astype(np.float32)
    t = porting.kernel_to_torch(k, "depthwise")
    for c in range(8):
        for m in range(2):
            assert np.array_equal(t[c * 2 + m, 0], k[:, :, c, m])


def test_layout_errors():
    with pytest.raises(UsageError, match="unknown weight kind 'lstm'"):
        porting.kernel_to_torch(np.zeros((2, 2)), "lstm")
    with pytest.raises(UsageError, match=r"depthwise weight is \(channels \* multiplier, 1, \*kernel\)"):
        porting.kernel_to_keras(np.zeros((8, 2, 3, 3)), "depthwise")


# ---------------------------------------------------------------- Keras initializers for PyTorch defaults


@pytest.mark.parametrize("init, shape, ref", [
    (porting.TorchDefaultKernel(), (256, 512), torch_formulas.default_weight((512, 256))),
    (porting.TorchDefaultKernel(), (3, 3, 64, 128), torch_formulas.default_weight((128, 64, 3, 3))),
    (porting.TorchDefaultKernel(depthwise=True), (3, 3, 64, 1), torch_formulas.default_weight((64, 1, 3, 3))),
    (porting.TorchDefaultBias(576), (128,), torch_formulas.default_bias(576)),
    (porting.TorchEmbedding(), (1000, 64), torch_formulas.embedding()),
    (porting.TorchRNN(64), (32, 256), torch_formulas.rnn(64)),
])
def test_torch_default_initializers_match_the_formula(init, shape, ref):
    ok, failed = _passes(_draw_keras(init, shape), ref)
    assert ok, failed


def test_torch_default_kernel_bound_is_one_over_sqrt_fan_in():
    assert porting.TorchDefaultKernel().reference((256, 512)).high == pytest.approx(1 / 16)
    assert porting.TorchDefaultKernel(depthwise=True).reference((3, 3, 64, 1)).high == pytest.approx(1 / 3)
    assert porting.torch_fan_in_of_keras_kernel((3, 3, 64, 128)) == 576


def test_rnn_bias_is_the_sum_of_two_uniforms():
    h = 64
    x = _draw_keras(porting.TorchRNNBias(h), (4 * h,)).astype(np.float64)
    var, bound = torch_formulas.rnn_effective_bias(h)
    assert np.abs(x).max() <= bound * (1 + 4 * stats.FLOAT32_EPS)
    # Triangular on [-2s, 2s]: Pearson kurtosis 2.4.
    z = (x.var(ddof=1) / var - 1) / math.sqrt((2.4 - 1) / x.size)
    assert abs(z) < stats.z_two_sided(ALPHA)
    tri = sps.triang(0.5, loc=-bound, scale=2 * bound)
    assert sps.kstest(x, tri.cdf).pvalue >= ALPHA


def test_initializers_serialize_and_round_trip(tmp_path):
    for init in (porting.TorchDefaultKernel(depthwise=True, seed=3), porting.TorchDefaultBias(256, seed=4),
                 porting.TorchEmbedding(seed=5), porting.TorchRNN(32, seed=6), porting.TorchRNNBias(32)):
        config = keras.initializers.serialize(init)
        assert config["registered_name"] == f"initlab>{type(init).__name__}"
        back = keras.initializers.deserialize(config)
        assert type(back) is type(init) and back.get_config() == init.get_config()
    # A saved model loads with its initializers and weights.
    model = keras.Sequential([keras.Input((256,)), porting.torch_like_dense(512, 256, seed=0)])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.layers[0]
    assert isinstance(layer.kernel_initializer, porting.TorchDefaultKernel)
    assert layer.bias_initializer.get_config() == {"fan_in": 256, "seed": 1}
    for a, b in zip(model.weights, loaded.weights, strict=True):
        assert np.array_equal(to_numpy(a), to_numpy(b))
    kernel = to_numpy(model.weights[0])
    assert np.abs(kernel).max() <= 1 / 16 and np.abs(to_numpy(model.weights[1])).max() <= 1 / 16


def test_initializer_seeds_follow_keras():
    a = to_numpy(porting.TorchDefaultKernel(seed=1)((16, 16)))
    assert np.array_equal(a, to_numpy(porting.TorchDefaultKernel(seed=1)((16, 16))))
    assert not np.array_equal(a, to_numpy(porting.TorchDefaultKernel(seed=2)((16, 16))))
    with pytest.raises(UsageError, match="seed must be an integer or None; received 'x'"):
        porting.TorchDefaultKernel(seed="x")
    with pytest.raises(UsageError, match="fan_in must be a positive integer; received 0"):
        porting.TorchDefaultBias(0)


# ---------------------------------------------------------------- PyTorch functions for Keras initializers

_RANDOM = ["HeNormal", "HeUniform", "GlorotNormal", "GlorotUniform", "LecunNormal", "LecunUniform",
           "RandomNormal", "RandomUniform", "TruncatedNormal"]


@pytest.mark.parametrize("name", _RANDOM)
def test_keras_init_in_torch_matches_the_keras_formula(name):
    torch_shape = (128, 64, 3, 3)
    x = _draw_torch(lambda w, generator: porting.keras_init_(w, name, generator=generator), torch_shape)
    ok, failed = _passes(x, formulas.reference(name, None, (3, 3, 64, 128)))
    assert ok, failed


def test_named_torch_helpers_and_depthwise():
    x = _draw_torch(porting.he_normal_, (64, 1, 3, 3), kind="depthwise")
    ref = formulas.reference("HeNormal", None, (3, 3, 64, 1))
    assert ref.var == pytest.approx(2 / (9 * 64))
    ok, failed = _passes(x, ref)
    assert ok, failed
    y = _draw_torch(porting.keras_truncated_normal_, (512, 256), stddev=0.05)
    ok, failed = _passes(y, formulas.reference("TruncatedNormal", None, (256, 512)))
    assert ok, failed


def test_keras_init_deterministic_and_orthogonal():
    w = torch.empty(96, 32)
    porting.keras_init_(w, "Identity", {"gain": 0.5})
    assert np.array_equal(porting.kernel_to_keras(w.numpy()), 0.5 * np.eye(32, 96, dtype=np.float32))
    porting.keras_init_(w, "Constant", {"value": -1.25})
    assert np.all(w.numpy() == np.float32(-1.25))
    conv = torch.empty(32, 16, 3, 3)
    porting.keras_init_(conv, "Orthogonal", {"gain": 2.0}, generator=torch.Generator().manual_seed(0))
    kernel = porting.kernel_to_keras(conv.numpy())
    check = stats.orthogonality_check(kernel, 2.0, formulas.orthogonal_flat_shape(kernel.shape))
    assert check.passed, check
    with pytest.raises(UsageError, match="Identity is documented for 2-D shapes only"):
        porting.keras_init_(torch.empty(4, 4, 3, 3), "Identity")


def test_reset_like_keras():
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.Conv2d(64, 64, 3, groups=64))
    porting.reset_like_keras(model, generator=torch.Generator().manual_seed(0))
    w = model[0].weight.detach().numpy()
    assert np.abs(w).max() <= formulas.reference("GlorotUniform", None, (256, 512)).high
    assert not model[0].bias.detach().numpy().any() and not model[1].bias.detach().numpy().any()
    dw_bound = formulas.reference("GlorotUniform", None, (3, 3, 64, 1)).high
    assert np.abs(model[1].weight.detach().numpy()).max() <= dw_bound
    assert dw_bound == pytest.approx(math.sqrt(6 / (9 * 64 + 9)))


# ---------------------------------------------------------------- weight copies


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_dense_copies_give_bit_identical_outputs():
    dense = keras.layers.Dense(512)
    dense.build((None, 256))
    dense.bias.assign(_x(512, 1))
    linear = torch.nn.Linear(256, 512)
    porting.copy_keras_to_torch(dense, linear)
    x = _x((32, 256), 2)
    y_keras = to_numpy(dense(x))
    y_torch = linear(torch.from_numpy(x)).detach().numpy()
    assert np.array_equal(y_keras, y_torch)
    # And back: a PyTorch-initialized Linear into a fresh Dense.
    torch.manual_seed(3)
    linear2 = torch.nn.Linear(256, 512)
    dense2 = keras.layers.Dense(512)
    dense2.build((None, 256))
    porting.copy_torch_to_keras(linear2, dense2)
    assert np.array_equal(to_numpy(dense2(x)), linear2(torch.from_numpy(x)).detach().numpy())


@pytest.mark.parametrize("depthwise", [False, True])
def test_conv_copies_give_identical_weights_and_outputs_within_float32_rounding(depthwise):
    if depthwise:
        layer = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
        module = torch.nn.Conv2d(16, 32, 3, groups=16)
        terms = 9
    else:
        layer = keras.layers.Conv2D(32, 3)
        module = torch.nn.Conv2d(16, 32, 3)
        terms = 9 * 16
    layer.build((None, 12, 12, 16))
    layer.weights[-1].assign(_x(32, 4))
    porting.copy_keras_to_torch(layer, module)
    kind = "depthwise" if depthwise else "conv"
    assert np.array_equal(module.weight.detach().numpy(), porting.kernel_to_torch(to_numpy(layer.weights[0]), kind))
    x = _x((2, 12, 12, 16), 5)
    y_keras = to_numpy(layer(x))
    y_torch = module(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).detach().numpy().transpose(0, 2, 3, 1)
    # Same weights, different summation orders: the difference is bounded by float32 rounding of each dot.
    k = np.abs(to_numpy(layer.weights[0])).astype(np.float64)
    per_output = k.reshape(9, -1) if depthwise else k.reshape(-1, k.shape[-1])  # the terms of one output
    bias = float(np.abs(to_numpy(layer.weights[1])).max())
    abs_dot = float(np.abs(x).max()) * float(per_output.sum(axis=0).max()) + bias
    assert np.max(np.abs(y_keras - y_torch)) <= porting.float32_dot_bound(abs_dot, terms)
    # Round trip back into a fresh Keras layer: bit-identical kernel.
    fresh = keras.layers.DepthwiseConv2D(3, depth_multiplier=2) if depthwise else keras.layers.Conv2D(32, 3)
    fresh.build((None, 12, 12, 16))
    porting.copy_torch_to_keras(module, fresh)
    for a, b in zip(layer.weights, fresh.weights, strict=True):
        assert np.array_equal(to_numpy(a), to_numpy(b))


def test_embedding_and_lstm_copies():
    emb = keras.layers.Embedding(100, 8)
    emb.build((None,))
    temb = torch.nn.Embedding(100, 8)
    porting.copy_keras_to_torch(emb, temb)
    ids = np.array([[1, 5, 99]])
    assert np.array_equal(to_numpy(emb(ids)), temb(torch.from_numpy(ids)).detach().numpy())
    lstm = keras.layers.LSTM(16)
    lstm.build((None, 5, 8))
    tlstm = torch.nn.LSTM(8, 16, batch_first=True)
    porting.copy_keras_to_torch(lstm, tlstm)
    back = keras.layers.LSTM(16)
    back.build((None, 5, 8))
    porting.copy_torch_to_keras(tlstm, back)
    for a, b in zip(lstm.weights, back.weights, strict=True):
        assert np.array_equal(to_numpy(a), to_numpy(b))
    assert np.array_equal(tlstm.weight_ih_l0.detach().numpy(), to_numpy(lstm.weights[0]).T)


def test_copy_errors():
    dense = keras.layers.Dense(4)
    with pytest.raises(UsageError, match="not built"):
        porting.copy_keras_to_torch(dense, torch.nn.Linear(3, 4))
    dense.build((None, 3))
    with pytest.raises(UsageError, match="cannot copy Dense: the Keras kernel"):
        porting.copy_keras_to_torch(dense, torch.nn.Linear(5, 4))
    with pytest.raises(UsageError, match="no copy rule for Keras Dense <-> PyTorch Conv2d"):
        porting.copy_keras_to_torch(dense, torch.nn.Conv2d(3, 4, 1))
    with pytest.raises(UsageError, match="one side has a bias"):
        porting.copy_keras_to_torch(dense, torch.nn.Linear(3, 4, bias=False))
    conv = keras.layers.DepthwiseConv2D(3)
    conv.build((None, 8, 8, 4))
    with pytest.raises(UsageError, match="groups equals in_channels; received groups=1"):
        porting.copy_keras_to_torch(conv, torch.nn.Conv2d(4, 4, 3))
