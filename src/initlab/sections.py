"""The six sections of the lab: how each runs, and how the report shows it.

Each `Section` has `run(out_dir, settings) -> payload` (JSON-able; figures go
under `figures/<key>/`) and `view(payload, out_dir) -> SectionView`, which
reads only the payload and the files it names, so the report can be rebuilt
without recomputing.
"""

from __future__ import annotations

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
    "bounds, and shape (Kolmogorov-Smirnov against the analytic CDF); orthogonality and exact values for the "
    "deterministic ones; seeding.\n\n"
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
        records.assign(failed=records["verdict"] != "pass")
        .groupby("initializer")
        .agg(cases=("config", lambda c: len(set(zip(c, records.loc[c.index, "shape"].map(tuple))))),
             checks=("statistic", "size"), failed=("failed", "sum"))
        .reset_index()
    )
    for backend in counts:
        per = pd.Series({r["initializer"]: 0 for r in payload["records"]})
        for r in failed[backend]:
            per[r["initializer"]] += 1
        summary[f"failed on {backend}"] = summary["initializer"].map(per).fillna(0).astype(int)
    summary = summary.drop(columns="failed")
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


SECTIONS: dict[str, Section] = {
    s.key: s
    for s in [
        Section(VERIFY_KEY, "1. Verify", VERIFY_QUESTION, VERIFY_METHOD, run_verify_section, view_verify),
    ]
}
