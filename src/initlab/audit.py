"""Section 5: audit every weight of a model against the initializer it declares.

For a Keras model, each weight (nested models, Bidirectional, TimeDistributed,
RNN cells and attention sub-layers included) is matched to the layer
attribute that declares its initializer (`kernel_initializer`,
`recurrent_initializer`, `depthwise_initializer`, ...). The formula table
(`initlab.formulas`) says what that initializer documents for the weight's
shape, and the weight's actual values are judged with the checks of
`initlab.verify.check_draws` on a single draw (n = the weight's size). The
audit's statistical checks share a family-wise false-alarm rate of
`FAMILY_ALPHA` (Bonferroni), so a model fresh from its constructor is flagged
with probability at most 1e-3; every check reports the smallest effect it
would have caught at that size.

Where Keras sets a weight by more than its initializer attribute, the audit
checks the effective rule and says why (`LSTM(unit_forget_bias=True)`: the
forget slice of the bias is 1). An initializer the table does not know is
reported as "unknown initializer", never a failure.

A policy (`initlab.policy`) adds intent: the initializer each weight should
declare. PyTorch modules record no declared initializer; `initlab.torch_audit`
infers which known ones their values are consistent with.

Models come from a `.keras` file, loaded with Keras safe mode on after a scan
of its config that refuses Lambda layers and code from modules outside Keras
and the registered custom objects, or from `module:function`, which imports
and runs the user's own Python code by their explicit request.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from initlab import formulas, stats
from initlab.errors import DataError, UsageError
from initlab.policy import Policy, Rule, load_policy
from initlab.verify import Case, check_draws, config_label, statistical_checks

__all__ = [
    "WeightAudit", "Segment", "Violation", "AuditResult", "audit_model", "audit_source", "load_model",
    "keras_layer_types", "weight_entries",
]

# The initializer attribute of each weight role, where it is not `<role>_initializer`.
INIT_ATTRIBUTES = {
    "recurrent_kernel": "recurrent_initializer",
    "depthwise_kernel": "depthwise_initializer",
    "pointwise_kernel": "pointwise_initializer",
}
STATUS_OK = "consistent"
STATUS_MISMATCH = "MISMATCH"
STATUS_UNKNOWN = "unknown initializer"
STATUS_UNCHECKED = "not checked"


@dataclass
class Segment:
    """A part of a weight (all of it, or a slice) and the initializer that fills it."""

    where: str  # "all" or a slice such as "[128:256]"
    index: Any  # numpy index into the flat-shaped weight; None for all
    shape: tuple[int, ...]  # the shape the initializer was called with
    initializer: str | None  # the formula table's name, None when unknown
    config: dict[str, Any]
    reason: str = ""  # why this part differs from the declared initializer

    def law(self) -> str:
        """What the table documents for this part, for a person."""
        if self.initializer is None:
            return "?"
        spec = formulas.get_spec(self.initializer)
        if spec.random:
            return formulas.reference(spec.name, self.config, self.shape).describe()
        elif spec.family == "orthogonal":
            rows, cols = formulas.orthogonal_flat_shape(self.shape)
            which = "rows" if rows < cols else "columns"
            return f"{self.config['gain']:g} x orthonormal {which} of ({rows}, {cols})"
        else:
            values = formulas.expected_values(spec.name, self.config, self.shape)
            return f"{float(values.flat[0]):g} everywhere" if spec.family == "constant" and values.size else spec.formula


@dataclass
class WeightAudit:
    """One weight: where it is, what declares its initializer, and whether its values agree."""

    layer: str
    layer_type: str
    weight: str
    role: str
    shape: tuple[int, ...]
    declared: str
    declared_name: str | None = None
    declared_config: dict[str, Any] = field(default_factory=dict)
    formula: str = ""
    segments: list[Segment] = field(default_factory=list)
    checks: list[stats.Check] = field(default_factory=list)
    status: str = STATUS_UNCHECKED
    note: str = ""
    layer_types: tuple[str, ...] = ()
    candidates: list[dict[str, Any]] = field(default_factory=list)  # PyTorch inference
    policy: dict[str, Any] | None = None

    @property
    def law(self) -> str:
        if not self.segments:
            return ""
        if len(self.segments) == 1:
            return self.segments[0].law()
        return "; ".join(f"{s.where}: {s.law()}" for s in self.segments)

    @property
    def flagged(self) -> bool:
        return self.status == STATUS_MISMATCH

    @property
    def detectable(self) -> str:
        for check in self.checks:
            if check.statistic == "variance":
                return check.detectable
        return self.checks[0].detectable if self.checks else ""

    def failed_checks(self) -> list[stats.Check]:
        return [c for c in self.checks if not c.passed]

    def found(self) -> str:
        """A short account of the failed checks, for messages."""
        bad = self.failed_checks()
        return "; ".join(f"{c.statistic}: {c.observed} (expected {c.expected})" for c in bad[:2])

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "layer_type": self.layer_type,
            "weight": self.weight,
            "role": self.role,
            "shape": list(self.shape),
            "declared": self.declared,
            "declared_initializer": self.declared_name,
            "declared_config": _jsonable(self.declared_config),
            "formula": self.formula,
            "law": self.law,
            "segments": [
                {"where": s.where, "initializer": s.initializer, "config": _jsonable(s.config), "reason": s.reason}
                for s in self.segments
            ],
            "status": self.status,
            "note": self.note,
            "detectable": self.detectable,
            "checks": [c.to_dict() for c in self.checks],
            "candidates": self.candidates,
            "policy": self.policy,
        }


@dataclass
class Violation:
    """A weight that breaks the policy: what was intended and what was found."""

    layer: str
    weight: str
    role: str
    intended: str
    found: str
    rule: str  # file:line of the rule, or "unmatched"

    def message(self) -> str:
        return f"{self.layer}: {self.role} ({self.weight}) intended {self.intended}, found {self.found} [{self.rule}]"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "message": self.message()}


@dataclass
class AuditResult:
    weights: list[WeightAudit]
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def mismatched(self) -> list[WeightAudit]:
        return [w for w in self.weights if w.flagged]

    @property
    def failed(self) -> bool:
        """True when a weight's values contradict its initializer or the policy is violated."""
        return bool(self.mismatched or self.violations)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for w in self.weights:
            out[w.status] = out.get(w.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "summary": {"weights": len(self.weights), "by_status": self.counts(),
                        "violations": len(self.violations), "failed": self.failed},
            "weights": [w.to_dict() for w in self.weights],
            "violations": [v.to_dict() for v in self.violations],
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        m = self.meta
        lines = [
            f"### Initialization audit: {m.get('model', '?')} ({m.get('framework', '?')})",
            "",
            f"Source `{m.get('source', '?')}`; {len(self.weights)} weights, "
            + ", ".join(f"{v} {k}" for k, v in sorted(self.counts().items()))
            + f". Per-check alpha {m.get('alpha_per_check', float('nan')):.2e} (Bonferroni over "
            f"{m.get('statistical_checks', 0)} checks, family-wise {m.get('family_alpha', stats.FAMILY_ALPHA):g}).",
            "",
        ]
        if m.get("framework") == "pytorch":
            lines += ["| module | parameter | shape | PyTorch default | consistent with | status |",
                      "|---|---|---|---|---|---|"]
            for w in self.weights:
                ok = ", ".join(c["name"] for c in w.candidates if c["consistent"]) or "none"
                lines.append(f"| `{w.layer}` | {w.role} | {_shape(w.shape)} | {_md(w.declared)} | {_md(ok)} | {w.status} |")
        else:
            lines += ["| layer | weight | shape | declared | documented law | status | detects |",
                      "|---|---|---|---|---|---|---|"]
            for w in self.weights:
                status = w.status + (f" ({w.note})" if w.note else "")
                lines.append(
                    f"| `{w.layer}` | {w.role} | {_shape(w.shape)} | {_md(w.declared)} | {_md(w.law)} | "
                    f"{_md(status)} | {_md(w.detectable)} |"
                )
        if self.meta.get("policy"):
            lines += ["", f"Policy `{self.meta['policy']['source']}`: "
                      + (f"{len(self.violations)} violation(s)." if self.violations else "no violations.")]
            lines += [f"- {_md(v.message())}" for v in self.violations]
        lines += [f"- {_md(n)}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _shape(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape)) or "()"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


# ---------------------------------------------------------------------------
# Loading


def load_model(source: str) -> tuple[Any, str]:
    """A model and a description of where it came from.

    `source` is a `.keras` file (loaded in safe mode, never running code from
    it) or `module:function` / `path/to/file.py:function`, which imports the
    module and calls the function with no arguments: that runs the user's own
    code, by their explicit request. The function returns a Keras model or a
    PyTorch `nn.Module`.
    """
    if not isinstance(source, str) or not source.strip():
        raise UsageError(f"a model is a .keras file or module:function; received {source!r}")
    path = Path(source)
    if path.exists() or path.suffix in (".keras", ".h5", ".hdf5"):
        return load_keras_file(path), f"file {source}"
    if ":" in source:
        return _call_builder(source), f"builder {source}"
    raise DataError(f"model {source!r} is neither an existing .keras file nor a module:function")


def load_keras_file(path: str | Path):
    """Loads a `.keras` archive with `safe_mode=True`, after refusing configs that would need code."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"model file {str(path)!r} is a directory; initlab reads Keras 3 .keras files")
    if path.suffix != ".keras":
        raise DataError(
            f"model file {str(path)!r} is not a .keras file; initlab reads the Keras 3 format only "
            "(re-save legacy .h5 models with model.save('model.keras'))"
        )
    config = _read_config(path)
    problems = list(unsafe_entries(config))
    if problems:
        raise DataError(
            f"refusing to load {str(path)!r}: " + "; ".join(problems[:3]) + ". Loading it would run code "
            "stored in the file, and initlab keeps Keras safe mode on. If you trust it, rebuild the model in "
            "Python and audit it as module:function"
        )
    keras = _keras()
    from initlab import models

    models.orthogonal_rnn_cell_class()  # registers initlab>OrthogonalRNNCell
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text or "arbitrary code" in text:
            raise DataError(f"refusing to load {str(path)!r}: Keras safe mode refused it: {_first_line(text)}") from None
        raise DataError(f"cannot load model file {str(path)!r}: {_first_line(text)}") from None
    except Exception as exc:  # Keras raises TypeError, KeyError, OSError... for corrupt archives.
        raise DataError(f"cannot load model file {str(path)!r} ({type(exc).__name__}): {_first_line(str(exc))}") from None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


def _read_config(path: Path) -> Any:
    if not zipfile.is_zipfile(path):
        raise DataError(f"model file {str(path)!r} is corrupt or not a .keras file: it is not a zip archive")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names:
                raise DataError(f"model file {str(path)!r} is corrupt: the archive has no config.json")
            raw = archive.read("config.json")
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        raise DataError(f"model file {str(path)!r} is corrupt: {exc}") from None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"model file {str(path)!r} is corrupt: config.json is not valid JSON ({exc})") from None


def unsafe_entries(config: Any, path: str = "") -> Iterator[str]:
    """Parts of a saved Keras config whose loading would execute code from the file or import a module
    that is neither Keras nor a registered custom object."""
    if isinstance(config, list):
        for i, item in enumerate(config):
            yield from unsafe_entries(item, f"{path}[{i}]")
        return
    if not isinstance(config, dict):
        return
    class_name = config.get("class_name")
    inner = config.get("config")
    name = config.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
    if class_name == "Lambda":
        yield f"it contains a Lambda layer {name!r}, whose function is Python code"
    elif class_name == "__lambda__":
        yield f"it contains a serialized Python lambda at {path or 'the top'}"
    module = config.get("module")
    if isinstance(module, str) and class_name is not None and not (module == "keras" or module.startswith("keras.")):
        registered = config.get("registered_name")
        if not registered or registered not in _custom_objects():
            yield (f"it needs {class_name!r} from module {module!r}, which is not part of Keras nor a registered "
                   f"custom object")
    for key, value in config.items():
        if isinstance(value, (dict, list)):
            yield from unsafe_entries(value, f"{path}.{key}" if path else key)


def _custom_objects() -> set[str]:
    keras = _keras()
    from initlab import models

    models.orthogonal_rnn_cell_class()
    return set(keras.saving.get_custom_objects())


def _call_builder(source: str):
    module_name, _, func_name = source.rpartition(":")
    if not module_name or not func_name.isidentifier():
        raise UsageError(f"expected module:function (e.g. initlab.models:small_resnet); received {source!r}")
    try:
        if module_name.endswith(".py"):
            file = Path(module_name)
            if not file.is_file():
                raise DataError(f"Python file {module_name!r} does not exist")
            spec = importlib.util.spec_from_file_location(f"initlab_user_{file.stem}", file)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DataError(f"cannot import module {module_name!r}: {exc}") from None
    builder = getattr(module, func_name, None)
    if not callable(builder):
        raise DataError(f"module {module_name!r} has no function {func_name!r}")
    model = builder()
    if not (_is_keras_model(model) or _is_torch_module(model)):
        raise DataError(f"{source} returned a {type(model).__name__}, not a Keras model or a PyTorch nn.Module")
    return model


def _is_torch_module(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_keras_model(obj: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.layers.Layer)


def _keras():
    from initlab.keras_backend import use_backend

    use_backend(None)
    import keras

    return keras


# ---------------------------------------------------------------------------
# Walking a Keras model


@dataclass
class Entry:
    """A weight and the layer object that owns it (None when no owner was found)."""

    layer_path: str
    layer_types: tuple[str, ...]
    owner: Any
    role: str
    variable: Any


def weight_entries(model) -> list[Entry]:
    """Every weight of `model` with its owning layer, found by walking layers, nested models,
    wrappers (`layer`, `forward_layer`, `backward_layer`), RNN cells and other sub-layers."""
    keras = _keras()
    out: list[Entry] = []
    seen_vars: set[int] = set()
    seen_layers: set[int] = set()

    def walk(layer, path: str, enclosing: tuple[str, ...]) -> None:
        if id(layer) in seen_layers:
            return
        seen_layers.add(id(layer))
        types = tuple(c.__name__ for c in type(layer).__mro__) + enclosing
        for attr, value in vars(layer).items():
            if isinstance(value, keras.Variable) and id(value) not in seen_vars:
                seen_vars.add(id(value))
                out.append(Entry(path, types, layer, _role(layer, attr.lstrip("_") or value.name), value))
        for child in _sublayers(keras, layer):
            walk(child, f"{path}/{child.name}" if path else child.name, types)

    if isinstance(model, keras.Model):
        seen_layers.add(id(model))
        for layer in model.layers:
            walk(layer, layer.name, (type(model).__name__,))
    else:
        walk(model, model.name, ())
    for variable in model.weights:
        if id(variable) not in seen_vars:
            seen_vars.add(id(variable))
            out.append(Entry(variable.path.rsplit("/", 1)[0], (), None, variable.name, variable))
    return out


def _role(layer, attr: str) -> str:
    """The weight's role; DepthwiseConv's `kernel` is declared by `depthwise_initializer`."""
    if attr == "kernel" and not hasattr(layer, "kernel_initializer") and hasattr(layer, "depthwise_initializer"):
        return "depthwise_kernel"
    return attr


def _sublayers(keras, layer) -> list:
    if isinstance(layer, keras.Model):
        return list(layer.layers)
    children = []
    for attr, value in vars(layer).items():
        if attr in ("_layers", "_tracked"):
            continue
        if isinstance(value, keras.layers.Layer) and value is not layer:
            children.append(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, keras.layers.Layer) for v in value):
            children.extend(value)
    return children


def keras_layer_types(model=None) -> set[str]:
    """Class names a policy may name: Keras's layers, registered custom objects, and the model's own."""
    keras = _keras()
    names = {"Layer", "Model", "Functional", "Sequential"}
    for name in dir(keras.layers):
        obj = getattr(keras.layers, name)
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer):
            names.add(name)
            names.add(obj.__name__)
    for key, obj in _custom_object_items():
        names.add(key.split(">")[-1])
        if isinstance(obj, type):
            names.add(obj.__name__)
    if model is not None:
        for entry in weight_entries(model):
            names.update(entry.layer_types)
    return names


def _custom_object_items():
    keras = _keras()
    from initlab import models

    models.orthogonal_rnn_cell_class()
    return list(keras.saving.get_custom_objects().items())


# ---------------------------------------------------------------------------
# Auditing


def _declared(owner, role: str) -> tuple[Any, str]:
    """The initializer object that declares a weight, and the attribute it was read from."""
    if owner is None:
        return None, ""
    attr = INIT_ATTRIBUTES.get(role, f"{role}_initializer")
    return getattr(owner, attr, None), attr


def describe_initializer(init: Any) -> tuple[str | None, dict[str, Any], str]:
    """(table name or None, resolved config, display text) of a Keras initializer object."""
    if init is None:
        return None, {}, "none found"
    class_name = type(init).__name__
    get_config = getattr(init, "get_config", None)
    raw = dict(get_config()) if callable(get_config) else {}
    try:
        spec = formulas.get_spec(class_name)
        config = spec.resolve(raw)
    except UsageError:
        shown = class_name if class_name != "function" else getattr(init, "__name__", "function")
        return None, raw, f"{shown} (unknown)"
    label = config_label(spec, config)
    seed = raw.get("seed")
    text = spec.name + ("" if label == "defaults" else f"({label})") + (f" seed={seed}" if seed is not None else "")
    return spec.name, config, text


def _segments(owner, role: str, shape: tuple[int, ...], name: str | None, config: dict) -> tuple[list[Segment], str]:
    """The initializers that actually fill the weight, and a note on Keras's behaviour."""
    types = {c.__name__ for c in type(owner).__mro__} if owner is not None else set()
    whole = Segment("all", None, shape, name, config)
    if (role == "bias" and "LSTMCell" in types and getattr(owner, "unit_forget_bias", False)
            and len(shape) == 1 and shape[0] % 4 == 0):
        u = shape[0] // 4
        reason = "unit_forget_bias=True sets the forget-gate slice to 1"
        segs = [
            Segment(f"[0:{u}] input gate", slice(0, u), (u,), name, config),
            Segment(f"[{u}:{2 * u}] forget gate", slice(u, 2 * u), (u,), "Ones", {}, reason),
            Segment(f"[{2 * u}:{4 * u}] cell, output gates", slice(2 * u, 4 * u), (2 * u,), name, config),
        ]
        return segs, f"declared {name or '?'} but {reason} (LSTMCell.build)"
    if (role == "recurrent_kernel" and name == "Orthogonal" and len(shape) == 2 and shape[1] % shape[0] == 0
            and shape[1] // shape[0] > 1 and types & {"LSTMCell", "GRUCell"}):
        k = shape[1] // shape[0]
        note = (f"Orthogonal covers the whole ({shape[0]}, {shape[1]}) matrix: its rows are orthonormal, "
                f"the {k} gate blocks are not each orthogonal")
        return [whole], note
    equation = getattr(owner, "equation", None)
    if (role == "kernel" and "EinsumDense" in types and isinstance(equation, str) and name is not None
            and formulas.get_spec(name).family == "variance_scaling"
            and (config.get("input_axes") is None or config.get("output_axes") is None)):
        axes = einsum_kernel_axes(equation)
        if axes is not None:
            effective = {**config, "input_axes": axes[0], "output_axes": axes[1]}
            reason = (f"EinsumDense.build replaces unset input_axes/output_axes by the kernel axes of its "
                      f"equation {equation!r}: input_axes={axes[0]}, output_axes={axes[1]}")
            return [Segment("all", None, shape, name, effective, reason)], f"declared {name} with default fans, but {reason}"
    return [whole], ""


def einsum_kernel_axes(equation: str) -> tuple[list[int], list[int]] | None:
    """(input_axes, output_axes) of an EinsumDense kernel: the kernel's letters that appear in the
    output are output axes, the others that appear in the input are input axes (Keras's rule in
    `_analyze_split_string`). None for an equation this does not parse."""
    if "->" not in equation or "," not in equation.split("->")[0]:
        return None
    lhs, out = equation.replace("...", "").split("->")
    inp, kernel = lhs.split(",", 1)
    input_axes, output_axes = [], []
    for i, dim in enumerate(kernel):
        if dim in out:
            output_axes.append(i)
        elif dim in inp:
            input_axes.append(i)
        else:
            return None
    return input_axes, output_axes


def _statistical_count(segment: Segment, size: int) -> int:
    if segment.initializer is None or size < 2:
        return 0
    try:
        return statistical_checks(Case(formulas.get_spec(segment.initializer), segment.config, segment.shape))
    except UsageError:
        return 0


def audit_model(model, policy: Policy | str | Path | None = None, family_alpha: float = stats.FAMILY_ALPHA,
                source: str = "") -> AuditResult:
    """Audits a Keras model (or, dispatching to `initlab.torch_audit`, a PyTorch nn.Module)."""
    if not (isinstance(family_alpha, float) and 0 < family_alpha < 1):
        raise UsageError(f"family_alpha must be a float in (0, 1); received {family_alpha!r}")
    if _is_torch_module(model):
        if policy is not None:
            raise UsageError("policies apply to Keras models: a PyTorch module records no declared initializer")
        from initlab import torch_audit

        return torch_audit.audit_module(model, family_alpha=family_alpha, source=source)
    if not _is_keras_model(model):
        raise UsageError(f"expected a Keras model or a PyTorch nn.Module; received {type(model).__name__}")
    from initlab import keras_backend

    entries = weight_entries(model)
    if isinstance(policy, (str, Path)):
        policy = load_policy(policy)
    if policy is not None:
        policy.check_layer_types(keras_layer_types(model))

    plans = []
    for entry in entries:
        shape = tuple(int(d) for d in entry.variable.shape)
        init, attr = _declared(entry.owner, entry.role)
        name, config, text = describe_initializer(init)
        segments, note = _segments(entry.owner, entry.role, shape, name, config)
        plans.append((entry, shape, attr, name, config, text, segments, note))
    n_checks = sum(_statistical_count(s, math.prod(s.shape)) for p in plans for s in p[6])
    alpha = family_alpha / max(1, n_checks)

    weights = []
    for entry, shape, attr, name, config, text, segments, note in plans:
        values = np.asarray(keras_backend.to_numpy(entry.variable.value))
        owner_type = type(entry.owner).__name__ if entry.owner is not None else "?"
        audit = WeightAudit(
            layer=entry.layer_path, layer_type=owner_type, weight=entry.variable.path, role=entry.role, shape=shape,
            declared=(f"{attr} = {text}" if attr else text), declared_name=name, declared_config=config,
            formula=formulas.get_spec(name).formula if name else "", segments=segments, note=note,
            layer_types=entry.layer_types,
        )
        _judge(audit, values, alpha)
        weights.append(audit)

    violations, notes = ([], [])
    if policy is not None:
        violations, notes = apply_policy(weights, policy)
    from initlab.keras_backend import versions

    keras = _keras()
    meta = {
        "framework": "keras",
        "backend": keras.backend.backend(),
        "model": getattr(model, "name", type(model).__name__),
        "source": source or "in-memory model",
        "parameters": int(sum(math.prod(w.shape) for w in weights)),
        "family_alpha": family_alpha,
        "statistical_checks": n_checks,
        "alpha_per_check": alpha,
        "power": stats.POWER,
        "policy": policy.to_dict() if policy is not None else None,
        "versions": versions(),
    }
    return AuditResult(weights, violations, notes, meta)


def _judge(audit: WeightAudit, values: np.ndarray, alpha: float) -> None:
    """Runs the checks of each segment on the weight's values and sets the status."""
    if audit.declared_name is None:
        audit.status = STATUS_UNKNOWN
        return
    if not np.issubdtype(values.dtype, np.floating):
        audit.status = STATUS_UNCHECKED
        audit.note = f"{values.dtype} values"
        return
    checks: list[stats.Check] = []
    for seg in audit.segments:
        part = values if seg.index is None else values.reshape(-1)[seg.index].reshape(seg.shape)
        spec = formulas.get_spec(seg.initializer)
        if spec.random and part.size < 2:
            audit.status = STATUS_UNCHECKED
            audit.note = "a single value cannot be checked against a distribution"
            return
        try:
            seg_checks = check_draws(spec, seg.config, seg.shape, lambda s, p=part: p, part.size, alpha)
            if spec.random:
                from initlab.torch_audit import not_constant_check

                seg_checks.insert(0, not_constant_check(part))
        except UsageError as exc:
            audit.status = STATUS_UNCHECKED
            audit.note = str(exc)
            return
        if seg.where != "all":
            for c in seg_checks:
                c.statistic = f"{c.statistic} {seg.where.split()[0]}"
        checks += seg_checks
    audit.checks = checks
    audit.status = STATUS_OK if all(c.passed for c in checks) else STATUS_MISMATCH
    if audit.status == STATUS_MISMATCH:
        audit.note = ("values do not follow the declared initializer (set_weights, loading or training?): "
                      + audit.found() + ("; " + audit.note if audit.note else ""))


def apply_policy(weights: Sequence[WeightAudit], policy: Policy) -> tuple[list[Violation], list[str]]:
    """Violations of `policy` by audited Keras weights, and notes on rules that selected nothing."""
    violations: list[Violation] = []
    used: set[int] = set()
    for w in weights:
        rule = policy.rule_for(w.layer_types, w.role, w.layer)
        if rule is None:
            if policy.unmatched == "violation":
                violations.append(Violation(w.layer, w.weight, w.role, "a rule of the policy", w.declared, "unmatched"))
                w.policy = {"rule": None, "verdict": "unmatched"}
            continue
        used.add(rule.index)
        problems = _rule_problems(rule, w)
        w.policy = {"rule": rule.where(policy.source), "intended": rule.describe(),
                    "verdict": "violation" if problems else "ok"}
        if problems:
            violations.append(Violation(w.layer, w.weight, w.role, rule.describe(), "; ".join(problems),
                                        rule.where(policy.source)))
    notes = [f"rule {r.index + 1} ({r.where(policy.source)}, {r.describe()}) selected no weight"
             for r in policy.rules if r.index not in used]
    return violations, notes


def _rule_problems(rule: Rule, w: WeightAudit) -> list[str]:
    if w.declared_name is None:
        return [f"declared {w.declared}"]
    problems = []
    if w.declared_name != rule.initializer:
        problems.append(f"declared {w.declared_name}")
    else:
        problems += [f"declared {d}" for d in rule.config_differences(w.declared_config)]
    if w.status == STATUS_MISMATCH:
        problems.append(f"values inconsistent with the declared {w.declared_name}: {w.found()}")
    return problems


def audit_source(source: str, policy: Policy | str | Path | None = None,
                 family_alpha: float = stats.FAMILY_ALPHA) -> AuditResult:
    """Loads `source` (see `load_model`) and audits it."""
    if isinstance(policy, (str, Path)):
        policy = load_policy(policy)  # malformed policies answer before the model is loaded
    model, where = load_model(source)
    return audit_model(model, policy, family_alpha, source=where)
