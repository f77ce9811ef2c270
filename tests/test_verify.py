"""Section 1 end to end: the real Keras passes, deliberately wrong initializers fail
on the statistic that names their error, and the CLI says what it received."""

import json
import math
import subprocess
import sys

import keras
import numpy as np
import pytest

from initlab import formulas, verify
from initlab.cli import main
from initlab.keras_backend import to_numpy
from initlab.layouts import compute_fans

ALPHA = verify.alpha_per_check(verify.plan())  # the level of a default run
N = verify.default_samples(ALPHA)
CORRECTION = formulas.TRUNCATION_CORRECTION


@pytest.fixture(scope="module")
def default_runs():
    return {seed: verify.run_verify(seed=seed, backend="tensorflow") for seed in (0, 1)}


def test_real_keras_passes_default_run(default_runs):
    for seed, result in default_runs.items():
        assert not result.failed, f"seed {seed}: {[(r.initializer, r.shape, r.statistic) for r in result.failed]}"
        assert result.meta["family_alpha"] == 1e-3
        assert {r.initializer for r in result.records} == set(formulas.SPECS)


def test_default_run_covers_every_statistic_and_shape(default_runs):
    records = default_runs[0].records
    stats_seen = {r.statistic for r in records}
    assert {"mean", "variance", "support", "reach", "shape (KS)", "values", "seed reproducible",
            "seed independence", "orthogonality (rows)", "orthogonality (columns)"} <= stats_seen
    ranks = {len(r.shape) for r in records if r.initializer == "HeNormal"}
    assert ranks == {1, 2, 3, 4, 5}
    vs_configs = {r.config for r in records if r.initializer == "VarianceScaling"}
    assert len(vs_configs) >= 13  # defaults + 12 mode x distribution + axes


# Deliberately wrong initializers, written as real Keras initializers.


class _Wrong(keras.initializers.Initializer):
    def __init__(self, seed=None):
        self.seed = seed

    def fan_in(self, shape):
        return compute_fans(shape)[0]


class HeNormalStdOnePercentHigh(_Wrong):
    def __call__(self, shape, dtype=None):
        std = math.sqrt(2 / self.fan_in(shape)) / CORRECTION * 1.01
        return keras.random.truncated_normal(shape, stddev=std, seed=self.seed, dtype=dtype)


class HeUniformWithFanAvg(_Wrong):
    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6 / ((fan_in + fan_out) / 2))
        return keras.random.uniform(shape, -limit, limit, seed=self.seed, dtype=dtype)


class HeNormalWithoutCorrection(_Wrong):
    def __call__(self, shape, dtype=None):
        std = math.sqrt(2 / self.fan_in(shape))
        return keras.random.truncated_normal(shape, stddev=std, seed=self.seed, dtype=dtype)


class HeNormalUntruncated(_Wrong):
    """Same variance as HeNormal, no truncation: PyTorch's kaiming_normal_."""

    def __call__(self, shape, dtype=None):
        std = math.sqrt(2 / self.fan_in(shape))
        return keras.random.normal(shape, stddev=std, seed=self.seed, dtype=dtype)


class HeNormalTruncatedAtWrongBound(_Wrong):
    """Variance-matched, but re-drawn beyond `sigmas` instead of 2 standard deviations."""

    sigmas = 2.5

    def __call__(self, shape, dtype=None):
        from scipy import stats as sps

        c = sps.truncnorm(-self.sigmas, self.sigmas).std()
        std = math.sqrt(2 / self.fan_in(shape)) / c
        rng = np.random.default_rng(self.seed)
        x = sps.truncnorm(-self.sigmas, self.sigmas, scale=std).rvs(size=shape, random_state=rng)
        return keras.ops.convert_to_tensor(x.astype("float32"))


class HeNormalTruncatedOnePercentShort(HeNormalTruncatedAtWrongBound):
    sigmas = 2.0 * 0.99


class RandomNormalMeanShifted(_Wrong):
    def __call__(self, shape, dtype=None):
        return keras.random.normal(shape, mean=0.02 * 0.05, stddev=0.05, seed=self.seed, dtype=dtype)


class RandomUniformBoundShort(_Wrong):
    def __call__(self, shape, dtype=None):
        return keras.random.uniform(shape, -0.05 * 0.99, 0.05 * 0.99, seed=self.seed, dtype=dtype)


class NotOrthogonal(_Wrong):
    def __call__(self, shape, dtype=None):
        return keras.random.normal(shape, stddev=1 / math.sqrt(max(shape)), seed=self.seed, dtype=dtype)


class OrthogonalGainIgnored(_Wrong):
    def __call__(self, shape, dtype=None):
        return keras.initializers.Orthogonal(gain=1.0, seed=self.seed)(shape, dtype=dtype)


WRONG = [
    # (claimed initializer, its config, wrong implementation, shape, statistics that must fail)
    ("HeNormal", None, HeNormalStdOnePercentHigh, (256, 1024), {"variance"}),
    ("HeUniform", None, HeUniformWithFanAvg, (256, 1024), {"variance", "reach"}),
    ("HeNormal", None, HeNormalWithoutCorrection, (3, 3, 32, 128), {"variance", "reach"}),
    ("HeNormal", None, HeNormalUntruncated, (256, 1024), {"support", "shape (KS)"}),
    ("HeNormal", None, HeNormalTruncatedAtWrongBound, (256, 1024), {"support"}),
    ("HeNormal", None, HeNormalTruncatedOnePercentShort, (256, 1024), {"reach"}),
    ("RandomNormal", None, RandomNormalMeanShifted, (256, 1024), {"mean"}),
    ("RandomUniform", None, RandomUniformBoundShort, (256, 1024), {"reach"}),
    ("Orthogonal", None, NotOrthogonal, (256, 64), {"orthogonality (columns)"}),
    ("Orthogonal", {"gain": 2.5}, OrthogonalGainIgnored, (64, 256), {"orthogonality (rows)"}),
]


