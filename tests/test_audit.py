"""`initlab audit`: declared initializers, actual values, policies, safe loading, PyTorch inference."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from initlab import audit, models
from initlab.cli import main
from initlab.errors import DataError, UsageError
from initlab.policy import load_policy, shipped_policy

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def block():
    return models.resnet_block_model(seed=1)


@pytest.fixture(scope="module")
def rnn():
    return models.orthogonal_rnn(timesteps=5, features=16, units=64, seed=2)


def by_path(result):
    return {(w.layer, w.role): w for w in result.weights}


def test_resnet_block_passes_its_policy(block):
    result = audit.audit_model(block, shipped_policy("resnet.toml"))
    assert not result.failed and not result.violations
    assert len(result.notes) == 2 and all("selected no weight" in n for n in result.notes)  # the Dense rules
    assert len(result.weights) == len(block.weights) == 15
    w = by_path(result)
    assert w[("block_conv1", "kernel")].declared_name == "HeNormal"
    assert w[("block_shortcut", "kernel")].declared_name == "GlorotUniform"
    assert w[("block_shortcut", "kernel")].policy["verdict"] == "ok"
    assert all(x.status == "consistent" for x in result.weights)


def test_small_resnet_passes_resnet_policy():
    model = models.small_resnet(widths=(8, 16), seed=3)
    result = audit.audit_model(model, shipped_policy("resnet.toml"))
    assert not result.failed, [v.message() for v in result.violations]
    assert result.meta["statistical_checks"] > 0
    assert result.meta["alpha_per_check"] == pytest.approx(1e-3 / result.meta["statistical_checks"])


def test_rnn_passes_its_policy_and_its_cell_is_found(rnn):
    result = audit.audit_model(rnn, shipped_policy("rnn.toml"))
    assert not result.failed
    w = by_path(result)
    rec = w[("orthogonal_rnn/orthogonal_cell", "recurrent_kernel")]
    assert rec.layer_type == "OrthogonalRNNCell" and rec.declared_name == "Orthogonal"
    assert rec.checks[0].statistic.startswith("orthogonality") and rec.checks[0].passed


def test_policy_violation_is_named():
    inputs = keras.Input((8, 8, 4))
    y = keras.layers.Conv2D(8, 3, padding="same", kernel_initializer="he_normal", name="b_conv1")(inputs)
    s = keras.layers.Conv2D(8, 1, kernel_initializer="he_normal", name="b_shortcut")(inputs)
    model = keras.Model(inputs, keras.layers.Add()([y, s]))
    result = audit.audit_model(model, shipped_policy("resnet.toml"))
    assert result.failed
    names = {(v.layer, v.role) for v in result.violations}
    # The conv biases are selected by no rule and the policy says unmatched = "violation".
    assert ("b_shortcut", "kernel") in names and ("b_conv1", "kernel") not in names
    v = next(v for v in result.violations if v.layer == "b_shortcut" and v.role == "kernel")
    assert v.intended == "GlorotUniform" and v.found == "declared HeNormal"
    assert v.rule.endswith("resnet.toml:12")  # the [[rule]] line of the shortcut exception
    assert any(v.rule == "unmatched" and v.role == "bias" for v in result.violations)


def test_set_weights_tampering_is_flagged():
    model = models.resnet_block_model(seed=4)
    layer = model.get_layer("block_conv2")
    rng = np.random.default_rng(0)
    (kernel,) = layer.get_weights()
    layer.set_weights([rng.permutation(kernel.ravel()).reshape(kernel.shape) * 1.5])
    result = audit.audit_model(model, shipped_policy("resnet.toml"))
    flagged = [(w.layer, w.role) for w in result.mismatched]
    assert flagged == [("block_conv2", "kernel")]
    w = result.mismatched[0]
    assert any(c.statistic == "variance" and not c.passed for c in w.checks)
    assert [v.layer for v in result.violations] == ["block_conv2"]
    assert "values inconsistent with the declared HeNormal" in result.violations[0].found


def test_wrappers_cells_nested_models_and_quirks():
    inputs = keras.Input((6, 12))
    x = keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True, name="l"), name="bi")(inputs)
    x = keras.layers.TimeDistributed(keras.layers.Dense(8, name="td_dense"), name="td")(x)
    x = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x)
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="inner_dense")], name="inner")
    x = keras.layers.TimeDistributed(inner, name="td2")(x)
    x = keras.layers.SeparableConv1D(4, 3, name="sep")(x)
    model = keras.Model(inputs, x)
    result = audit.audit_model(model)
    assert len(result.weights) == len(model.weights)
    assert not result.failed, [(w.layer, w.role, w.note) for w in result.mismatched]
    w = by_path(result)
    # Keras numbers repeated names within a session (lstm_cell_3), so the cell paths are matched by prefix.
    cells = {(layer.rsplit("/", 1)[0], role): key for key in w for layer, role in [key]
             if layer.startswith("bi/")}
    assert {("bi/forward_l", "recurrent_kernel"), ("bi/backward_l", "bias")} <= set(cells)
    assert {("td/td_dense", "kernel"), ("td2/inner/inner_dense", "bias"), ("mha/query", "kernel"),
            ("sep", "depthwise_kernel"), ("sep", "pointwise_kernel")} <= set(w)
    bias = w[cells[("bi/forward_l", "bias")]]
    assert [s.initializer for s in bias.segments] == ["Zeros", "Ones", "Zeros"]
    assert "unit_forget_bias" in bias.note
    assert "rows are orthonormal" in w[cells[("bi/backward_l", "recurrent_kernel")]].note
    query = w[("mha/query", "kernel")]
    assert query.segments[0].config["input_axes"] == [0] and query.segments[0].config["output_axes"] == [1, 2]


def test_einsum_axes():
    assert audit.einsum_kernel_axes("abc,cde->abde") == ([0], [1, 2])
    assert audit.einsum_kernel_axes("abcd,cde->abe") == ([0, 1], [2])
    assert audit.einsum_kernel_axes("...b,bc->...c") == ([0], [1])
    assert audit.einsum_kernel_axes("ab->b") is None


def test_unknown_initializer_is_reported_not_failed():
    class Halves(keras.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return keras.ops.full(shape, 0.5, dtype=dtype)

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, kernel_initializer=Halves(), name="d")(inputs))
    result = audit.audit_model(model)
    w = by_path(result)[("d", "kernel")]
    assert w.status == "unknown initializer" and "Halves" in w.declared
    assert not result.failed


def test_orthogonal_rnn_round_trips_through_a_keras_file(rnn, tmp_path):
    path = tmp_path / "rnn.keras"
    rnn.save(path)
    result = audit.audit_source(str(path), shipped_policy("rnn.toml"))
    assert not result.failed and result.meta["source"] == f"file {path}"


def test_lambda_file_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "lambda-ran"
    fn = eval(f"lambda t: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), t)[1]")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Lambda(fn)(inputs)))
    path = tmp_path / "lambda.keras"
    model.save(path)
    marker.unlink()  # building the model ran the lambda once
    with pytest.raises(DataError, match=r"refusing to load .*Lambda layer 'lambda'.*safe mode"):
        audit.load_model(str(path))
    assert main(["audit", str(path)]) == 2
    assert not marker.exists()
    # The marker is a real witness: an unsafe load does run the lambda.
    keras.saving.load_model(path, safe_mode=False)
    assert marker.exists()


def test_keras_own_safe_mode_error_becomes_data_error(tmp_path, monkeypatch):
    fn = eval("lambda t: t")
    inputs = keras.Input((4,))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, keras.layers.Lambda(fn)(inputs)).save(path)
    monkeypatch.setattr(audit, "unsafe_entries", lambda config: iter(()))  # skip our scan: Keras must refuse
    with pytest.raises(DataError, match="Keras safe mode refused it"):
        audit.load_keras_file(path)


def test_foreign_module_in_config_is_refused(tmp_path):
    path = tmp_path / "evil.keras"
    config = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "layers": [{"module": "os", "class_name": "system", "config": {}, "registered_name": None}]}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("metadata.json", "{}")
    with pytest.raises(DataError, match=r"needs 'system' from module 'os'"):
        audit.load_model(str(path))


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("missing.keras", None, "does not exist"),
        ("garbage.keras", b"not a zip", "not a zip archive"),
        ("noconfig.keras", {"metadata.json": "{}"}, "has no config.json"),
        ("badjson.keras", {"config.json": "{oops"}, "config.json is not valid JSON"),
        ("legacy.h5", b"\x89HDF", "not a .keras file"),
        ("noweights.keras", {"config.json": json.dumps({"module": "keras", "class_name": "Sequential",
                                                       "config": {"layers": []}})}, "cannot load model file"),
    ],
)
def test_missing_and_corrupt_files(tmp_path, name, content, match):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        with zipfile.ZipFile(path, "w") as z:
            for member, text in content.items():
                z.writestr(member, text)
    with pytest.raises(DataError, match=match) as info:
        audit.load_model(str(path))
    assert name in str(info.value)


def test_builder_errors(tmp_path):
    with pytest.raises(DataError, match="cannot import module 'no_such_module_xyz'"):
        audit.load_model("no_such_module_xyz:build")
    with pytest.raises(DataError, match="has no function 'nope'"):
        audit.load_model("initlab.models:nope")
    script = tmp_path / "user_models.py"
    script.write_text("def build():\n    return 42\n")
    with pytest.raises(DataError, match="returned a int, not a Keras model"):
        audit.load_model(f"{script}:build")
    with pytest.raises(DataError, match="neither an existing .keras file nor a module:function"):
        audit.load_model("nothing-here")


def test_cli_outputs_and_exit_codes(tmp_path):
    out_json, out_md = tmp_path / "a.json", tmp_path / "a.md"
    rc = main(["audit", "initlab.models:resnet_block_model", "--policy", "initlab:resnet.toml",
               "--json", str(out_json), "--markdown", str(out_md), "-q"])
    assert rc == 0
    payload = json.loads(out_json.read_text())
    assert payload["summary"] == {"weights": 15, "by_status": {"consistent": 15}, "violations": 0, "failed": False}
    assert "| `block_shortcut` | kernel |" in out_md.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nlayer = "Conv2DX"\ninitializer = "zeros"\n')
    assert main(["audit", "initlab.models:resnet_block_model", "--policy", str(bad)]) == 2
    strict = tmp_path / "strict.toml"
    strict.write_text('[[rule]]\nlayer = "Conv2D"\nrole = "kernel"\ninitializer = "orthogonal"\n')
    assert main(["audit", "initlab.models:resnet_block_model", "--policy", str(strict), "-q"]) == 1


def test_unknown_layer_type_in_policy_is_a_usage_error(block, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\n\nlayer = "BatchNormalisation"\ninitializer = "ones"\n')
    with pytest.raises(UsageError, match=r"bad\.toml:3: unknown layer type 'BatchNormalisation'.*BatchNormalization"):
        audit.audit_model(block, load_policy(bad))


# --- PyTorch -----------------------------------------------------------------------------------


def test_pytorch_inference_identifies_linear_default_and_flags_tampering():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.Linear(64, 32))
    torch.nn.init.xavier_normal_(net[2].weight)
    with torch.no_grad():
        net[3].weight.mul_(3.0)
    result = audit.audit_model(net)
    w = by_path(result)
    first = w[("0", "weight")]
    consistent = [c["name"] for c in first.candidates if c["consistent"]]
    assert consistent == ["kaiming_uniform_(a=sqrt(5)) [nn.Linear default]"]
    assert first.note == "PyTorch default"
    inconsistent = {c["initializer"] for c in first.candidates if not c["consistent"]}
    assert {"xavier_uniform_", "kaiming_uniform_", "kaiming_normal_", "normal_", "orthogonal_"} <= inconsistent
    assert w[("0", "bias")].note == "PyTorch default"
    assert [c["name"] for c in w[("2", "weight")].candidates if c["consistent"]] == ["xavier_normal_"]
    assert w[("3", "weight")].status == "MISMATCH"
    assert [(x.layer, x.role) for x in result.mismatched] == [("3", "weight")]
    with pytest.raises(UsageError, match="policies apply to Keras models"):
        audit.audit_model(net, shipped_policy("resnet.toml"))
