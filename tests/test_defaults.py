"""`initlab defaults`: Keras's defaults per layer, what actually happens, PyTorch beside, snapshots."""

from __future__ import annotations

import copy
import json

import pytest

from initlab import defaults
from initlab.cli import main
from initlab.errors import UsageError

pytest.importorskip("keras")
pytest.importorskip("torch")

SIZES = defaults.Sizes(features=32, units=64, kernel=3, heads=4, vocab=200, timesteps=4)


@pytest.fixture(scope="module")
def result():
    return defaults.run_defaults(SIZES)


def rows(result):
    return {(r.layer, r.weight): r for r in result.rows}


def test_every_layer_and_weight_is_reported_and_consistent(result):
    assert {r.layer for r in result.rows} == set(defaults.LAYERS)
    assert not result.problems, [(r.layer, r.weight, r.keras_note, r.torch_law) for r in result.problems]
    r = rows(result)
    # Keras 3's documented defaults, pinned: an upgrade that changes one fails here by name.
    assert r[("Dense", "kernel")].declared == "kernel_initializer = GlorotUniform"
    assert r[("LSTM", "recurrent_kernel")].declared == "recurrent_initializer = Orthogonal"
    assert r[("Embedding", "embeddings")].declared == "embeddings_initializer = RandomUniform"
    assert r[("DepthwiseConv2D", "depthwise_kernel")].declared == "depthwise_initializer = GlorotUniform"
    assert r[("BatchNormalization", "moving_variance")].keras_law == "1 everywhere"


@pytest.mark.parametrize("layer, weight", [("LSTM", "bias"), ("Bidirectional", "forward_lstm/bias"),
                                           ("Bidirectional", "backward_lstm/bias")])
def test_lstm_forget_bias_ones_are_shown(result, layer, weight):
    u = SIZES.units
    row = rows(result)[(layer, weight)]
    assert row.declared == "bias_initializer = Zeros"
    assert f"[{u}:{2 * u}] forget gate: 1 everywhere" in row.keras_law
    assert "unit_forget_bias=True" in row.keras_note
    assert row.keras_status == "consistent"
    # One quarter ones: mean 1/4, variance 1/4 - 1/16.
    assert row.keras_variance == pytest.approx(3 / 16)
    assert row.keras_observed_variance == pytest.approx(3 / 16)


def test_variance_ratios_follow_the_formulas(result):
    f, u, k = SIZES.features, SIZES.units, SIZES.kernel
    r = rows(result)
    # Dense: Glorot 2 / (f + u) against PyTorch's U(+-1/sqrt(f)), variance 1 / (3 f).
    assert float(r[("Dense", "kernel")].variance_ratio) == pytest.approx((2 / (f + u)) / (1 / (3 * f)), rel=1e-3)
    # Conv2DTranspose: Keras's kernel is (k, k, filters, in) and PyTorch's (in, out, k, k): both frameworks
    # take fan_in from the output channels.
    t = r[("Conv2DTranspose", "kernel")]
    assert t.keras_shape == f"{k}x{k}x{u}x{f}"
    assert float(t.variance_ratio) == pytest.approx((2 / (k * k * (f + u))) / (1 / (3 * k * k * u)), rel=1e-3)
    # Embedding: U(-0.05, 0.05) against N(0, 1).
    assert float(r[("Embedding", "embeddings")].variance_ratio) == pytest.approx(0.05**2 / 3, rel=1e-3)
    # LSTM bias against b_ih + b_hh, each U(+-1/sqrt(u)).
    assert r[("LSTM", "bias")].torch_variance == pytest.approx(2 / (3 * u))
    assert r[("BatchNormalization", "gamma")].variance_ratio == "both constant"


def test_multi_head_attention_kernels_use_einsum_axes(result):
    row = rows(result)[("MultiHeadAttention", "query/kernel")]
    assert "EinsumDense.build replaces unset input_axes/output_axes" in row.keras_note
    assert row.torch_param.endswith(f"in_proj_weight[0:{SIZES.units}]")


def test_snapshot_compare(result):
    snap = json.loads(json.dumps(result.to_dict()))
    assert defaults.compare(snap, result) == []
    old = copy.deepcopy(snap)
    old["meta"]["versions"]["keras"] = "3.0.0"
    row = next(r for r in old["rows"] if r["layer"] == "Embedding")
    row["declared"] = "embeddings_initializer = RandomNormal"
    old["rows"] = [r for r in old["rows"] if r["layer"] != "Dense"] + [{**row, "layer": "Gone"}]
    changes = defaults.compare(old, result)
    assert f"version keras: 3.0.0 -> {result.meta['versions']['keras']}" in changes
    assert ("Embedding embeddings declared: 'embeddings_initializer = RandomNormal' -> "
            "'embeddings_initializer = RandomUniform'") in changes
    assert "Dense kernel: new (kernel_initializer = GlorotUniform)" in changes
    assert any(c.startswith("Gone embeddings: removed") for c in changes)
    other = copy.deepcopy(snap)
    other["meta"]["sizes"]["units"] = 7
    with pytest.raises(UsageError, match="snapshot was made with sizes"):
        defaults.compare(other, result)
    with pytest.raises(UsageError, match="not an initlab defaults JSON"):
        defaults.compare({"x": 1}, result)


def test_markdown(result):
    md = result.to_markdown()
    assert "| layer | weight | declared (Keras attribute) |" in md
    assert md.count("\n| ") == len(result.rows) + 1  # the header and one line per weight


def test_sizes_are_checked():
    with pytest.raises(UsageError, match="multiple of heads"):
        defaults.Sizes(units=10, heads=4).check()
    with pytest.raises(UsageError, match="size kernel must be a positive integer"):
        defaults.Sizes(kernel=0).check()


def test_cli_save_and_compare(tmp_path):
    snap, md = tmp_path / "snap.json", tmp_path / "d.md"
    small = ["--features", "16", "--units", "32", "--vocab", "50"]
    assert main(["defaults", *small, "--save", str(snap), "--markdown", str(md)]) == 0
    data = json.loads(snap.read_text())
    assert data["meta"]["sizes"]["units"] == 32 and md.read_text().startswith("### Default initializers")
    next(r for r in data["rows"] if r["layer"] == "GRU")["keras_law"] = "something else"
    snap.write_text(json.dumps(data))
    assert main(["defaults", *small, "--compare", str(snap)]) == 1
    assert main(["defaults", "--compare", str(tmp_path / "none.json")]) == 2
    (tmp_path / "bad.json").write_text("{")
    assert main(["defaults", "--compare", str(tmp_path / "bad.json")]) == 2
