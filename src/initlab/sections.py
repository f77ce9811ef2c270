"""The six sections of the lab: how each runs, and how the report shows it.

Each `Section` has `run(out_dir, settings) -> payload` (JSON-able; figures go
under `figures/<key>/`) and `view(payload, out_dir) -> SectionView`, which
reads only the payload and the files it names, so the report can be rebuilt
without recomputing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from initlab.report import Figure, SectionView, Table


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    question: str
    method: str
    run: Callable[[Path, Any], dict[str, Any]]
    view: Callable[[dict[str, Any], Path], SectionView]


def _figure_dir(out_dir: Path, key: str) -> Path:
    path = Path(out_dir) / "figures" / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def _rel(path: Path, out_dir: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(out_dir).resolve()))


def _figures(payload: dict[str, Any], out_dir: Path) -> list[Figure]:
    return [Figure(caption, Path(out_dir) / rel) for caption, rel in payload.get("figures", [])]


# Section 1 ------------------------------------------------------------------------------

VERIFY_KEY = "1-verify"
VERIFY_QUESTION = "Does every keras.initializers class draw from the distribution its documentation states?"
VERIFY_METHOD = (
    "Every class is sampled at its defaults and at non-default values of every argument, on shapes that tell "
    "the fan modes apart (256x1024, conv kernels of rank 3 to 5, 1-D). Each sample is tested against the formula "
    "table: mean (z-test), variance (z-test with the distribution's kurtosis), exact support and reach of the "
    "bounds, and shape (Kolmogorov-Smirnov against the analytic CDF); orthogonality, Haar sign symmetry and exact "
    "values for the deterministic ones; seeding.\n\n"
    "Bonferroni keeps the family-wise false-alarm rate of the run at 1e-3; the sample size gives each check 99% "
    "power against a 1% error in a standard deviation, a 2%-of-std mean shift, a 1% bound error and a normal "
    "where a truncated normal is documented. Deliberately wrong initializers show that power in practice. "
    "The run repeats on Keras's TensorFlow, JAX and PyTorch backends."
)
VERIFY_PANELS = [
    ("GlorotUniform", None, (256, 1024)),
    ("HeNormal", None, (3, 3, 32, 128)),
    ("TruncatedNormal", {"mean": -0.5, "stddev": 0.3}, (256, 1024)),
    ("VarianceScaling", {"distribution": "untruncated_normal", "mode": "fan_out"}, (256, 1024)),
]


def run_verify_section(out_dir: Path, settings) -> dict[str, Any]:
    from initlab import backend_compare, figures, mutants
    from initlab.keras_backend import use_backend

    results = backend_compare.verify_on_backends(["--seed", str(settings.seed)], backends=settings.backends)
    use_backend("tensorflow")
    fig = figures.verify_histograms(VERIFY_PANELS, _figure_dir(out_dir, VERIFY_KEY) / "histograms.png", settings.seed)
    first = next(iter(results))
    return {
        "meta": {b: r["meta"] for b, r in results.items()},
        "records": results[first]["records"],
        "records_backend": first,
        "failed": {b: [r for r in p["records"] if r["verdict"] != "pass"] for b, p in results.items()},
        "counts": {b: len(p["records"]) for b, p in results.items()},
        "differences": backend_compare.differences(results),
        "mutants": mutants.catch_mutants(settings.seed),
        "figures": [("Keras samples against the documented density (red: documented bounds)", _rel(fig, out_dir))],
    }


def view_verify(payload: dict[str, Any], out_dir: Path) -> SectionView:
    failed = payload["failed"]
    counts = payload["counts"]
    meta = next(iter(payload["meta"].values()))
    clean = [b for b in counts if not failed[b]]
    broken = {b: f for b, f in failed.items() if f}
    answer = []
    if clean:
        answer.append(f"Yes on {', '.join(clean)}: all {counts[clean[0]]} checks pass.")
    for backend, rows in broken.items():
        names = sorted({r["initializer"] for r in rows})
        stats_failed = sorted({r["statistic"] for r in rows})
        answer.append(
            f"No on {backend}: {len(rows)} of {counts[backend]} checks fail ({', '.join(stats_failed)}) for "
            f"{', '.join(names)}."
        )
    if any(r["initializer"] in ("TruncatedNormal", "HeNormal") and r["statistic"] == "support"
           for rows in broken.values() for r in rows):
        answer.append(
            "The truncated normals of Keras's torch backend escape their documented bounds: it draws four normals "
            "per entry and keeps the first inside two standard deviations, and when none is (probability "
            "0.0455^4 = 4.3e-6 per entry) it keeps an untruncated value."
        )
    caught = sum(1 for m in payload["mutants"] if m["caught"] == "caught")
    answer.append(f"Power in practice: {caught} of {len(payload['mutants'])} deliberately wrong initializers caught.")
    status = "failed" if not clean else ("findings" if broken else "ok")

    records = pd.DataFrame(payload["records"])
    summary = (
        records.assign(case=records["config"] + " @ " + records["shape"].map(str))
        .groupby("initializer")
        .agg(cases=("case", "nunique"), checks=("statistic", "size"))
        .reset_index()
    )
    for backend in counts:
        per = Counter(r["initializer"] for r in failed[backend])
        summary[f"failed on {backend}"] = summary["initializer"].map(lambda name: per[name])
    power = pd.DataFrame(
        [{"statistic": k, "smallest effect detected with 99% probability": v} for k, v in meta["detectable"].items()]
    )
    tables = [
        Table("Checks per initializer and backend", summary,
              f"n = {meta['samples_per_case']:,} samples per case; per-check alpha = {meta['alpha_per_check']:.2e} "
              f"(Bonferroni over {meta['statistical_checks']} checks); family-wise false-alarm rate <= "
              f"{meta['family_alpha']:g}."),
        Table("Power of the default run", power),
        Table("Deliberately wrong initializers", pd.DataFrame(payload["mutants"])),
    ]
    if payload["differences"]:
        diff = pd.DataFrame([
            {"initializer": d["initializer"], "configuration": d["config"], "shape": "x".join(map(str, d["shape"])),
             "statistic": d["statistic"], "expected": d["expected"],
             **{f"{b}": f"{d['verdict'][b]}: {d['observed'][b]}" for b in d["verdict"]}}
            for d in payload["differences"]
        ])
        tables.append(Table("Checks whose verdict depends on the backend", diff))
    tables.append(Table(
        f"Every check on {payload['records_backend']}",
        records[["initializer", "config", "shape", "statistic", "expected", "observed", "verdict", "detectable"]]
        .assign(shape=lambda f: f["shape"].map(lambda s: "x".join(map(str, s)) or "()")),
    ))
    findings = [
        f"{b}: {len(rows)} failed checks, e.g. {rows[0]['initializer']} {rows[0]['statistic']} "
        f"{rows[0]['observed']} (expected {rows[0]['expected']})"
        for b, rows in broken.items()
    ]
    return SectionView(VERIFY_KEY, "1. Verify", VERIFY_QUESTION, VERIFY_METHOD, "\n\n".join(answer), status,
                       tables, _figures(payload, out_dir), findings)


# Section 2 ------------------------------------------------------------------------------

RECONSTRUCT_KEY = "2-reconstruct"
RECONSTRUCT_QUESTION = (
    "Are GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal and LecunUniform really "
    "VarianceScaling(scale, mode, distribution)? Which configuration is which?"
)
RECONSTRUCT_METHOD = (
    "Each named initializer is rebuilt as the VarianceScaling the formula table gives for it, and the equality is "
    "proved twice. Exactly: for the same seed and shape (a 256x512 dense kernel and a 3x3x64x128 conv kernel) the "
    "two return identical bytes, on Keras's TensorFlow, JAX and PyTorch backends. By formula: the table's variance "
    "and bounds of both are equal, and samples of both pass verify's checks.\n\n"
    "The other direction: every VarianceScaling configuration of the grid is named — the Keras initializer it "
    "equals, if any, and the PyTorch and JAX calls that draw from the same distribution."
)


def run_reconstruct_section(out_dir: Path, settings) -> dict[str, Any]:
    from initlab import reconstruct
    from initlab.keras_backend import use_backend

    use_backend("tensorflow")
    others = tuple(b for b in settings.backends if b != "tensorflow")
    return reconstruct.run_reconstruct(seed=settings.seed, other_backends=others).to_dict()


def view_reconstruct(payload: dict[str, Any], out_dir: Path) -> SectionView:
    recs = payload["reconstructions"]
    exact = pd.DataFrame([
        {"initializer": r["name"], "VarianceScaling": r["keras_call"].replace("keras.initializers.", ""),
         "shape": "x".join(map(str, e["shape"])), "backend": e["backend"],
         "bit-identical": "identical" if e["identical"] else f"FAIL: max diff {e['max_abs_diff']:.3g}"}
        for r in recs for e in r["exact"]
    ])
    formula = pd.DataFrame([
        {"initializer": r["name"], "shape": "x".join(map(str, f["shape"])), "named": f["named"],
         "reconstruction": f["reconstruction"], "variance": f"{f['variance']:.6g}",
         "equal": "equal" if f["equal"] else "FAIL: differ",
         "named passes verify": "pass" if all(c["passed"] for c in f["checks_named"]) else "FAIL",
         "reconstruction passes verify": "pass" if all(c["passed"] for c in f["checks_reconstruction"]) else "FAIL"}
        for r in recs for f in r["formula"]
    ])
    reverse = pd.DataFrame([
        {"scale": v["config"]["scale"], "mode": v["config"]["mode"], "distribution": v["config"]["distribution"],
         "Keras": v["keras"] or "(VarianceScaling only)", "PyTorch": v["torch_call"]
         + ("" if v["torch_exact_call"] else " (same variance only)"),
         "JAX": v["jax_call"], "notes": "; ".join(v["notes"])}
        for v in payload["reverse"]
    ])
    backends = sorted({e["backend"] for r in recs for e in r["exact"]})
    identical = all(e["identical"] for r in recs for e in r["exact"])
    answer = [
        ("Yes. " if payload["passed"] else "No. ")
        + f"All six named initializers equal their VarianceScaling form bit for bit on {', '.join(backends)}"
        + (" and by formula (same variance and bounds; both pass verify)." if payload["passed"] else ".")
        if identical else "Not bit for bit: see the failing rows.",
        "GlorotX = VarianceScaling(1, fan_avg, X), HeX = VarianceScaling(2, fan_in, X), "
        "LecunX = VarianceScaling(1, fan_in, X), with X = uniform or truncated_normal.",
    ]
    return SectionView(
        RECONSTRUCT_KEY, "2. Reconstruct", RECONSTRUCT_QUESTION, RECONSTRUCT_METHOD, "\n\n".join(answer),
        "ok" if payload["passed"] else "failed",
        [Table("Exact: same seed, same shape, same bytes", exact),
         Table("By formula", formula),
         Table("The other direction: what each VarianceScaling configuration is", reverse)],
    )


# Section 3 ------------------------------------------------------------------------------

PARITY_KEY = "3-parity"
PARITY_QUESTION = (
    "When PyTorch or JAX and Keras claim the same initializer, do they draw from the same distribution, "
    "at the same logical layer?"
)
PARITY_METHOD = (
    "Each pair (kaiming_normal_ / HeNormal, xavier_uniform_ / GlorotUniform, trunc_normal_ / TruncatedNormal, "
    "PyTorch's default Linear and Conv init / Keras's defaults, JAX's initializers, ...) is drawn at the same "
    "Dense 256->512, 3x3 conv 64->128 and depthwise conv, each framework's layout converted explicitly. Each side "
    "is tested against its own formula and against the other's with verify's one-sample tests at about 250,000 "
    "samples, which can see a 1% error in a standard deviation and the difference between a normal and a "
    "truncated normal (KS distance 0.017).\n\n"
    "The 10,000-sample two-sample comparison (an F interval on the variance ratio, adjusted for kurtosis, and a "
    "two-sample KS) is reported with what it can detect: at 10,000 per side it cannot tell a normal from a "
    "variance-matched truncated normal, which is why the verdict rests on the one-sample tests."
)
# The figures the report shows; the others stay in the folder.
PARITY_FIGURE_PAIRS = ("kaiming_normal_", "xavier_uniform_", "trunc_normal_", "torch-default-linear", "jax.uniform",
                       "jax.variance_scaling(normal)")


def run_parity_section(out_dir: Path, settings) -> dict[str, Any]:
    from initlab import parity
    from initlab.keras_backend import use_backend

    use_backend("tensorflow")
    result = parity.run_parity(out_dir=Path(out_dir) / PARITY_KEY, seed=settings.seed).to_dict()
    for comparison in result["comparisons"]:
        if comparison.get("figure"):
            comparison["figure"] = _rel(Path(comparison["figure"]), out_dir)
    result["figures"] = [_rel(Path(f), out_dir) for f in result["figures"]]
    return result


def view_parity(payload: dict[str, Any], out_dir: Path) -> SectionView:
    comps = payload["comparisons"]
    frame = pd.DataFrame([
        {"pair": c["pair"], "framework": c["framework"], "layer": c["layer"], "part": c["part"],
         "Keras": c["keras_call"], "other": c["other_call"],
         "Var other / Keras": f"{c['predicted']['variance_ratio']:.4g}" if isinstance(
             c["predicted"]["variance_ratio"], (int, float)) else c["predicted"]["variance_ratio"],
         "observed": c["observed"],
         "10k two-sample can tell": {True: "yes", False: "no", None: "-"}[c["two_sample_can_tell"]],
         "status": "pass" if c["status"] == "ok" else "FAIL", "verdict": c["verdict"]}
        for c in comps
    ])
    failed = [c for c in comps if c["status"] != "ok"]
    same = sum(1 for c in comps if c["predicted"]["verdict"].startswith("same distribution"))
    shape_only = sum(1 for c in comps if c["predicted"]["verdict"].startswith("same variance"))
    differ = len(comps) - same - shape_only
    answer = [
        f"{len(comps)} comparisons: {same} same distribution, {shape_only} same variance but a different shape, "
        f"{differ} different variance (or an exact pair that differs); "
        + ("every one as the formula tables predict." if not failed else f"{len(failed)} not as predicted."),
        "The differences are by design, not bugs: Keras truncates its normals at two standard deviations, PyTorch "
        "does not; PyTorch's default Linear and Conv init is kaiming_uniform_(a=sqrt(5)), half of Glorot's variance "
        "for a 256->512 layer; Keras counts a depthwise kernel's fan_in across channels, PyTorch does not.",
    ]
    notes = pd.DataFrame([{"difference": k, "explanation": v} for k, v in payload["notes"].items()]) if isinstance(
        payload["notes"], dict) else pd.DataFrame({"explanation": payload["notes"]})
    figures = [
        Figure(f"{c['framework']} {c['other_call']} vs Keras {c['keras_call']} at {c['layer']}: {c['verdict']}",
               Path(out_dir) / c["figure"])
        for c in comps
        if c.get("figure") and c["layer"] == "dense" and c["pair"] in PARITY_FIGURE_PAIRS
    ] + [
        Figure(f"{c['framework']} {c['other_call']} vs Keras {c['keras_call']} at {c['layer']}: {c['verdict']}",
               Path(out_dir) / c["figure"])
        for c in comps if c.get("figure") and c["layer"] == "depthwise" and c["pair"] == "kaiming_normal_"
    ]
    return SectionView(
        PARITY_KEY, "3. Parity", PARITY_QUESTION, PARITY_METHOD, "\n\n".join(answer),
        "failed" if failed else "ok",
        [Table("Pair by pair", frame), Table("Every known difference, named", notes)],
        figures,
        findings=[f"{c['pair']} @ {c['layer']}: {c['verdict']}" for c in failed],
    )


# Section 4 ------------------------------------------------------------------------------

EXPERIMENT_KEY = "4-experiment"
EXPERIMENT_QUESTION = (
    "Does the initialization change how a plain deep conv net trains: Tanh + GlorotUniform, ReLU + GlorotUniform, "
    "ReLU + HeNormal?"
)
EXPERIMENT_METHOD = (
    "A plain stack of 10 weight layers (9 convolutions, then a classifier; no BatchNormalization, which would hide "
    "the initialization) is trained on CIFAR-10 under the three conditions with the same architecture, data "
    "order and seeds, by SGD with momentum (Adam's step ignores the gradient's scale and would partly hide the "
    "effect). On a fixed probe batch the run records each layer's activation mean and variance, the fraction of "
    "dead ReLU or saturated tanh units, and the gradient variance, at initialization and after every epoch.\n\n"
    "He et al. (2015) predict the ratio of activation variance from layer to layer: 0.5 fan_in Var(w) for ReLU, "
    "which is about 1/2 for Glorot and about 1 for He when widths are equal. The figures put the measured "
    "variance beside that prediction."
)


def run_experiment_section(out_dir: Path, settings) -> dict[str, Any]:
    from initlab.experiment import FULL, QUICK, load_results, plot_run, run_experiment

    config = FULL if settings.full else QUICK
    config = config.replace(seeds=tuple(s + settings.seed for s in config.seeds), data=settings.data)
    run_dir = run_experiment(config, Path(out_dir) / EXPERIMENT_KEY)
    figures = plot_run(run_dir)
    results = load_results(run_dir)
    layers = results["layers"]
    at_init = layers[layers["epoch"] == 0]
    variance = (
        at_init.groupby(["condition", "layer_index", "layer"], sort=False)
        .agg(measured=("pre_var", "mean"), predicted=("predicted_var", "mean"),
             predicted_ratio=("predicted_ratio", "mean"),
             dead=("dead_fraction", "mean"), saturated=("saturated_fraction", "mean"))
        .reset_index()
    )
    captions = {
        "training_loss.png": "Training loss per step (mean over seeds, band: min to max)",
        "validation_accuracy.png": "Validation accuracy per epoch",
        "activation_variance_epoch1.png": "Per-layer activation variance at initialization and after epoch 1, "
                                          "beside He et al.'s prediction (log scale)",
        "gradient_variance.png": "Per-layer gradient variance",
    }
    return {
        "run_dir": _rel(run_dir, out_dir),
        "env": {k: results["env"].get(k) for k in ("data", "is_subset", "subset_note", "optimizer_note",
                                                   "n_train", "n_val", "n_test", "seeds")},
        "config": results["config"],
        "summary": results["summary"].to_dict(orient="records"),
        "variance_at_init": variance.to_dict(orient="records"),
        "figures": [(captions.get(p.name, p.stem.replace("_", " ")), _rel(p, out_dir))
                    for p in figures if p.name in captions],
    }


def view_experiment(payload: dict[str, Any], out_dir: Path) -> SectionView:
    summary = pd.DataFrame(payload["summary"])
    by_condition = (
        summary.groupby("condition", sort=False)
        .agg(seeds=("seed", "size"), diverged=("status", lambda s: int((s == "diverged").sum())),
             final_train_loss=("final_train_loss", "mean"), val_accuracy=("final_val_accuracy", "mean"),
             val_accuracy_spread=("final_val_accuracy", lambda v: float(v.max() - v.min())),
             test_accuracy=("test_accuracy", "mean"))
        .reset_index()
    )
    variance = pd.DataFrame(payload["variance_at_init"])
    best = by_condition.sort_values("val_accuracy", ascending=False).iloc[0]
    answer = [
        f"Yes. After {payload['config']['epochs']} epochs, {best['condition']} reaches the best validation accuracy "
        f"({best['val_accuracy']:.1%} mean over {int(best['seeds'])} seeds); "
        + "; ".join(f"{r.condition} {r.val_accuracy:.1%}" for r in by_condition.itertuples() if r.condition != best["condition"])
        + ".",
    ]
    convs = variance[variance["layer"].str.startswith("conv")]
    lines = []
    for condition, g in convs.groupby("condition", sort=False):
        g = g.sort_values("layer_index")
        measured = g["measured"].iloc[-1] / g["measured"].iloc[0]
        ideal = float(g["predicted_ratio"].iloc[1:].prod())
        error = float((g["measured"] / g["predicted"] - 1).abs().median())
        lines.append(f"{condition}: last/first conv variance {measured:.2g} (He et al. compounded: {ideal:.2g}; "
                     f"layer by layer within a median {error:.0%})")
    answer.append(
        "At initialization, on the probe batch: " + "; ".join(lines) + ". ReLU with Glorot halves the variance at "
        "every layer, as He et al. predict; He's factor 2 keeps it. The per-layer prediction uses each layer's "
        "measured input; tanh's prediction treats tanh as linear near 0, so it overestimates."
    )
    if payload["env"].get("subset_note"):
        answer.append(payload["env"]["subset_note"])
    diverged = summary[summary["status"] == "diverged"]
    findings = [f"{r.condition} seed {r.seed} diverged at step {int(r.diverged_step)}" for r in diverged.itertuples()]
    variance_table = variance.assign(
        ratio=lambda f: f["measured"] / f["predicted"],
    ).round({"measured": 5, "predicted": 5, "ratio": 3, "dead": 3, "saturated": 3})
    return SectionView(
        EXPERIMENT_KEY, "4. Experiment", EXPERIMENT_QUESTION, EXPERIMENT_METHOD, "\n\n".join(answer),
        "findings" if findings else "ok",
        [Table("Per condition (mean over seeds)", by_condition.round(4),
               f"{payload['env'].get('optimizer_note', '')} Data: {payload['env'].get('data', '?')}"),
         Table("Per-layer activation variance at initialization: measured vs He et al.", variance_table),
         Table("Every run", summary)],
        _figures(payload, out_dir),
        findings,
    )


# Section 5 ------------------------------------------------------------------------------

AUDIT_KEY = "5-audit"
AUDIT_QUESTION = (
    "Does every weight of a model start from the initializer its layer declares, and is that the initializer "
    "the design intended?"
)
AUDIT_METHOD = (
    "initlab audit walks every weight of a model (nested models, wrappers, RNN cells included), reads the "
    "initializer its layer declares, and tests the weight's initial values against that initializer's formula "
    "with verify's statistics, sized to the weight (Bonferroni over the model, family-wise 1e-3). A TOML policy "
    "states the intended initializers by layer type, weight role and name pattern.\n\n"
    "The lab's models are a ResNet-style block and a small ResNet (he_normal convolutions, glorot_uniform "
    "projection shortcuts) and an RNN with a custom cell whose recurrent kernel is orthogonal. Two planted "
    "faults show the audit fails when it should: a kernel overwritten with set_weights, and a Conv2D left at "
    "Keras's default initializer. A PyTorch module, which records no initializer, is audited by inference."
)


def _audit_rows(result: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([
        {"layer": w["layer"], "role": w["role"], "shape": "x".join(map(str, w["shape"])),
         "declared": w["declared"], "documented law": w["law"], "status": w["status"],
         "detects": w["detectable"], "note": w["note"]}
        for w in result["weights"]
    ])


def run_audit_section(out_dir: Path, settings) -> dict[str, Any]:
    from initlab import audit, models
    from initlab.keras_backend import use_backend
    from initlab.policy import shipped_policy

    use_backend("tensorflow")
    import keras

    lab_models = {
        name: audit.audit_source(source, shipped_policy(policy)).to_dict() | {"policy_file": policy}
        for name, (source, policy) in models.lab_models().items()
    }
    tampered = models.resnet_block_model(seed=settings.seed)
    conv = next(layer for layer in tampered.layers if isinstance(layer, keras.layers.Conv2D))
    kernel, *rest = conv.get_weights()
    conv.set_weights([kernel * 1.5, *rest])
    tampered_result = audit.audit_model(tampered, shipped_policy("resnet.toml"), source="resnet_block, one kernel x1.5")

    inputs = keras.Input((16, 16, 8), name="image")
    x = keras.layers.Conv2D(16, 3, name="conv_default")(inputs)
    plain = keras.Model(inputs, x, name="default_conv")
    violation_result = audit.audit_model(plain, shipped_policy("resnet.toml"), source="Conv2D with default init")

    import torch

    torch.manual_seed(settings.seed)
    net = torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64))
    torch.nn.init.xavier_normal_(net[2].weight)
    torch_result = audit.audit_model(net, source="Linear(256,128) default; Linear(128,64) xavier_normal_")
    return {
        "models": lab_models,
        "tampered": tampered_result.to_dict(),
        "violation": violation_result.to_dict(),
        "torch": torch_result.to_dict(),
    }


def view_audit(payload: dict[str, Any], out_dir: Path) -> SectionView:
    models = payload["models"]
    passed = {n: r for n, r in models.items() if not r["summary"]["failed"]}
    weights = sum(r["summary"]["weights"] for r in models.values())
    tampered, violation = payload["tampered"], payload["violation"]
    flagged = [w for w in tampered["weights"] if w["status"] == "MISMATCH"]
    answer = [
        f"{len(passed)} of {len(models)} lab models ({', '.join(models)}) start from their declared initializers "
        f"and pass their policies ({weights} weights audited)."
    ]
    if flagged:
        answer.append(f"The overwritten kernel is flagged: {flagged[0]['layer']} {flagged[0]['role']}: "
                      f"{flagged[0]['note']}")
    if violation["violations"]:
        answer.append(f"The default-initialized Conv2D violates the policy: {violation['violations'][0]['message']}")
    torch_rows = [
        {"module": w["layer"], "parameter": w["role"], "shape": "x".join(map(str, w["shape"])),
         "PyTorch default": w["declared"],
         "consistent with": ", ".join(c["name"] for c in w["candidates"] if c["consistent"]) or "none",
         "status": w["status"]}
        for w in payload["torch"]["weights"]
    ]
    ok = len(passed) == len(models) and flagged and violation["violations"]
    tables = [Table(f"{name} (policy {r['policy_file']})", _audit_rows(r)) for name, r in models.items()]
    tables += [
        Table("Planted fault 1: a kernel overwritten with set_weights (x1.5)", _audit_rows(tampered)),
        Table("Planted fault 2: policy violations of a Conv2D at Keras's default",
              pd.DataFrame(violation["violations"])[["layer", "role", "intended", "found", "rule"]]
              if violation["violations"] else pd.DataFrame()),
        Table("PyTorch: which initializers each parameter is consistent with", pd.DataFrame(torch_rows)),
    ]
    return SectionView(AUDIT_KEY, "5. Audit", AUDIT_QUESTION, AUDIT_METHOD, "\n\n".join(answer),
                       "ok" if ok else "failed", tables)


# Section 6 ------------------------------------------------------------------------------

DEFAULTS_KEY = "6-defaults"
DEFAULTS_QUESTION = "What do Keras layers start as when you pass no initializer, and how does that compare with PyTorch?"
DEFAULTS_METHOD = (
    "initlab defaults builds Dense, Conv1D/2D/3D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, LSTM, GRU, "
    "SimpleRNN, Bidirectional, BatchNormalization, LayerNormalization, Embedding and MultiHeadAttention with "
    "default settings, reads each weight's declared initializer, and tests the values it actually starts with, "
    "including what other options set (LSTM's unit_forget_bias, attention's einsum fans). Beside each, the "
    "matching PyTorch module's default, its formula, and Var(Keras) / Var(PyTorch) for the stated sizes. "
    "Everything is read from the installed versions."
)


def run_defaults_section(out_dir: Path, settings) -> dict[str, Any]:
    from initlab import defaults
    from initlab.keras_backend import use_backend

    use_backend("tensorflow")
    return defaults.run_defaults(torch_seed=settings.seed).to_dict()


def view_defaults(payload: dict[str, Any], out_dir: Path) -> SectionView:
    rows = payload["rows"]
    frame = pd.DataFrame([
        {"layer": r["layer"], "weight": r["weight"], "Keras shape": r["keras_shape"], "declared": r["declared"],
         "Keras starts as": r["keras_law"] + (f" ({r['keras_note']})" if r["keras_note"] else ""),
         "Keras check": r["keras_status"], "PyTorch": f"{r['torch_param']}: {r['torch_call']}",
         "PyTorch law": r["torch_law"], "PyTorch check": r["torch_status"], "Var Keras / PyTorch": r["variance_ratio"]}
        for r in rows
    ])
    problems = [r for r in rows if "MISMATCH" in (r["keras_status"], r["torch_status"])]
    notes = [r for r in rows if r["keras_note"]]
    answer = [f"{len(rows)} weights of {len(set(r['layer'] for r in rows))} layers; "
              f"{len(rows) - len(problems)} start exactly as their effective initializer says."]
    answer += [f"{r['layer']} {r['weight']}: {r['keras_note']}" for r in notes[:4]]
    sizes = payload.get("meta", {}).get("sizes", {})
    return SectionView(
        DEFAULTS_KEY, "6. Defaults", DEFAULTS_QUESTION, DEFAULTS_METHOD, "\n\n".join(answer),
        "failed" if problems else ("findings" if notes else "ok"),
        [Table("Keras defaults beside PyTorch", frame, "Sizes: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))],
        findings=[f"{r['layer']} {r['weight']}: Keras {r['keras_status']}, PyTorch {r['torch_status']}"
                  for r in problems],
    )


SECTIONS: dict[str, Section] = {
    s.key: s
    for s in [
        Section(VERIFY_KEY, "1. Verify", VERIFY_QUESTION, VERIFY_METHOD, run_verify_section, view_verify),
        Section(RECONSTRUCT_KEY, "2. Reconstruct", RECONSTRUCT_QUESTION, RECONSTRUCT_METHOD, run_reconstruct_section,
                view_reconstruct),
        Section(PARITY_KEY, "3. Parity", PARITY_QUESTION, PARITY_METHOD, run_parity_section, view_parity),
        Section(EXPERIMENT_KEY, "4. Experiment", EXPERIMENT_QUESTION, EXPERIMENT_METHOD, run_experiment_section,
                view_experiment),
        Section(AUDIT_KEY, "5. Audit", AUDIT_QUESTION, AUDIT_METHOD, run_audit_section, view_audit),
        Section(DEFAULTS_KEY, "6. Defaults", DEFAULTS_QUESTION, DEFAULTS_METHOD, run_defaults_section, view_defaults),
    ]
}
