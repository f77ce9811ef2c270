"""initlab parity: verdicts for known pairs, power statements, a planted mismatch, figures, bad input, quirks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from initlab import formulas, jax_formulas, parity, stats, torch_formulas, verify
from initlab.cli import main
from initlab.distributions import Reference
from initlab.errors import UsageError

PAIRS = ["kaiming_normal_", "torch-default-linear", "xavier_uniform_", "jax.uniform", "trunc_normal_", "eye_",
         "orthogonal_", "jax.variance_scaling(normal)"]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("parity")
    return parity.run_parity(PAIRS, out_dir=out, seed=0, layers=["dense", "depthwise"])


def _get(result, pair, layer="dense"):
    (c,) = [c for c in result.comparisons if c.pair == pair and c.layer == layer]
    return c


def test_known_pairs_pass(result):
    assert result.failed == [], [c.verdict for c in result.failed]


def test_kaiming_normal_is_same_variance_different_shape_and_10k_cannot_tell(result):
    c = _get(result, "kaiming_normal_")
    assert c.predicted.verdict == c.observed == parity.SAME_VAR
    assert c.predicted.variance_ratio == pytest.approx(1.0, rel=1e-12)
    assert c.predicted.ks_distance == pytest.approx(0.0167, abs=5e-4)
    assert c.two_sample_can_tell is False
    # The 10k two-sample KS is not the one that sees it; the cross tests at large n are.
    assert "cannot tell" in c.verdict and "bounded" in c.verdict
    assert not all(x.passed for x in c.checks_cross if x.statistic.startswith("cross KS"))
    assert c.large_n >= verify.default_samples(result.meta["alpha_per_check"])


def test_kaiming_normal_on_depthwise_differs_by_the_channel_count(result):
    c = _get(result, "kaiming_normal_", "depthwise")
    assert c.observed == parity.DIFF_VAR
    # Keras fan_in = 3*3*64, PyTorch's (groups=64) fan_in = 3*3: variance 64x larger in PyTorch.
    assert c.predicted.variance_ratio == pytest.approx(64.0, rel=1e-12)
    assert "depthwise_fans" in c.verdict


def test_torch_default_linear_has_half_glorot_variance(result):
    c = _get(result, "torch-default-linear")
    fan_in, fan_out = 256, 512
    expected = (1 / (3 * fan_in)) / (2 / (fan_in + fan_out))
    assert c.observed == parity.DIFF_VAR
    assert c.predicted.variance_ratio == pytest.approx(expected, rel=1e-12) == 0.5
    assert c.two_sample_can_tell is True
    assert "torch_default" in c.verdict
    assert any(x.statistic == "constructor replay" and x.passed for x in c.checks_other)


def test_xavier_uniform_is_the_same_distribution(result):
    c = _get(result, "xavier_uniform_")
    assert c.predicted.verdict == c.observed == parity.SAME
    assert all(x.passed for x in c.checks_cross + c.checks_two_sample)


def test_jax_uniform_is_one_sided(result):
    c = _get(result, "jax.uniform")
    assert c.observed == parity.DIFF_VAR
    assert c.predicted.variance_ratio == pytest.approx(0.25)
    assert c.predicted.mean_shift > 0
    assert "jax_uniform_one_sided" in c.verdict


def test_trunc_normal_default_bounds_are_absolute(result):
    c = _get(result, "trunc_normal_")
    assert c.observed == parity.DIFF_VAR
    assert c.predicted.variance_ratio == pytest.approx(1 / Reference.truncated_normal(0, 1, -2, 2).var)


def test_exact_and_orthogonal_pairs(result):
    assert _get(result, "eye_").observed == parity.IDENTICAL
    ortho = _get(result, "orthogonal_")
    assert ortho.observed == parity.SAME
    assert all(x.passed for x in ortho.checks_keras + ortho.checks_other)


def test_jax_normal_distribution_is_untruncated(result):
    c = _get(result, "jax.variance_scaling(normal)")
    assert c.observed == parity.SAME_VAR
    assert c.other_reference["family"] == "normal" and c.keras_reference["family"] == "truncated_normal"


def test_figures_and_samples_are_written(result):
    figures = result.figures
    random_pairs = [c for c in result.comparisons if c.samples_file]
    assert len(figures) == len(random_pairs) >= 8
    for path in figures:
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    data = np.load(random_pairs[0].samples_file)
    assert data["keras"].shape == data["other"].shape == (10_000,)


def test_result_is_standard_json(result):
    text = json.dumps(result.to_dict(), allow_nan=False)
    back = json.loads(text)
    bias = [c for c in back["comparisons"] if c["pair"] == "eye_"]
    assert bias and back["meta"]["two_sample_n"] == 10_000


def test_planted_mismatch_is_flagged(monkeypatch):
    """kaiming_uniform_ replaced by PyTorch's default-layer draw (a=sqrt(5)): a third of the variance."""
    import torch

    def wrong_sampler(side):
        def draw(seed):
            w = torch.empty(side.shape)
            torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=torch.Generator().manual_seed(seed))
            return w.numpy()

        return draw

    monkeypatch.setattr(parity, "torch_sampler", wrong_sampler)
    res = parity.run_parity(["kaiming_uniform_"], layers=["dense"], large_samples=100_000)
    (c,) = res.comparisons
    assert c.status == "FAIL" and c.verdict.startswith("MISMATCH")
    assert not any(x.passed for x in c.checks_other if x.statistic == "variance")
    assert main(["parity", "--pair", "kaiming_uniform_", "--layer", "dense", "--large-samples", "100000",
                 "--no-progress", "--quiet"]) == 1


