"""The Section 5 audit for PyTorch: infer, from the values, which initializers each weight fits.

PyTorch records no declared initializer, so every parameter (and floating
buffer such as BatchNorm's running statistics) is tested against a list of
candidates: the module's own default (from `initlab.torch_formulas`), and the
common `torch.nn.init` calls (kaiming/xavier uniform and normal, orthogonal,
N(0, 1), N(0, 0.02), zeros, ones). A candidate is "consistent" when every
check passes; candidates whose documented distributions coincide are merged
into one. Weights consistent with no candidate are flagged. All statistical
checks of the audit share the family-wise false-alarm rate (Bonferroni).

torch is imported only by the caller who built the module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from initlab import stats
from initlab import torch_formulas as tf
from initlab.distributions import Reference
from initlab.errors import UsageError

__all__ = ["Candidate", "candidates", "module_default", "judge", "audit_module"]

_LINEAR_LIKE = ("Linear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                "ConvTranspose3d")
_NORMS = ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
          "InstanceNorm3d", "RMSNorm")
_RNNS = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")


@dataclass(frozen=True)
class Candidate:
    """A PyTorch initializer applied to a parameter: `name` in `torch_formulas.SPECS` and its config."""

    label: str
    name: str
    config: Mapping[str, Any]

    def reference(self, shape: Sequence[int]) -> Reference | None:
        if tf.get_spec(self.name).kind != "random":
            return None
        return tf.reference(self.name, self.config, shape)

    def law(self, shape: Sequence[int]) -> str:
        spec = tf.get_spec(self.name)
        if spec.kind == "random":
            return self.reference(shape).describe()
        elif spec.kind == "orthogonal":
            rows, cols = tf.orthogonal_flat_shape(shape)
            return f"{self.config.get('gain', 1.0):g} x orthonormal {'rows' if rows < cols else 'columns'} of ({rows}, {cols})"
        values = tf.expected_values(self.name, self.config, shape)
        return f"{float(values.flat[0]):g} everywhere" if values.size else spec.formula

    def variance(self, shape: Sequence[int]) -> float:
        return tf.weight_variance(self.name, self.config, shape)


def _class_names(module) -> set[str]:
    return {c.__name__ for c in type(module).__mro__}


def module_default(module, param: str, shape: Sequence[int], parent=None, attr: str = "") -> Candidate | None:
    """What PyTorch's constructor of `module` documents for its parameter or buffer `param`.

    `parent`/`attr` say where the module sits: nn.MultiheadAttention re-initializes its
    `out_proj.bias` to zero, unlike a plain nn.Linear.
    """
    names = _class_names(module)
    kind = type(module).__name__
    if parent is not None and "MultiheadAttention" in _class_names(parent) and attr == "out_proj" and param == "bias":
        return Candidate("zeros_ [nn.MultiheadAttention out_proj.bias]", "zeros_", {})
    if "MultiheadAttention" in names:
        if param.endswith("_weight"):
            return Candidate(f"xavier_uniform_ [nn.MultiheadAttention {param}]", "xavier_uniform_", {})
        if param == "in_proj_bias":
            return Candidate("zeros_ [nn.MultiheadAttention in_proj_bias]", "zeros_", {})
        if param in ("bias_k", "bias_v"):
            return Candidate(f"xavier_normal_ [nn.MultiheadAttention {param}]", "xavier_normal_", {})
        return None
    if names & set(_LINEAR_LIKE) or "_ConvNd" in names:
        weight = getattr(module, "weight", None)
        if param == "weight":
            return Candidate(f"kaiming_uniform_(a=sqrt(5)) [nn.{kind} default]", "default_weight", {})
        if param == "bias" and weight is not None:
            fan_in = tf.fans(tuple(weight.shape))[0]
            return Candidate(f"U(+-1/sqrt(fan_in={fan_in})) [nn.{kind} bias default]", "default_bias", {"fan_in": fan_in})
        return None
    if names & {"Embedding", "EmbeddingBag"} and param == "weight":
        return Candidate(f"normal_ N(0, 1) [nn.{kind} default]", "embedding", {})
    if names & set(_RNNS) or "RNNBase" in names or "RNNCellBase" in names:
        hidden = int(getattr(module, "hidden_size"))
        return Candidate(f"U(+-1/sqrt(hidden={hidden})) [nn.{kind} default]", "rnn", {"hidden_size": hidden})
    if names & set(_NORMS) or "_NormBase" in names:
        if param in ("weight", "running_var"):
            return Candidate(f"ones_ [nn.{kind} {param} default]", "ones_", {})
        if param in ("bias", "running_mean"):
            return Candidate(f"zeros_ [nn.{kind} {param} default]", "zeros_", {})
    return None


def candidates(shape: Sequence[int], default: Candidate | None = None) -> list[Candidate]:
    """The module's default (first) and the common torch.nn.init calls valid for `shape`."""
    out = [default] if default is not None else []
    if len(shape) >= 2:
        out += [
            Candidate("kaiming_uniform_(a=sqrt(5)) [nn.Linear/Conv default]", "default_weight", {}),
            Candidate("kaiming_uniform_(nonlinearity='relu')", "kaiming_uniform_", {"nonlinearity": "relu"}),
            Candidate("kaiming_normal_(nonlinearity='relu')", "kaiming_normal_", {"nonlinearity": "relu"}),
            Candidate("kaiming_normal_(mode='fan_out', nonlinearity='relu')", "kaiming_normal_",
                      {"mode": "fan_out", "nonlinearity": "relu"}),
            Candidate("xavier_uniform_", "xavier_uniform_", {}),
            Candidate("xavier_normal_", "xavier_normal_", {}),
            Candidate("orthogonal_", "orthogonal_", {}),
        ]
    out += [
        Candidate("normal_(std=0.02)", "normal_", {"std": 0.02}),
        Candidate("normal_ N(0, 1)", "normal_", {}),
        Candidate("zeros_", "zeros_", {}),
        Candidate("ones_", "ones_", {}),
    ]
    # Merge candidates that document the same thing for this shape (e.g. a default that is xavier_uniform_).
    merged: dict[Any, Candidate] = {}
    for cand in out:
        ref = cand.reference(shape)
        key = ((ref.family, *(round(v, 10) for v in (ref.loc, ref.scale, ref.low, ref.high))) if ref is not None
               else (cand.name, tuple(cand.config.items())))
        if key in merged:
            first = merged[key]
            if cand.name != first.name and cand.label not in first.label:
                merged[key] = Candidate(f"{first.label} = {cand.label}", first.name, first.config)
        else:
            merged[key] = cand
    return list(merged.values())


