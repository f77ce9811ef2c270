"""Initialization policies: which initializer a model intends, by layer type, weight role and name.

A policy is a TOML file of rules. Each rule selects weights and states the
initializer they must declare; a weight takes the LAST rule that selects it
(so put general rules first and exceptions after them)::

    description = "The lab's ResNet block"
    unmatched = "ignore"          # or "violation": a weight no rule selects is a violation

    [[rule]]
    layer = "Conv2D"              # a layer class name (its subclasses match too); optional
    role = "kernel"               # kernel, recurrent_kernel, bias, gamma, ...; optional
    initializer = "he_normal"     # any name or alias the formula table knows; required

    [[rule]]
    layer = "Conv2D"
    name = "*_shortcut"           # fnmatch pattern on the layer path or the layer name; optional
    role = "kernel"
    initializer = "glorot_uniform"
    config = { }                  # arguments that must also match (e.g. { gain = 1.0 }); optional

Parsing needs no framework. Every error names the file and, where the TOML
text allows, the line. Layer types are checked against a set of known class
names by `Policy.check_layer_types` (the audit passes Keras's own names).
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from initlab.errors import UsageError
from initlab.formulas import get_spec

__all__ = ["Rule", "Policy", "load_policy", "parse_policy", "shipped_policy", "ROLES"]

# Weight roles the audit reports, from the layer attributes that hold them.
ROLES = (
    "kernel", "recurrent_kernel", "bias", "depthwise_kernel", "pointwise_kernel", "gamma", "beta",
    "moving_mean", "moving_variance", "embeddings", "alpha",
)
RULE_KEYS = ("layer", "role", "name", "initializer", "config")
TOP_KEYS = ("description", "unmatched", "rule")
UNMATCHED = ("ignore", "violation")


@dataclass(frozen=True)
class Rule:
    """One `[[rule]]`: selectors (None = any) and the intended initializer."""

    index: int
    initializer: str  # the formula table's canonical name
    layer: str | None = None
    role: str | None = None
    name: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def selects(self, layer_types: Sequence[str], role: str, layer_path: str) -> bool:
        """True when every given selector matches: a class name in `layer_types` (the owner's MRO
        and its enclosing layers'), the role, and the name pattern on the path or its last part."""
        if self.layer is not None and self.layer not in layer_types:
            return False
        if self.role is not None and self.role != role:
            return False
        if self.name is not None:
            last = layer_path.rsplit("/", 1)[-1]
            if not (fnmatch.fnmatchcase(layer_path, self.name) or fnmatch.fnmatchcase(last, self.name)):
                return False
        return True

    def describe(self) -> str:
        cfg = "".join(f", {k}={v!r}" for k, v in self.config.items())
        return f"{self.initializer}{'(' + cfg[2:] + ')' if cfg else ''}"

    def where(self, source: str) -> str:
        return f"{source}:{self.lines.get('rule', '?')}"

    def config_differences(self, declared: Mapping[str, Any]) -> list[str]:
        """The rule's config entries that `declared` (a resolved config) does not match."""
        out = []
        for key, want in self.config.items():
            have = declared.get(key)
            if isinstance(want, (int, float)) and isinstance(have, (int, float)) and not isinstance(want, bool):
                same = math.isclose(float(want), float(have), rel_tol=1e-9, abs_tol=0.0)
            else:
                same = want == have
            if not same:
                out.append(f"{key}={have!r} (intended {want!r})")
        return out


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    source: str = "<policy>"
    description: str = ""
    unmatched: str = "ignore"

    def rule_for(self, layer_types: Sequence[str], role: str, layer_path: str) -> Rule | None:
        """The last rule that selects the weight, or None."""
        chosen = None
        for rule in self.rules:
            if rule.selects(layer_types, role, layer_path):
                chosen = rule
        return chosen

    def check_layer_types(self, known: Collection[str]) -> None:
        """Raises UsageError (file:line) for a rule whose layer type is not a known class name."""
        for rule in self.rules:
            if rule.layer is not None and rule.layer not in known:
                close = difflib.get_close_matches(rule.layer, sorted(known), n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UsageError(
                    f"{self.source}:{rule.lines.get('layer', rule.lines.get('rule', '?'))}: "
                    f"unknown layer type {rule.layer!r} in rule {rule.index + 1}{hint}"
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "description": self.description,
            "unmatched": self.unmatched,
            "rules": [
                {"layer": r.layer, "role": r.role, "name": r.name, "initializer": r.initializer,
                 "config": dict(r.config), "line": r.lines.get("rule")}
                for r in self.rules
            ],
        }


def load_policy(path: str | Path, layer_types: Collection[str] | None = None) -> Policy:
    """Reads and checks a policy file; a missing, unreadable or malformed file is a UsageError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"policy file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read policy file {str(path)!r}: {exc}") from None
    policy = parse_policy(text, source=str(path))
    if layer_types is not None:
        policy.check_layer_types(layer_types)
    return policy


def shipped_policy(name: str) -> Path:
    """The path of a policy shipped with initlab (`resnet.toml`, `rnn.toml`)."""
    from importlib import resources

    path = Path(str(resources.files("initlab") / "policies" / name))
    if not path.is_file():
        known = sorted(p.name for p in path.parent.glob("*.toml"))
        raise UsageError(f"initlab ships no policy {name!r}; it ships {', '.join(known)}")
    return path


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{source}: malformed TOML: {exc}") from None
    lines = _key_lines(text)
    top = lines[0] if lines else {}

    def fail(where: int | str | None, message: str) -> UsageError:
        return UsageError(f"{source}:{where if where is not None else '?'}: {message}")

    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise fail(top.get(unknown[0]), f"unknown key {unknown[0]!r}; a policy has {', '.join(TOP_KEYS)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail(top.get("description"), f"description must be a string; received {description!r}")
    unmatched = data.get("unmatched", "ignore")
    if unmatched not in UNMATCHED:
        raise fail(top.get("unmatched"), f"unmatched must be one of {UNMATCHED}; received {unmatched!r}")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise fail(top.get("rule"), "rules are tables written [[rule]]")
    if not raw_rules:
        raise UsageError(f"{source}: the policy has no [[rule]] tables")
    rules = []
    for i, raw in enumerate(raw_rules):
        where = lines[i + 1] if i + 1 < len(lines) else {}
        rules.append(_parse_rule(i, raw, where, fail))
    return Policy(tuple(rules), source, description, unmatched)


def _parse_rule(index: int, raw: dict, where: dict[str, int], fail) -> Rule:
    label = f"rule {index + 1}"
    unknown = sorted(set(raw) - set(RULE_KEYS))
    if unknown:
        key = unknown[0]
        raise fail(where.get(key, where.get("rule")), f"{label}: unknown key {key!r}; a rule has {', '.join(RULE_KEYS)}")
    for key in ("layer", "role", "name", "initializer"):
        if key in raw and not (isinstance(raw[key], str) and raw[key].strip()):
            raise fail(where.get(key), f"{label}: {key} must be a non-empty string; received {raw[key]!r}")
    if "initializer" not in raw:
        raise fail(where.get("rule"), f"{label}: it states no initializer")
    try:
        spec = get_spec(raw["initializer"])
    except UsageError as exc:
        raise fail(where.get("initializer"), f"{label}: {exc}") from None
    role = raw.get("role")
    if role is not None and role not in ROLES:
        close = difflib.get_close_matches(role, ROLES, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise fail(where.get("role"), f"{label}: unknown weight role {role!r}{hint} (roles: {', '.join(ROLES)})")
    config = raw.get("config", {})
    if not isinstance(config, dict):
        raise fail(where.get("config"), f"{label}: config must be a table like {{ gain = 1.0 }}; received {config!r}")
    try:
        spec.resolve(config)
    except UsageError as exc:
        raise fail(where.get("config"), f"{label}: {exc}") from None
    if not any(key in raw for key in ("layer", "role", "name")):
        raise fail(where.get("rule"), f"{label}: it selects nothing; give at least one of layer, role, name")
    return Rule(index, spec.name, raw.get("layer"), role, raw.get("name"), dict(config), dict(where))


_HEADER = re.compile(r"^\s*\[\[\s*rule\s*\]\]")
_TABLE = re.compile(r"^\s*\[")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _key_lines(text: str) -> list[dict[str, int]]:
    """Line numbers of keys: [top-level keys, then one dict per [[rule]] with 'rule' = its header line].

    A plain scan that is right for the usual one-key-per-line layout; where it is
    not (inline tables of rules), errors fall back to fewer line numbers.
    """
    blocks: list[dict[str, int]] = [{}]
    for number, line in enumerate(text.splitlines(), start=1):
        if _HEADER.match(line):
            blocks.append({"rule": number})
        elif _TABLE.match(line):
            blocks[-1].setdefault("_table", number)
        else:
            m = _KEY.match(line)
            if m:
                blocks[-1].setdefault(m.group(1), number)
    return blocks