def test_power_statement_matches_the_issue():
    alpha = 1e-3 / 500
    gap = parity._normal_vs_truncated()
    assert gap == pytest.approx(0.0167, abs=5e-4)
    assert parity.ks2_detectable(alpha, 10_000, 10_000) > gap  # 10k per side cannot see it
    assert stats.ks_detectable(alpha, verify.default_samples(alpha)) < gap  # the one-sample n can


def test_variance_ratio_interval_keeps_its_level_for_uniforms():
    """Kurtosis-adjusted F: about alpha false alarms for two uniform samples (a plain F would be conservative,
    Levene reacts to shape). 400 trials at alpha 0.05: rejections within a binomial 1e-4 band."""
    rng = np.random.default_rng(0)
    k = Reference.uniform(-1, 1).kurtosis
    rejections = 0
    for _ in range(400):
        a, b = rng.uniform(-1, 1, 2000), rng.uniform(-1, 1, 2000)
        check, _, _ = parity.variance_ratio_test(a, b, k, k, 0.05, "t")
        rejections += not check.passed
    lo, hi = sps.binom.ppf([5e-5, 1 - 5e-5], 400, 0.05)
    assert lo <= rejections <= hi


def test_layer_shapes_follow_the_layout_rules():
    from initlab import porting

    for layer in parity.LAYERS.values():
        if layer.kind in ("dense", "conv", "depthwise"):
            assert porting.kernel_shape_to_torch(layer.keras, layer.kind) == layer.torch
    rng = np.random.default_rng(1)
    dw = parity.LAYERS["depthwise"]
    k = rng.standard_normal(dw.keras).astype(np.float32)
    assert np.array_equal(parity.to_keras_layout(porting.kernel_to_torch(k, "depthwise"), "torch", dw), k)
    # Flax's depthwise kernel (3, 3, 1, C*M) as Keras's (3, 3, C, M): output channel c*M + m.
    flax = k.reshape(3, 3, 1, 64)
    assert np.array_equal(parity.to_keras_layout(flax, "jax", dw), k)
    # Fans: PyTorch and Flax agree on depthwise, Keras does not.
    assert torch_formulas.fans(dw.torch) == (9, 576)
    assert jax_formulas.compute_fans(dw.jax) == (9, 576)
    assert formulas.compute_fans(dw.keras) == (576, 9)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pair", "kaiming_normal"], r"unknown pair 'kaiming_normal'; did you mean kaiming_normal_"),
        (["--pair", "orthogonal_", "--shape", "64"], r"Keras's Orthogonal needs .* PyTorch's orthogonal_ needs"),
        (["--pair", "eye_", "--shape", "3x3x4x4"], r"Keras's Identity supports 2-D .* PyTorch's eye_ supports 2-D"),
        (["--pair", "jax.orthogonal", "--shape", "64"], r"JAX's orthogonal needs a shape of at least 2"),
        (["--shape", "64"], r"--shape needs --pair"),
        (["--pair", "kaiming_normal_", "--shape", "12"], r"PyTorch's kaiming_normal_ computes fans"),
        (["--pair", "jax.he_normal", "--shape", "12"], r"JAX's variance_scaling cannot compute fans"),
    ],
)
def test_bad_input_is_a_clear_usage_error(argv, message, capsys):
    assert main(["parity", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_library_errors_name_the_rule():
    with pytest.raises(UsageError, match=r"unknown pair 'nope'"):
        parity.run_parity(["nope"])
    with pytest.raises(UsageError, match=r"no \(pair, layer\) combination"):
        parity.plan_pairs(["eye_"], ["conv"])
    with pytest.raises(UsageError, match=r"at least the two-sample count"):
        parity.run_parity(["xavier_uniform_"], layers=["dense"], samples=10_000, large_samples=5_000)


def test_list_and_help(capsys):
    assert main(["parity", "--list"]) == 0
    out = capsys.readouterr().out
    assert "torch-default-linear" in out and "jax.uniform" in out
    assert main(["parity", "--help"]) == 0
    assert "cannot tell" in capsys.readouterr().out


def test_cli_json_and_figures(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["parity", "--pair", "xavier_normal_", "--layer", "dense", "--json", str(tmp_path / "p.json"),
                 "--out", str(out), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "Same variance, different shape" in text and "truncation" in text
    payload = json.loads((tmp_path / "p.json").read_text())
    assert payload["comparisons"][0]["observed"] == parity.SAME_VAR
    assert (out / "parity.json").exists() and len(list((out / "figures").glob("*.png"))) == 1


# ---------------------------------------------------------------- framework quirks, pinned


def test_quirk_torch_default_linear_bound_is_one_over_sqrt_fan_in():
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Linear(256, 512)
    bound = 1 / math.sqrt(256)
    assert torch_formulas.default_weight((512, 256)).high == pytest.approx(bound, rel=1e-15)
    w = layer.weight.detach().numpy()
    # 131072 draws from U(-b, b): the max is within b (1 - 1e-4) with probability 1 - e^-6.5.
    assert bound * (1 - 1e-4) < np.abs(w).max() <= bound
    assert np.abs(layer.bias.detach().numpy()).max() <= bound


def test_quirk_torch_constructor_is_the_replay():
    for name in ("dense", "conv", "depthwise", "embedding"):
        layer = parity.LAYERS[name]
        side = parity.Side("torch", "embedding" if name == "embedding" else "default_weight", {}, layer.torch,
                           layer, "weight")
        assert parity.constructor_replay_check(side, 7).passed, name


def test_quirk_torch_gains():
    import torch

    for nl in (*torch_formulas.FIXED_GAINS, "leaky_relu"):
        assert torch_formulas.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl), rel=1e-15)
    assert torch_formulas.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(UsageError, match="PyTorch has no gain for nonlinearity 'gelu'"):
        torch_formulas.calculate_gain("gelu")


def test_quirk_torch_trunc_normal_bounds_are_absolute():
    import torch

    w = torch.empty(200_000)
    torch.nn.init.trunc_normal_(w, std=0.05, generator=torch.Generator().manual_seed(0))
    # Relative bounds would stop at 0.1; P(max |x| < 0.1) for 200k N(0, 0.05^2) draws is ~0.
    assert float(w.abs().max()) > 0.1


def test_quirk_jax_uniform_one_sided_and_normal_untruncated():
    import jax

    x = np.asarray(jax.nn.initializers.uniform(0.05)(jax.random.key(0), (100_000,)))
    assert x.min() >= 0 and x.max() < 0.05
    init = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal")
    y = np.asarray(init(jax.random.key(1), (256, 512)))
    # Truncated at 2/0.8796 = 2.27 std would never exceed it; untruncated does with probability ~1.
    assert np.abs(y).max() > 2 / formulas.TRUNCATION_CORRECTION * math.sqrt(1 / 256)


def test_quirk_keras_unseeded_initializer_repeats_itself():
    from initlab import keras_backend

    keras_backend.use_backend(None)
    import keras

    init = keras.initializers.GlorotUniform()
    a, b = (keras_backend.to_numpy(init((8, 8))) for _ in range(2))
    assert np.array_equal(a, b)


def test_custom_shape_pairs():
    res = parity.run_parity(["xavier_uniform_", "jax.he_uniform"], shape=(3, 3, 16, 32), large_samples=60_000)
    assert [c.observed for c in res.comparisons] == [parity.SAME, parity.SAME]
    assert res.comparisons[0].other_shape == (32, 16, 3, 3) and res.comparisons[1].other_shape == (3, 3, 16, 32)
    with pytest.raises(UsageError, match="default layer init is compared at the named layers only"):
        parity.run_parity(["torch-default-linear"], shape=(16, 32), large_samples=20_000)