def statistical_count(cand: Candidate, shape: Sequence[int]) -> int:
    ref = cand.reference(shape)
    if ref is None or math.prod(shape) < 2:
        return 0
    return stats.checks_per_reference(ref) - (1 if ref.bounded else 0)


def judge(values: np.ndarray, cand: Candidate, alpha: float) -> list[stats.Check]:
    """The checks of `values` (torch layout) against one candidate."""
    shape = tuple(values.shape)
    spec = tf.get_spec(cand.name)
    if spec.kind == "random":
        if values.size < 2:
            return [stats.Check("size", ">= 2 values", f"{values.size}", False, detectable="nothing")]
        return [not_constant_check(values), *stats.distribution_checks(values, cand.reference(shape), alpha)]
    elif spec.kind == "orthogonal":
        gain = tf.get_spec(cand.name).resolve(cand.config)["gain"]
        return [stats.orthogonality_check(values, gain, tf.orthogonal_flat_shape(shape))]
    expected = tf.expected_values(cand.name, cand.config, shape)
    return [stats.exact_check(values, expected, stats.exact_tolerance(expected))]


def not_constant_check(values: np.ndarray) -> stats.Check:
    """A continuous distribution gives n >= 2 equal values with probability 0: a constant
    tensor is never a random initializer's draw, however few its values."""
    flat = np.asarray(values).ravel()
    constant = bool(flat.size >= 2 and np.all(flat == flat[0]))
    return stats.Check("not constant", "distinct values", f"all {flat[0]:g}" if constant else "distinct",
                       not constant, detectable="a constant tensor")


def named_tensors(module):
    """(module path, module, parent, attribute, name, tensor) for every parameter and floating buffer."""
    parents = {}
    for path, mod in module.named_modules():
        for attr, child in mod.named_children():
            parents[id(child)] = (mod, attr)
    for path, mod in module.named_modules():
        parent, attr = parents.get(id(mod), (None, ""))
        for name, tensor in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
            if tensor is None or not tensor.is_floating_point():
                continue
            yield path or type(module).__name__, mod, parent, attr, name, tensor


def audit_module(module, family_alpha: float = stats.FAMILY_ALPHA, source: str = ""):
    """An `initlab.audit.AuditResult` for a PyTorch nn.Module (status per weight: consistent with
    at least one candidate, or MISMATCH when none fits)."""
    from initlab.audit import STATUS_MISMATCH, STATUS_OK, AuditResult, WeightAudit
    from initlab.keras_backend import versions

    plans = []
    for path, mod, parent, attr, name, tensor in named_tensors(module):
        shape = tuple(int(d) for d in tensor.shape)
        if not shape:
            continue
        default = module_default(mod, name, shape, parent, attr)
        plans.append((path, mod, name, tensor, shape, default, candidates(shape, default)))
    if not plans:
        raise UsageError(f"{type(module).__name__} has no floating-point parameters to audit")
    n_checks = sum(statistical_count(c, p[4]) for p in plans for c in p[6])
    alpha = family_alpha / max(1, n_checks)
    weights = []
    for path, mod, name, tensor, shape, default, cands in plans:
        values = tensor.detach().cpu().double().numpy()
        rows = []
        for cand in cands:
            checks = judge(values, cand, alpha)
            rows.append({
                "name": cand.label, "initializer": cand.name, "config": dict(cand.config), "law": cand.law(shape),
                "consistent": all(c.passed for c in checks),
                "failed": [f"{c.statistic}: {c.observed}" for c in checks if not c.passed][:2],
                "detectable": next((c.detectable for c in checks if c.statistic == "variance"), checks[0].detectable),
            })
        ok = [r for r in rows if r["consistent"]]
        is_default = default is not None and rows[0]["consistent"]
        audit = WeightAudit(
            layer=path, layer_type=type(mod).__name__, weight=f"{path}.{name}", role=name, shape=shape,
            declared=(default.label if default else "no PyTorch default known"),
            declared_name=None, formula=(tf.get_spec(default.name).formula if default else ""),
            status=STATUS_OK if ok else STATUS_MISMATCH, candidates=rows,
            note=("PyTorch default" if is_default else
                  ("not the PyTorch default; consistent with " + ", ".join(r["name"] for r in ok)) if ok else
                  "consistent with no known initializer (set by hand, loaded or trained?)"),
        )
        weights.append(audit)
    meta = {
        "framework": "pytorch",
        "model": type(module).__name__,
        "source": source or "in-memory module",
        "parameters": int(sum(math.prod(w.shape) for w in weights)),
        "family_alpha": family_alpha,
        "statistical_checks": n_checks,
        "alpha_per_check": alpha,
        "power": stats.POWER,
        "policy": None,
        "versions": versions(),
    }
    return AuditResult(weights, [], [], meta)
