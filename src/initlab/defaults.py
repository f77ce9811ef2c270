"""Section 6: what Keras's layers start as with default settings, beside PyTorch's.

`run_defaults` builds each layer of `LAYERS` with its default arguments (only
the required sizes given), audits every weight with `initlab.audit` (the
initializer the layer's attributes declare, what Keras actually uses where
another option overrides it, and whether the values agree), then builds the
matching PyTorch module, checks its parameters against PyTorch's documented
default (`initlab.torch_formulas`), and reports the variance ratio
Var(Keras) / Var(PyTorch) for the layer sizes in `Sizes`. Everything is read
from the installed Keras and PyTorch; nothing about either default is
hard-coded here except which PyTorch module matches which Keras layer.

A saved result (`to_dict`, written as JSON) is a snapshot; `compare` lists
what changed between a snapshot and a new run, e.g. after an upgrade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from initlab import formulas, stats
from initlab.errors import UsageError

__all__ = ["Sizes", "LAYERS", "DefaultsRow", "DefaultsResult", "run_defaults", "compare", "FINGERPRINT"]

LAYERS = (
    "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "LSTM", "GRU",
    "SimpleRNN", "Bidirectional", "BatchNormalization", "LayerNormalization", "Embedding", "MultiHeadAttention",
)
# The fields that identify a default; a snapshot comparison reports changes in these only
# (measured statistics and p-values change from run to run).
FINGERPRINT = ("keras_shape", "declared", "keras_law", "keras_status", "keras_note", "torch_param", "torch_call",
               "torch_law", "torch_status", "variance_ratio")


@dataclass(frozen=True)
class Sizes:
    """The layer sizes the report is computed for (the variance ratio depends on them)."""

    features: int = 64  # input features / channels
    units: int = 128  # units / filters / embedding width
    kernel: int = 3  # kernel size along each spatial axis
    heads: int = 4  # attention heads (key_dim = units / heads)
    vocab: int = 1000  # embedding rows
    timesteps: int = 8

    def check(self) -> Sizes:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UsageError(f"size {name} must be a positive integer; received {value!r}")
        if self.units % self.heads:
            raise UsageError(f"units ({self.units}) must be a multiple of heads ({self.heads}) for MultiHeadAttention")
        return self


@dataclass
class DefaultsRow:
    layer: str
    weight: str
    keras_shape: str
    declared: str
    keras_law: str
    keras_status: str
    keras_note: str
    keras_variance: float | None
    torch_param: str
    torch_call: str
    torch_law: str
    torch_status: str
    torch_variance: float | None
    variance_ratio: str
    keras_observed_variance: float | None = None
    torch_observed_variance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DefaultsResult:
    rows: list[DefaultsRow]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def problems(self) -> list[DefaultsRow]:
        """Rows where Keras's values contradict its (effective) initializer, or PyTorch's its documented default."""
        return [r for r in self.rows if r.keras_status == "MISMATCH" or r.torch_status == "MISMATCH"]

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "rows": [r.to_dict() for r in self.rows]}

    def to_markdown(self) -> str:
        v = self.meta.get("versions", {})
        s = self.meta.get("sizes", {})
        lines = [
            f"### Default initializers: Keras {v.get('keras', '?')} ({self.meta.get('backend', '?')}) "
            f"vs PyTorch {v.get('torch', 'not installed')}",
            "",
            "Sizes: " + ", ".join(f"{k}={val}" for k, val in s.items())
            + ". Var ratio = Var(Keras) / Var(PyTorch) of one entry, from the formulas for these sizes.",
            "",
            "| layer | weight | declared (Keras attribute) | Keras starts as | PyTorch | PyTorch law | Var ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            keras = r.keras_law + (f" — {r.keras_note}" if r.keras_note else "") + (
                f" **{r.keras_status}**" if r.keras_status != "consistent" else "")
            torch = f"{r.torch_param}: {r.torch_call}" + (f" **{r.torch_status}**" if r.torch_status not in (
                "consistent", "") else "")
            lines.append(f"| {r.layer} | {r.weight} | {_md(r.declared)} | {_md(keras)} | {_md(torch)} | "
                         f"{_md(r.torch_law)} | {r.variance_ratio} |")
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


# ---------------------------------------------------------------------------
# Building


def _keras_layers(keras, sz: Sizes):
    """(name, layer, input shape without batch, call) for each layer in LAYERS, default arguments."""
    L = keras.layers
    f, u, k, t = sz.features, sz.units, sz.kernel, sz.timesteps
    return [
        ("Dense", L.Dense(u, name="dense"), (f,)),
        ("Conv1D", L.Conv1D(u, k, name="conv1d"), (4 * k, f)),
        ("Conv2D", L.Conv2D(u, k, name="conv2d"), (2 * k, 2 * k, f)),
        ("Conv3D", L.Conv3D(u, k, name="conv3d"), (k, k, k, f)),
        ("Conv2DTranspose", L.Conv2DTranspose(u, k, name="conv2d_transpose"), (2 * k, 2 * k, f)),
        ("DepthwiseConv2D", L.DepthwiseConv2D(k, name="depthwise_conv2d"), (2 * k, 2 * k, f)),
        ("SeparableConv2D", L.SeparableConv2D(u, k, name="separable_conv2d"), (2 * k, 2 * k, f)),
        ("LSTM", L.LSTM(u, name="lstm"), (t, f)),
        ("GRU", L.GRU(u, name="gru"), (t, f)),
        ("SimpleRNN", L.SimpleRNN(u, name="simple_rnn"), (t, f)),
        ("Bidirectional", L.Bidirectional(L.LSTM(u), name="bidirectional"), (t, f)),
        ("BatchNormalization", L.BatchNormalization(name="batch_normalization"), (f,)),
        ("LayerNormalization", L.LayerNormalization(name="layer_normalization"), (f,)),
        ("Embedding", L.Embedding(sz.vocab, u, name="embedding"), (t,)),
        ("MultiHeadAttention", L.MultiHeadAttention(sz.heads, u // sz.heads, name="multi_head_attention"), (t, u)),
    ]


def _keras_model(keras, sz: Sizes):
    inputs, outputs = [], []
    for name, layer, shape in _keras_layers(keras, sz):
        x = keras.Input(shape, name=f"in_{layer.name}", dtype="int32" if name == "Embedding" else "float32")
        inputs.append(x)
        outputs.append(layer(x, x) if name == "MultiHeadAttention" else layer(x))
    return keras.Model(inputs, outputs, name="keras_defaults")


def _torch_modules(torch, sz: Sizes) -> dict[str, Any]:
    nn = torch.nn
    f, u, k = sz.features, sz.units, sz.kernel
    return {
        "Dense": nn.Linear(f, u),
        "Conv1D": nn.Conv1d(f, u, k),
        "Conv2D": nn.Conv2d(f, u, k),
        "Conv3D": nn.Conv3d(f, u, k),
        "Conv2DTranspose": nn.ConvTranspose2d(f, u, k),
        "DepthwiseConv2D": nn.Conv2d(f, f, k, groups=f),
        "SeparableConv2D": nn.Sequential(nn.Conv2d(f, f, k, groups=f, bias=False), nn.Conv2d(f, u, 1)),
        "LSTM": nn.LSTM(f, u),
        "GRU": nn.GRU(f, u),
        "SimpleRNN": nn.RNN(f, u),
        "Bidirectional": nn.LSTM(f, u, bidirectional=True),
        "BatchNormalization": nn.BatchNorm1d(f),
        "LayerNormalization": nn.LayerNorm(f),
        "Embedding": nn.Embedding(sz.vocab, u),
        "MultiHeadAttention": nn.MultiheadAttention(u, sz.heads),
    }


_TORCH_NAMES = {
    "Dense": "nn.Linear", "Conv1D": "nn.Conv1d", "Conv2D": "nn.Conv2d", "Conv3D": "nn.Conv3d",
    "Conv2DTranspose": "nn.ConvTranspose2d", "DepthwiseConv2D": "nn.Conv2d(groups=in)",
    "SeparableConv2D": "nn.Conv2d(groups=in) + 1x1 nn.Conv2d", "LSTM": "nn.LSTM", "GRU": "nn.GRU",
    "SimpleRNN": "nn.RNN", "Bidirectional": "nn.LSTM(bidirectional=True)", "BatchNormalization": "nn.BatchNorm1d",
    "LayerNormalization": "nn.LayerNorm", "Embedding": "nn.Embedding", "MultiHeadAttention": "nn.MultiheadAttention",
}


@dataclass(frozen=True)
class _Match:
    """Which PyTorch tensors correspond to a Keras weight, and how they combine."""

    params: tuple[str, ...]  # dotted names in the torch module
    combine: str = "one"  # one | sum (b_ih + b_hh) | stack (GRU's two bias rows) | slice
    part: int = 0  # slice index for MultiHeadAttention's in_proj (query 0, key 1, value 2)


def _match(layer: str, path: str, role: str) -> _Match | None:
    """The PyTorch counterpart of the Keras weight `role` at `path` of the default `layer`."""
    rnn = {"kernel": ("weight_ih_l0",), "recurrent_kernel": ("weight_hh_l0",), "bias": ("bias_ih_l0", "bias_hh_l0")}
    if layer in ("Dense", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose"):
        return _Match(({"kernel": "weight", "bias": "bias"}[role],))
    elif layer == "DepthwiseConv2D":
        return _Match(({"depthwise_kernel": "weight", "bias": "bias"}[role],))
    elif layer == "SeparableConv2D":
        return _Match(({"depthwise_kernel": "0.weight", "pointwise_kernel": "1.weight", "bias": "1.bias"}[role],))
    elif layer in ("LSTM", "SimpleRNN"):
        return _Match(rnn[role], "sum" if role == "bias" else "one")
    elif layer == "GRU":
        return _Match(rnn[role], "stack" if role == "bias" else "one")
    elif layer == "Bidirectional":
        suffix = "_reverse" if "backward" in path else ""
        return _Match(tuple(p + suffix for p in rnn[role]), "sum" if role == "bias" else "one")
    elif layer == "BatchNormalization":
        return _Match(({"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                        "moving_variance": "running_var"}[role],))
    elif layer == "LayerNormalization":
        return _Match(({"gamma": "weight", "beta": "bias"}[role],))
    elif layer == "Embedding":
        return _Match(("weight",))
    elif layer == "MultiHeadAttention":
        sub = path.rsplit("/", 1)[-1]
        if sub == "attention_output":
            return _Match((f"out_proj.{'weight' if role == 'kernel' else 'bias'}",))
        part = {"query": 0, "key": 1, "value": 2}[sub]
        return _Match(("in_proj_weight" if role == "kernel" else "in_proj_bias",), "slice", part)
    else:
        raise UsageError(f"no PyTorch counterpart is known for Keras layer {layer!r}")


# ---------------------------------------------------------------------------
# Running


def run_defaults(sizes: Sizes | None = None, family_alpha: float = stats.FAMILY_ALPHA, torch_seed: int = 0,
                 include_torch: bool = True) -> DefaultsResult:
    """Builds every layer of LAYERS with default settings and reports each weight (see the module doc).

    The family-wise false-alarm rate is split evenly between the Keras and the PyTorch checks.
    """
    from initlab import audit
    from initlab.keras_backend import use_backend, versions

    sz = (sizes or Sizes()).check()
    backend = use_backend(None)
    import keras

    torch = _import_torch() if include_torch else None
    model = _keras_model(keras, sz)
    share = family_alpha / 2 if torch is not None else family_alpha
    kres = audit.audit_model(model, family_alpha=share, source="initlab defaults")
    layer_of = {layer.name: kind for kind, layer, _ in _keras_layers_named(model)}

    tmods, tvalues, talpha = {}, {}, None
    if torch is not None:
        torch.manual_seed(torch_seed)
        tmods = _torch_modules(torch, sz)
        tvalues, talpha = _torch_checks(tmods, share)

    rows = []
    for w in kres.weights:
        top = w.layer.split("/", 1)[0]
        kind = layer_of.get(top)
        if kind is None:
            continue
        kvar = _keras_variance(w)
        row = DefaultsRow(
            layer=kind, weight=_weight_label(w), keras_shape="x".join(map(str, w.shape)), declared=w.declared,
            keras_law=w.law, keras_status=w.status, keras_note=w.note, keras_variance=kvar,
            torch_param="", torch_call="", torch_law="", torch_status="", torch_variance=None, variance_ratio="n/a",
            keras_observed_variance=_observed_var(model, w),
        )
        if torch is not None:
            m = _match(kind, w.layer, w.role)
            _fill_torch(row, kind, m, tmods[kind], tvalues[kind])
        row.variance_ratio = _ratio(row.keras_variance, row.torch_variance)
        rows.append(row)
    meta = {
        "backend": backend,
        "sizes": asdict(sz),
        "torch_seed": torch_seed,
        "family_alpha": family_alpha,
        "keras_alpha_per_check": kres.meta["alpha_per_check"],
        "torch_alpha_per_check": talpha,
        "power": stats.POWER,
        "versions": versions(),
        "torch": torch is not None,
    }
    return DefaultsResult(rows, meta)


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _keras_layers_named(model):
    kinds = {"dense": "Dense", "conv1d": "Conv1D", "conv2d": "Conv2D", "conv3d": "Conv3D",
             "conv2d_transpose": "Conv2DTranspose", "depthwise_conv2d": "DepthwiseConv2D",
             "separable_conv2d": "SeparableConv2D", "lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN",
             "bidirectional": "Bidirectional", "batch_normalization": "BatchNormalization",
             "layer_normalization": "LayerNormalization", "embedding": "Embedding",
             "multi_head_attention": "MultiHeadAttention"}
    return [(kinds[layer.name], layer, None) for layer in model.layers if layer.name in kinds]


def _weight_label(w) -> str:
    parts = w.layer.split("/")[1:]
    sub = [p for p in parts if not p.endswith("_cell")]
    return "/".join([*sub, w.role])


def _observed_var(model, w) -> float | None:
    for v in model.weights:
        if v.path == w.weight:
            return float(np.var(np.asarray(v.numpy(), dtype=np.float64)))
    return None


def _keras_variance(w) -> float | None:
    """Variance of one entry under the effective initializer(s): mixture over the segments."""
    if not w.segments or any(s.initializer is None for s in w.segments):
        return None
    total = sum(math.prod(s.shape) for s in w.segments)
    first = second = 0.0
    for s in w.segments:
        spec = formulas.get_spec(s.initializer)
        if spec.random:
            ref = formulas.reference(spec.name, s.config, s.shape)
            mean, var = ref.mean, ref.var
        elif spec.family == "orthogonal":
            mean, var = 0.0, formulas.weight_variance(spec.name, s.shape, s.config)
        else:
            values = formulas.expected_values(spec.name, s.config, s.shape)
            mean, var = float(values.mean()), float(values.var())
        weight = math.prod(s.shape) / total
        first += weight * mean
        second += weight * (var + mean * mean)
    return second - first * first


def _torch_checks(mods: Mapping[str, Any], family_alpha: float):
    """Each torch tensor's values and the checks against its module's documented default."""
    from initlab import torch_audit

    plans = []
    for kind, mod in mods.items():
        for path, sub, parent, attr, name, tensor in torch_audit.named_tensors(mod):
            full = name if sub is mod else f"{path}.{name}"
            shape = tuple(int(d) for d in tensor.shape)
            default = torch_audit.module_default(sub, name, shape, parent, attr)
            plans.append((kind, full, tensor.detach().double().numpy(), default))
    n = sum(torch_audit.statistical_count(d, v.shape) for _, _, v, d in plans if d is not None)
    alpha = family_alpha / max(1, n)
    out: dict[str, dict[str, tuple]] = {kind: {} for kind in mods}
    for kind, full, values, default in plans:
        checks = torch_audit.judge(values, default, alpha) if default is not None else []
        out[kind][full] = (values, default, checks)
    return out, alpha


def _fill_torch(row: DefaultsRow, kind: str, m: _Match, module, tensors: Mapping[str, tuple]) -> None:
    from initlab import torch_formulas as tf

    found = [tensors[p] for p in m.params]
    values = [f[0] for f in found]
    defaults = [f[1] for f in found]
    if any(d is None for d in defaults):
        row.torch_status = "unknown default"
        return
    ok = all(all(c.passed for c in f[2]) for f in found)
    row.torch_status = "consistent" if ok else "MISMATCH"
    name = _TORCH_NAMES[kind]
    shape = values[0].shape
    if m.combine == "sum":
        row.torch_param = f"{name} {' + '.join(m.params)}"
        row.torch_call = defaults[0].label.split(" [")[0] + " each"
        var, bound = tf.rnn_effective_bias(int(defaults[0].config["hidden_size"]))
        row.torch_law = f"sum of two {defaults[0].law(shape)}: triangular on [{-bound:.4g}, {bound:.4g}]"
        row.torch_variance = var
        row.torch_observed_variance = float(np.var(values[0] + values[1]))
    elif m.combine == "stack":
        row.torch_param = f"{name} stack({', '.join(m.params)})"
        row.torch_call = defaults[0].label.split(" [")[0]
        row.torch_law = defaults[0].law(shape)
        row.torch_variance = defaults[0].variance(shape)
        row.torch_observed_variance = float(np.var(np.stack(values)))
    elif m.combine == "slice":
        rows = values[0].shape[0] // 3
        part = values[0][m.part * rows:(m.part + 1) * rows]
        row.torch_param = f"{name} {m.params[0]}[{m.part * rows}:{(m.part + 1) * rows}]"
        row.torch_call = defaults[0].label.split(" [")[0] + f" on the whole {'x'.join(map(str, shape))}"
        row.torch_law = defaults[0].law(shape)
        row.torch_variance = defaults[0].variance(shape)
        row.torch_observed_variance = float(np.var(part))
    else:
        row.torch_param = f"{name} {m.params[0]}"
        row.torch_call = defaults[0].label.split(" [")[0]
        row.torch_law = defaults[0].law(shape)
        row.torch_variance = defaults[0].variance(shape)
        row.torch_observed_variance = float(np.var(values[0]))
    if not ok:
        bad = [c for f in found for c in f[2] if not c.passed]
        row.torch_status = "MISMATCH"
        row.torch_law += f" (installed PyTorch differs: {bad[0].statistic} {bad[0].observed})"


def _ratio(keras_var: float | None, torch_var: float | None) -> str:
    if keras_var is None or torch_var is None:
        return "n/a"
    if torch_var == 0.0 and keras_var == 0.0:
        return "both constant"
    if torch_var == 0.0:
        return "inf (PyTorch constant)"
    return f"{keras_var / torch_var:.4g}"


# ---------------------------------------------------------------------------
# Snapshots


def compare(old: Mapping[str, Any], new: DefaultsResult | Mapping[str, Any]) -> list[str]:
    """What changed from the snapshot `old` (a saved `to_dict`) to `new`: versions, and per weight
    the FINGERPRINT fields. Raises UsageError if the two were made with different sizes."""
    new_d = new.to_dict() if isinstance(new, DefaultsResult) else dict(new)
    if not isinstance(old, Mapping) or "rows" not in old or "meta" not in old:
        raise UsageError("the snapshot is not an initlab defaults JSON file (it has no 'meta' and 'rows')")
    old_sizes, new_sizes = old["meta"].get("sizes"), new_d["meta"].get("sizes")
    if old_sizes != new_sizes:
        raise UsageError(f"the snapshot was made with sizes {old_sizes}, this run with {new_sizes}; "
                         "run with the snapshot's sizes")
    changes = []
    ov, nv = old["meta"].get("versions", {}), new_d["meta"].get("versions", {})
    for dist in sorted(set(ov) | set(nv)):
        if ov.get(dist) != nv.get(dist):
            changes.append(f"version {dist}: {ov.get(dist)} -> {nv.get(dist)}")
    key = lambda r: (r["layer"], r["weight"])  # noqa: E731
    orows = {key(r): r for r in old["rows"]}
    nrows = {key(r): r for r in new_d["rows"]}
    for k in sorted(set(orows) | set(nrows)):
        if k not in nrows:
            changes.append(f"{k[0]} {k[1]}: removed (was {orows[k]['declared']})")
        elif k not in orows:
            changes.append(f"{k[0]} {k[1]}: new ({nrows[k]['declared']})")
        else:
            for fld in FINGERPRINT:
                if orows[k].get(fld) != nrows[k].get(fld):
                    changes.append(f"{k[0]} {k[1]} {fld}: {orows[k].get(fld)!r} -> {nrows[k].get(fld)!r}")
    return changes

