"""The experiment's configuration: every default visible in one place.

The three lab conditions, the plain 10-weight-layer conv net, SGD with
momentum and the data sizes are all fields here; `initlab train` flags and
`ExperimentConfig.replace` override them, nothing needs a code edit.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from initlab.errors import UsageError

ACTIVATIONS = ("relu", "tanh", "linear")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform")
OPTIMIZERS = ("sgd", "adam")
PADDINGS = ("same", "valid")
PRECISIONS = ("float32", "mixed_bfloat16")


@dataclass(frozen=True)
class Condition:
    """One arm of the experiment: an activation with a kernel initializer."""

    name: str
    activation: str
    initializer: str

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise UsageError(f"activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.initializer not in INITIALIZERS:
            raise UsageError(f"initializer {self.initializer!r} is not one of {INITIALIZERS}")
        if not self.name or "/" in self.name or "__" in self.name:
            raise UsageError(f"condition name {self.name!r} must be non-empty, without '/' or '__'")

    @classmethod
    def parse(cls, text: str) -> "Condition":
        """`"relu:he_normal"` or `"name=relu:he_normal"`."""
        name, _, spec = text.rpartition("=")
        act, sep, init = spec.partition(":")
        if not sep:
            raise UsageError(f"condition {text!r} is not ACTIVATION:INITIALIZER, e.g. relu:he_normal")
        init = init.strip().lower()
        short = {"glorot": "glorot_uniform", "he": "he_normal", "lecun": "lecun_normal"}
        init = short.get(init, init)
        return cls(name or f"{act}-{init.replace('_', '-')}", act.strip().lower(), init)


# (a) Tanh + GlorotUniform, (b) ReLU + GlorotUniform, (c) ReLU + HeNormal.
LAB_CONDITIONS = (
    Condition("tanh-glorot", "tanh", "glorot_uniform"),
    Condition("relu-glorot", "relu", "glorot_uniform"),
    Condition("relu-he", "relu", "he_normal"),
)


@dataclass(frozen=True)
class ExperimentConfig:
    """Every knob of `initlab train`. Defaults are the quick lab run on the bundled subset."""

    preset: str = "quick"  # "quick" (bundled subset) or "full" (all of CIFAR-10)
    conditions: tuple[Condition, ...] = LAB_CONDITIONS
    # Model: conv layers, then one Dense classifier; len(widths) + 1 weight layers.
    widths: tuple[int, ...] = (32, 32, 32, 64, 64, 64, 128, 128, 128)
    strides: tuple[int, ...] = (1, 1, 1, 2, 1, 1, 2, 1, 1)  # strided convs downsample; no pooling
    kernel_size: int = 3
    padding: str = "same"
    batch_norm: bool = False  # the lab's point is the plain net; BN hides the init
    # Optimizer: SGD with momentum, since Adam's step ignores the gradient's scale.
    optimizer: str = "sgd"
    learning_rate: float = 0.003  # 0.01 stalls ReLU+He at the uniform guess on the subset
    momentum: float = 0.9
    batch_size: int = 128
    epochs: int = 3
    seeds: tuple[int, ...] = (0, 1)  # each seed: weights and data order, shared by all conditions
    # Data.
    data: str | None = None  # a path; None: $INITLAB_CIFAR10, bundled subset (quick) or Keras cache/download
    train_size: int | None = 6000  # stratified cap on training images; None = all that remain
    validation_size: int = 1000  # held out from the training set, stratified, same for every seed
    split_seed: int = 0  # the validation split and the probe batch do not move with the seeds
    probe_size: int = 128  # fixed probe batch (from the validation split) for per-layer statistics
    # Speed.
    jit_compile: bool = False  # XLA; measured slower on a 2-core CPU, see BENCHMARKS.md
    # "mixed_bfloat16": bf16 compute, float32 weights and statistics; faster on CPUs with AMX/AVX512-BF16,
    # but not the lab's float32 numerics, so it is opt-in.
    precision: str = "float32"
    tensorboard: bool = True

    def __post_init__(self) -> None:
        _check(self)

    # ---- derived
    @property
    def n_weight_layers(self) -> int:
        return len(self.widths) + 1

    def replace(self, **changes: Any) -> "ExperimentConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["conditions"] = [dataclasses.asdict(c) for c in self.conditions]
        for k in ("widths", "strides", "seeds"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ExperimentConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UsageError(f"unknown configuration keys: {sorted(unknown)}")
        d = dict(d)
        if "conditions" in d:
            d["conditions"] = tuple(Condition(**c) for c in d["conditions"])
        for k in ("widths", "strides", "seeds"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _check(c: ExperimentConfig) -> None:
    if c.preset not in ("quick", "full", "custom"):
        raise UsageError(f"preset {c.preset!r} is not 'quick', 'full' or 'custom'")
    if not c.conditions:
        raise UsageError("at least one condition is needed")
    names = [k.name for k in c.conditions]
    if len(set(names)) != len(names):
        raise UsageError(f"condition names must differ, got {names}")
    if not c.widths or any(int(w) < 1 for w in c.widths):
        raise UsageError(f"widths must be positive integers, got {c.widths}")
    if len(c.strides) != len(c.widths) or any(s not in (1, 2) for s in c.strides):
        raise UsageError(f"strides must be 1 or 2, one per width ({len(c.widths)}), got {c.strides}")
    if c.padding not in PADDINGS:
        raise UsageError(f"padding {c.padding!r} is not one of {PADDINGS}")
    if c.precision not in PRECISIONS:
        raise UsageError(f"precision {c.precision!r} is not one of {PRECISIONS}")
    if c.optimizer not in OPTIMIZERS:
        raise UsageError(f"optimizer {c.optimizer!r} is not one of {OPTIMIZERS}")
    for k in ("kernel_size", "batch_size", "epochs", "validation_size", "probe_size"):
        if int(getattr(c, k)) < 1:
            raise UsageError(f"{k} must be at least 1, got {getattr(c, k)}")
    if not c.learning_rate > 0:
        raise UsageError(f"learning_rate must be positive, got {c.learning_rate}")
    if not 0 <= c.momentum < 1:
        raise UsageError(f"momentum must be in [0, 1), got {c.momentum}")
    if not c.seeds or len(set(c.seeds)) != len(c.seeds):
        raise UsageError(f"seeds must be distinct and at least one, got {c.seeds}")
    if c.train_size is not None and c.train_size < c.batch_size:
        raise UsageError(f"train_size {c.train_size} is smaller than one batch ({c.batch_size})")
    if c.probe_size > c.validation_size:
        raise UsageError(f"probe_size {c.probe_size} exceeds validation_size {c.validation_size}")


QUICK = ExperimentConfig()
FULL = ExperimentConfig(
    preset="full", epochs=15, seeds=(0, 1, 2), train_size=None, validation_size=5000, probe_size=256,
)


def preset(name: str) -> ExperimentConfig:
    if name == "quick":
        return QUICK
    if name == "full":
        return FULL
    raise UsageError(f"unknown preset {name!r}; choose 'quick' or 'full'")


OPTIMIZER_NOTE = (
    "Optimizer: {opt}. SGD with momentum is the default because Adam divides each step by a "
    "running gradient scale, which partly hides how the initialization scales the gradients."
)
