"""Section 1 end to end: the real Keras passes, deliberately wrong initializers fail
on the statistic that names their error, and the CLI says what it received."""

import json
import math
import subprocess
import sys

import keras
import numpy as np
import pytest

from initlab import formulas, mutants, verify
from initlab.cli import main
from initlab.keras_backend import to_numpy

ALPHA = verify.alpha_per_check(verify.plan())  # the level of a default run
N = verify.default_samples(ALPHA)


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


# Deliberately wrong initializers (initlab.mutants), each a real Keras initializer.


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=[m.cls.__name__ for m in mutants.MUTANTS])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wrong_initializer_fails_on_the_right_statistic(mutant, seed):
    seeds = lambda j: verify.draw_seed(seed, 0, j)  # noqa: E731
    shape = mutant.shape
    checks = verify.check_draws(
        mutant.claims, mutant.config, shape, lambda s: to_numpy(mutant.cls(seed=s)(shape)), N, ALPHA, seeds
    )
    failed = {c.statistic for c in checks if not c.passed}
    assert mutant.must_fail <= failed, f"seed {seed}: expected {set(mutant.must_fail)} to fail, failed: {failed}"
    # The control: the real Keras initializer passes the same checks at the same seeds.
    config = {**(mutant.config or {})}
    real = lambda s: to_numpy(keras.initializers.get({"class_name": mutant.claims, "config": {**config, "seed": s}})(shape))  # noqa: E731
    assert all(c.passed for c in verify.check_draws(mutant.claims, mutant.config, shape, real, N, ALPHA, seeds))


def test_catch_mutants_reports_every_mutant_caught():
    rows = mutants.catch_mutants(seed=5)
    assert len(rows) == len(mutants.MUTANTS)
    assert all(row["caught"] == "caught" for row in rows), rows


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
        (["verify", "-i", "identity", "--shape", "3x3x4x4"], "Identity is documented for 2-D shapes only"),
        (["verify", "-i", "orthogonal", "--shape", "10"], "Orthogonal needs rank >= 2"),
        (["verify", "--shape", "3x0"], "positive integers; received (3, 0)"),
        (["verify", "--shape", "3xa"], "shape must be integers"),
        (["verify", "-i", "he_normal", "--shape", "2x2"], "would need 45,230 draws"),
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


def test_cli_user_shapes(tmp_path):
    out = tmp_path / "v.json"
    argv = ["verify", "-i", "he_uniform", "--shape", "3x3x64x128", "--shape", "512x100", "--json", str(out),
            "--no-progress", "-q"]
    assert main(argv) == 0
    records = json.loads(out.read_text())["records"]
    assert {tuple(r["shape"]) for r in records} == {(3, 3, 64, 128), (512, 100)}
    support = [r for r in records if r["statistic"] == "support" and r["shape"] == [512, 100]][0]
    limit = math.sqrt(6 / 512)
    assert support["expected"] == f"[{-limit:.6g}, {limit:.6g}]"


def test_cli_all_backends_compares_verdicts(tmp_path, capsys):
    out = tmp_path / "all.json"
    code = main(["verify", "--backend", "all", "-i", "glorot_uniform", "-i", "zeros", "--json", str(out)])
    payload = json.loads(out.read_text())
    assert code == 0 and set(payload["backends"]) == {"tensorflow", "jax", "torch"}
    assert all(p["meta"]["backend"] == b for b, p in payload["backends"].items())
    assert payload["differences"] == []
    assert "Every check has the same verdict on every backend." in capsys.readouterr().out


def test_differences_names_checks_whose_verdict_depends_on_the_backend():
    from initlab.backend_compare import differences

    def rec(verdict, observed):
        return {"initializer": "HeNormal", "config": "defaults", "shape": [4, 4], "statistic": "support",
                "expected": "[-1, 1]", "observed": observed, "verdict": verdict}

    results = {"tensorflow": {"records": [rec("pass", "[-0.9, 0.9]")]},
               "torch": {"records": [rec("FAIL", "[-1.2, 0.9]")]}}
    [diff] = differences(results)
    assert diff["verdict"] == {"tensorflow": "pass", "torch": "FAIL"}
    assert diff["observed"]["torch"] == "[-1.2, 0.9]"
    results["torch"]["records"][0]["verdict"] = "pass"
    assert differences(results) == []
