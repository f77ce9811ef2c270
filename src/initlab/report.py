"""The lab report: a self-contained `index.html` and a Markdown summary.

The report is drawn only from what a run saved (section JSON and PNG figures),
so `initlab report RUN_DIR` rebuilds it without recomputing. Figures are
embedded as base64 so the HTML opens offline from any folder. Tables come
from pandas; a few lines of inline script make them sortable, mark failed
rows, and record on the page whether every figure loaded (the browser test
reads that mark).
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from initlab.atomic import write_text_atomic

STATUS_LABEL = {"ok": "all checks pass", "findings": "findings", "failed": "checks failed", "missing": "not run"}


@dataclass
class Table:
    caption: str
    frame: pd.DataFrame
    note: str = ""


@dataclass
class Figure:
    caption: str
    path: Path


@dataclass
class SectionView:
    """What the report shows of one section: the lab's question, method, evidence and answer."""

    key: str
    title: str
    question: str
    method: str
    answer: str
    status: str = "ok"
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7fb}
header{background:#1d2330;color:#fff;padding:1.5rem 2rem}
header h1{margin:0 0 .3rem 0;font-size:1.6rem} header p{margin:.2rem 0;color:#c9cfdd}
nav{display:flex;flex-wrap:wrap;gap:.5rem;padding:1rem 2rem;background:#fff;border-bottom:1px solid #e1e4ec;position:sticky;top:0}
nav a{text-decoration:none;color:#1d2330;padding:.3rem .7rem;border-radius:1rem;background:#eef0f6;font-size:.9rem}
main{padding:1rem 2rem;max-width:1300px}
section{background:#fff;border:1px solid #e1e4ec;border-radius:8px;padding:1.2rem 1.5rem;margin:1.2rem 0}
section h2{margin-top:0}
.badge{font-size:.75rem;padding:.15rem .55rem;border-radius:1rem;margin-left:.5rem;vertical-align:middle}
.ok{background:#d8f3e0;color:#135c2c}.findings{background:#fff1cc;color:#6b4b00}.failed{background:#fde0e0;color:#8a1111}.missing{background:#e6e6e6;color:#444}
blockquote{margin:.5rem 0;padding:.5rem 1rem;border-left:4px solid #6c7cd1;background:#f3f4fb}
.answer{padding:.7rem 1rem;background:#f1f8f3;border-left:4px solid #2f9e58;margin:.8rem 0}
.answer.failed{background:#fdf1f1;border-color:#c62828}.answer.findings{background:#fff8e6;border-color:#d49b00}
ul.findings li{margin:.2rem 0}
.tablewrap{max-height:420px;overflow:auto;border:1px solid #e1e4ec;border-radius:6px;margin:.4rem 0 1rem 0}
table{border-collapse:collapse;font-size:.82rem;width:100%}
th{position:sticky;top:0;background:#eef0f6;cursor:pointer;text-align:left;padding:.35rem .5rem;white-space:nowrap}
td{padding:.3rem .5rem;border-top:1px solid #eef0f6;vertical-align:top}
tr.fail td{background:#fde0e0;color:#8a1111;font-weight:600}
figure{margin:.5rem 0 1rem 0} figure img{max-width:100%;border:1px solid #e1e4ec;border-radius:6px}
figcaption{font-size:.85rem;color:#555}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}
.caption{font-weight:600;margin:.8rem 0 .2rem 0}.note{font-size:.85rem;color:#555}
"""

_SCRIPT = """
(function(){
  var errors=0; window.addEventListener('error',function(){errors++;document.body.dataset.errors=errors;});
  document.querySelectorAll('td').forEach(function(td){
    var text=td.textContent.trim();
    if(/^(FAIL|fail|differs|violation|MISMATCH)/.test(text)){td.parentElement.classList.add('fail');}
    if(text.length>120){td.style.minWidth='28rem';}
  });
  document.querySelectorAll('table').forEach(function(table){
    table.querySelectorAll('th').forEach(function(th,col){
      th.title='click to sort';
      th.addEventListener('click',function(){
        var body=table.tBodies[0], rows=Array.from(body.rows), asc=th.dataset.asc!=='1';
        rows.sort(function(a,b){
          var x=a.cells[col].textContent.trim(), y=b.cells[col].textContent.trim();
          var nx=parseFloat(x), ny=parseFloat(y);
          var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);
          return asc?c:-c;});
        rows.forEach(function(r){body.appendChild(r);}); th.dataset.asc=asc?'1':'0';});
    });
  });
  window.addEventListener('load',function(){
    var imgs=Array.from(document.images), ok=imgs.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;
    document.body.dataset.figures=ok+'/'+imgs.length;
    document.body.dataset.errors=errors;
    document.body.dataset.ready='1';
  });
})();
"""


def _embed(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _table_html(table: Table) -> str:
    frame_html = table.frame.to_html(index=False, escape=True, border=0, na_rep="")
    note = f'<div class="note">{html.escape(table.note)}</div>' if table.note else ""
    return f'<div class="caption">{html.escape(table.caption)}</div>{note}<div class="tablewrap">{frame_html}</div>'


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def render_html(views: list[SectionView], meta: dict[str, Any]) -> str:
    nav = "".join(
        f'<a href="#{v.key}">{html.escape(v.title)} <span class="badge {v.status}">{STATUS_LABEL[v.status]}</span></a>'
        for v in views
    )
    parts = []
    for v in views:
        findings = (
            '<ul class="findings">' + "".join(f"<li>{html.escape(f)}</li>" for f in v.findings) + "</ul>"
            if v.findings else ""
        )
        figures = "".join(
            f'<figure><img alt="{html.escape(f.caption)}" src="{_embed(f.path)}"><figcaption>{html.escape(f.caption)}</figcaption></figure>'
            for f in v.figures if Path(f.path).exists()
        )
        parts.append(
            f'<section id="{v.key}"><h2>{html.escape(v.title)}<span class="badge {v.status}">{STATUS_LABEL[v.status]}</span></h2>'
            f"<blockquote>{html.escape(v.question)}</blockquote>"
            f"<h3>Method</h3>{_paragraphs(v.method)}"
            f'<h3>Answer</h3><div class="answer {v.status}">{_paragraphs(v.answer)}{findings}</div>'
            f"<h3>Evidence</h3>{''.join(_table_html(t) for t in v.tables)}"
            f'<div class="figs">{figures}</div></section>'
        )
    meta_line = " · ".join(f"{html.escape(str(k))} {html.escape(str(v))}" for k, v in meta.items())
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>initlab — Weight Initialization lab report</title><style>{_CSS}</style></head><body>"
        "<header><h1>Weight Initialization in TensorFlow — lab report</h1>"
        f"<p>{meta_line}</p></header><nav>{nav}</nav><main>{''.join(parts)}</main>"
        f"<script>{_SCRIPT}</script></body></html>"
    )


def render_markdown(views: list[SectionView], meta: dict[str, Any], figure_root: Path) -> str:
    lines = ["# Weight Initialization in TensorFlow — lab report", ""]
    lines += [f"- **{k}**: {v}" for k, v in meta.items()] + [""]
    for v in views:
        lines += [f"## {v.title} ({STATUS_LABEL[v.status]})", "", f"> {v.question}", "", "**Method.** " + v.method.strip(), ""]
        lines += ["**Answer.** " + v.answer.strip(), ""]
        lines += [f"- {f}" for f in v.findings] + ([""] if v.findings else [])
        for t in v.tables:
            lines += [f"**{t.caption}**", ""]
            if t.note:
                lines += [t.note, ""]
            lines += [t.frame.to_markdown(index=False), ""]
        for f in v.figures:
            rel = os.path.relpath(f.path, figure_root)
            lines += [f"![{f.caption}]({rel})", ""]
    return "\n".join(lines)


def write_report(views: list[SectionView], out_dir: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Writes `index.html` and `summary.md` into `out_dir`; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out_dir / "index.html", out_dir / "summary.md"
    write_text_atomic(html_path, render_html(views, meta))
    write_text_atomic(md_path, render_markdown(views, meta, out_dir))
    return html_path, md_path