@pytest.mark.parametrize("claimed, config, wrong, shape, must_fail", WRONG, ids=[w[2].__name__ for w in WRONG])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wrong_initializer_fails_on_the_right_statistic(claimed, config, wrong, shape, must_fail, seed):
    seeds = lambda j: verify.draw_seed(seed, 0, j)  # noqa: E731
    checks = verify.check_draws(claimed, config, shape, lambda s: to_numpy(wrong(seed=s)(shape)), N, ALPHA, seeds)
    failed = {c.statistic for c in checks if not c.passed}
    assert must_fail <= failed, f"seed {seed}: expected {must_fail} to fail, failed: {failed}"
    # The control: the real Keras initializer passes the same checks at the same seeds.
    real = lambda s: to_numpy(keras.initializers.get({"class_name": claimed, "config": {**(config or {}), "seed": s}})(shape))  # noqa: E731
    assert all(c.passed for c in verify.check_draws(claimed, config, shape, real, N, ALPHA, seeds))


def test_seeding_semantics():
    a = keras.initializers.HeNormal(seed=7)((64, 64))
    b = keras.initializers.HeNormal(seed=7)((64, 64))
    c = keras.initializers.HeNormal(seed=8)((64, 64))
    assert np.array_equal(to_numpy(a), to_numpy(b))
    assert not np.array_equal(to_numpy(a), to_numpy(c))
    # Documented: an int-seeded initializer returns the same values on every call.
    init = keras.initializers.HeNormal(seed=7)
    assert np.array_equal(to_numpy(init((64, 64))), to_numpy(init((64, 64))))


# Framework quirks, pinned so that an upgrade that changes one fails and names it.


def test_keras_quirk_normal_means_truncated():
    assert keras.initializers.VarianceScaling(distribution="normal").get_config()["distribution"] == "truncated_normal"


def test_keras_quirk_input_axes_alone_are_ignored():
    x = to_numpy(keras.initializers.VarianceScaling(distribution="uniform", input_axes=[0], seed=1)((3, 3, 32, 128)))
    assert np.abs(x).max() <= math.sqrt(3 / 288)  # fan_in 288 from the default rule, not 3 from the axes


def test_keras_quirk_stft_ignores_input_channels_and_one_bin_is_nan():
    assert tuple(keras.initializers.STFT()((16, 2, 9)).shape) == (16, 1, 9)
    assert np.isnan(to_numpy(keras.initializers.STFT()((16, 1, 1)))).all()


def test_keras_identity_rejects_non_2d():
    with pytest.raises(ValueError, match="2D"):
        keras.initializers.Identity()((2, 2, 2))


def _cli_json(tmp_path, backend, *names):
    out = tmp_path / f"{backend}.json"
    args = [sys.executable, "-m", "initlab", "verify", "--backend", backend, "--json", str(out), "-q", "--no-progress"]
    for name in names:
        args += ["-i", name]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return proc.returncode, json.loads(out.read_text()), proc


def test_jax_backend_passes_default_run(tmp_path):
    code, payload, proc = _cli_json(tmp_path, "jax")
    assert payload["meta"]["backend"] == "jax"
    assert code == 0, [r for r in payload["records"] if r["verdict"] != "pass"]


def test_torch_backend_breaks_truncation_and_nothing_else(tmp_path):
    # Keras's torch backend draws 4 normals per entry and keeps the first inside +-2
    # sigma; when none is (probability 0.0455^4 = 4.3e-6) it keeps an untruncated
    # value. verify finds those entries; everything else passes.
    code, payload, proc = _cli_json(tmp_path, "torch")
    assert payload["meta"]["backend"] == "torch"
    failed = [r for r in payload["records"] if r["verdict"] != "pass"]
    assert code == 1 and failed
    truncated = {"TruncatedNormal", "HeNormal", "GlorotNormal", "LecunNormal", "VarianceScaling"}
    assert {r["statistic"] for r in failed} == {"support"}
    assert {r["initializer"] for r in failed} <= truncated


def test_cli_json_and_exit_codes(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert main(["verify", "-i", "ZEROS", "-i", "identity", "--json", str(out), "--no-progress"]) == 0
    payload = json.loads(out.read_text())
    assert {r["initializer"] for r in payload["records"]} == {"Zeros", "Identity"}
    assert all(set(r) >= {"initializer", "config", "shape", "statistic", "expected", "observed", "verdict"}
               for r in payload["records"])
    assert "Identity" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["verify", "-i", "glorot_unifrm"], "unknown initializer 'glorot_unifrm'; did you mean glorot_uniform"),
        (["verify", "-n", "0"], "expected a positive integer; received '0'"),
        (["verify", "-n", "-5"], "expected a positive integer; received '-5'"),
        (["verify", "-n", "2.5"], "expected a positive integer; received '2.5'"),
        (["verify", "-n", "10000000000000"], "more than half of the"),
        (["verify", "--seed", "x"], "expected a non-negative integer"),
        (["verify", "--json", "/proc/nope/out.json"], "cannot write JSON file"),
    ],
)
def test_cli_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_help_lists_verify(capsys):
    assert main(["--help"]) == 0
    assert "verify" in capsys.readouterr().out
