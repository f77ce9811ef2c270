"""`initlab run`: the whole lab, section by section, into one folder, then the report.

Layout of a lab folder:
    lab.json                 settings, versions, start time
    sections/<key>.json      each section's results, written atomically when it ends
    figures/<key>/*.png      each section's figures
    <key>/...                a section's own artifacts (the experiment's run folder)
    index.html, summary.md   the report, rebuilt from the files above

A section whose JSON exists is skipped on the next run unless `force`, so an
interrupted run keeps what it finished.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from initlab import render
from initlab.errors import UsageError

# Disk the default lab needs: figures, section JSON, the experiment's checkpoints and logs.
MIN_FREE_BYTES = 300 * 2**20


@dataclass(frozen=True)
class LabSettings:
    """Every knob of a lab run; `full` switches the experiment to all of CIFAR-10."""

    seed: int = 0
    full: bool = False
    data: str | None = None
    backends: tuple[str, ...] = ("tensorflow", "jax", "torch")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SectionOutcome:
    key: str
    status: str  # "ran", "skipped" (done before), "failed" (raised)
    seconds: float
    error: str | None = None


def section_path(out_dir: Path, key: str) -> Path:
    return Path(out_dir) / "sections" / f"{key}.json"


def check_output_dir(out_dir: Path) -> Path:
    """Fails before any long work if the folder cannot be written or the disk is nearly full."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output {str(out_dir)!r} exists and is not a folder")
    render.check_writable(out_dir / "sections" / "probe", "to output folder")
    free = shutil.disk_usage(out_dir).free
    if free < MIN_FREE_BYTES:
        raise UsageError(
            f"only {free / 2**20:.0f} MiB free under {str(out_dir)!r}; the lab needs at least "
            f"{MIN_FREE_BYTES / 2**20:.0f} MiB"
        )
    return out_dir


def run_lab(
    out_dir: str | Path,
    settings: LabSettings = LabSettings(),
    force: bool = False,
    only: Sequence[str] | None = None,
    on_section: Callable[[str, str], None] | None = None,
) -> list[SectionOutcome]:
    """Runs every section (or `only` those) whose results are not saved yet, then writes the report.

    A section that raises is recorded as failed and the others go on; `on_section(key, event)`
    is told "start", "skip", "done" or "failed".
    """
    from initlab import sections
    from initlab.keras_backend import versions

    out_dir = check_output_dir(Path(out_dir))
    keys = list(sections.SECTIONS)
    if only:
        unknown = [k for k in only if k not in sections.SECTIONS]
        if unknown:
            raise UsageError(f"unknown section(s) {', '.join(unknown)}; sections are {', '.join(keys)}")
        keys = [k for k in keys if k in only]
    render.write_json(out_dir / "lab.json", {
        "settings": settings.to_dict(), "versions": versions(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    })
    outcomes = []
    for key in keys:
        target = section_path(out_dir, key)
        if target.exists() and not force:
            outcomes.append(SectionOutcome(key, "skipped", 0.0))
            if on_section:
                on_section(key, "skip")
            continue
        if on_section:
            on_section(key, "start")
        start = time.perf_counter()
        try:
            payload = sections.SECTIONS[key].run(out_dir, settings)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one broken section must not lose the others
            outcomes.append(SectionOutcome(key, "failed", time.perf_counter() - start, f"{type(exc).__name__}: {exc}"))
            if on_section:
                on_section(key, "failed")
            continue
        payload["seconds"] = time.perf_counter() - start
        render.write_json(target, payload)
        outcomes.append(SectionOutcome(key, "ran", payload["seconds"]))
        if on_section:
            on_section(key, "done")
    build_report(out_dir)
    return outcomes


def load_sections(out_dir: Path) -> dict[str, dict[str, Any]]:
    from initlab import sections

    loaded = {}
    for key in sections.SECTIONS:
        path = section_path(out_dir, key)
        if path.exists():
            try:
                loaded[key] = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path} is not valid JSON ({exc}); rerun that section with --force") from None
    return loaded


def section_views(out_dir: str | Path) -> list:
    """One `SectionView` per section, from the saved files; sections not run yet say so."""
    from initlab import report, sections

    out_dir = Path(out_dir)
    if not (out_dir / "sections").is_dir():
        raise UsageError(f"{str(out_dir)!r} is not a lab folder (no sections/ inside); run `initlab run` first")
    loaded = load_sections(out_dir)
    views = []
    for key, section in sections.SECTIONS.items():
        if key in loaded:
            views.append(section.view(loaded[key], out_dir))
        else:
            views.append(report.SectionView(
                key, section.title, section.question, section.method,
                f"This section has not run yet: `initlab run --only {key}`.", status="missing",
            ))
    return views


def build_report(out_dir: str | Path) -> tuple[Path, Path]:
    """Rebuilds index.html and summary.md from a lab folder's saved files; recomputes nothing."""
    from initlab import report

    out_dir = Path(out_dir)
    views = section_views(out_dir)
    meta_path = out_dir / "lab.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    versions = meta.get("versions", {})
    header = {
        "run": meta.get("started", "?"),
        "keras": versions.get("keras", "?"),
        "tensorflow": versions.get("tensorflow", "?"),
        "torch": versions.get("torch", "?"),
        "jax": versions.get("jax", "?"),
        "seed": meta.get("settings", {}).get("seed", "?"),
        "mode": "full" if meta.get("settings", {}).get("full") else "default (bundled CIFAR-10 subset)",
    }
    return report.write_report(views, out_dir, header)


def findings(views: list) -> list[str]:
    """A few lines for the terminal: each section's headline."""
    return [f"{v.title}: {v.answer.splitlines()[0]}" for v in views if v.status != "missing"]
