"""`initlab run` and the report: resumable sections, errors before work, a report that a
real browser opens with every figure loaded."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from initlab import lab, sections
from initlab.cli import main
from initlab.errors import UsageError
from initlab.report import SectionView


def _fake_section(key, calls, fail=None):
    def run(out_dir, settings):
        calls.append(key)
        if fail:
            raise fail
        return {"value": key}

    def view(payload, out_dir):
        return SectionView(key, key, "q?", "m.", f"answer {payload['value']}", "ok")

    return sections.Section(key, key, "q?", "m.", run, view)


@pytest.fixture
def fake_sections(monkeypatch):
    calls = []
    table = {k: _fake_section(k, calls) for k in ("a", "b", "c")}
    monkeypatch.setattr(sections, "SECTIONS", table)
    return table, calls


def test_run_skips_finished_sections_unless_forced(tmp_path, fake_sections):
    table, calls = fake_sections
    first = lab.run_lab(tmp_path)
    assert [o.status for o in first] == ["ran", "ran", "ran"] and calls == ["a", "b", "c"]
    assert (tmp_path / "index.html").exists() and (tmp_path / "summary.md").exists()
    second = lab.run_lab(tmp_path)
    assert [o.status for o in second] == ["skipped"] * 3 and calls == ["a", "b", "c"]
    lab.run_lab(tmp_path, force=True, only=["b"])
    assert calls == ["a", "b", "c", "b"]


def test_interrupted_run_keeps_finished_sections(tmp_path, fake_sections, monkeypatch):
    table, calls = fake_sections
    table["b"] = _fake_section("b", calls, fail=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        lab.run_lab(tmp_path)
    assert lab.section_path(tmp_path, "a").exists()
    assert not lab.section_path(tmp_path, "b").exists()
    assert not list((tmp_path / "sections").glob(".*tmp"))  # no half-written file
    table["b"] = _fake_section("b", calls)
    outcomes = lab.run_lab(tmp_path)
    assert [o.status for o in outcomes] == ["skipped", "ran", "ran"]


def test_a_failing_section_does_not_stop_the_others(tmp_path, fake_sections):
    table, calls = fake_sections
    table["b"] = _fake_section("b", calls, fail=RuntimeError("boom"))
    outcomes = lab.run_lab(tmp_path)
    assert [o.status for o in outcomes] == ["ran", "failed", "ran"]
    assert "RuntimeError: boom" in outcomes[1].error


def test_unknown_section_and_unwritable_folder_fail_before_work(tmp_path, fake_sections):
    table, calls = fake_sections
    with pytest.raises(UsageError, match="unknown section"):
        lab.run_lab(tmp_path, only=["zz"])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="exists and is not a folder"):
        lab.run_lab(blocker)
    with pytest.raises(UsageError, match="cannot write"):
        lab.run_lab("/proc/initlab-lab")
    assert calls == []


def test_full_disk_is_refused_before_work(tmp_path, fake_sections, monkeypatch):
    table, calls = fake_sections
    monkeypatch.setattr(lab.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(UsageError, match="MiB free"):
        lab.run_lab(tmp_path)
    assert calls == []


def test_report_rebuilds_without_recomputing(tmp_path, fake_sections):
    table, calls = fake_sections
    lab.run_lab(tmp_path)
    (tmp_path / "index.html").unlink()
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "index.html").exists() and calls == ["a", "b", "c"]
    assert main(["report", str(tmp_path / "nope")]) == 2


@pytest.fixture(scope="module")
def verify_lab(tmp_path_factory):
    """A lab folder with the real Section 1, on the TensorFlow backend only (about 30 s)."""
    out = tmp_path_factory.mktemp("lab")
    settings = lab.LabSettings(backends=("tensorflow",))
    outcomes = lab.run_lab(out, settings, only=[sections.VERIFY_KEY])
    assert outcomes[0].status == "ran", outcomes
    return out


def test_verify_section_payload_and_view(verify_lab):
    payload = json.loads(lab.section_path(verify_lab, sections.VERIFY_KEY).read_text())
    assert payload["counts"]["tensorflow"] == len(payload["records"]) > 400
    assert all(m["caught"] == "caught" for m in payload["mutants"])
    view = sections.SECTIONS[sections.VERIFY_KEY].view(payload, verify_lab)
    assert view.status == "ok" and view.answer.startswith("Yes on tensorflow")
    assert all(f.path.exists() for f in view.figures)
    md = (verify_lab / "summary.md").read_text()
    assert "## 1. Verify" in md and "| initializer" in md


CHROMIUM = shutil.which("chromium")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup installs it as root)")
def test_report_opens_in_a_real_browser(verify_lab, tmp_path):
    index = verify_lab / "index.html"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        [*flags, f"--user-data-dir={tmp_path / 'p1'}", "--dump-dom", index.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    body = dom[dom.index("<body"):dom.index(">", dom.index("<body")) + 1]
    assert 'data-ready="1"' in body, body
    assert 'data-errors="0"' in body, body
    loaded, total = body.split('data-figures="')[1].split('"')[0].split("/")
    assert int(total) >= 1 and loaded == total, body
    # The screenshot lands in the test's temporary folder, or where INITLAB_SCREENSHOT_DIR says.
    shot = Path(os.environ.get("INITLAB_SCREENSHOT_DIR", tmp_path))
    shot.mkdir(parents=True, exist_ok=True)
    png = shot / "report.png"
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'p2'}", "--window-size=1300,2000",
                    f"--screenshot={png}", index.as_uri()], capture_output=True, timeout=120)
    assert png.exists() and png.stat().st_size > 20_000


def test_run_command_prints_findings_and_exit_status(tmp_path, fake_sections, capsys):
    table, calls = fake_sections
    assert main(["run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Report:" in out and "a: answer a" in out
    table["c"] = _fake_section("c", calls, fail=RuntimeError("boom"))
    assert main(["run", "--out", str(tmp_path), "--force", "--only", "c"]) == 1
    assert "c failed: RuntimeError: boom" in capsys.readouterr().out
