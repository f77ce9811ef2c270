"""Terminal rendering shared by the commands: rich tables and a progress bar on stderr."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from initlab.errors import UsageError


def console(stderr: bool = False):
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (logs, CI, tests) gets a wide page instead of rich's 80 columns.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], verdict_column: str | None = None):
    """A rich Table; rows whose verdict column reads FAIL are shown in bold red."""
    from rich.table import Table

    out = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
    for name in columns:
        out.add_column(name, overflow="fold")
    index = columns.index(verdict_column) if verdict_column else None
    for row in rows:
        cells = [str(c) for c in row]
        style = "bold red" if index is not None and cells[index].upper().startswith("FAIL") else None
        out.add_row(*cells, style=style)
    return out


@contextmanager
def progress(description: str, total: int, enabled: bool = True):
    """Yields `advance(label)`; draws a transient progress bar on stderr when it is a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    if not enabled:
        yield lambda label="": None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[label]}"),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total, label="")

        def advance(label: str = "") -> None:
            bar.update(task, advance=1, label=label)

        yield advance


def check_writable(path: str | os.PathLike, what: str = "output") -> Path:
    """Fails before long work starts if `path` (a file to create) cannot be written."""
    path = Path(path)
    parent = path.parent if path.parent != Path("") else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".initlab-probe-", delete=True):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {what} {str(path)!r}: {exc.strerror or exc}") from None
    return path


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Writes JSON atomically (see `initlab.atomic`)."""
    from initlab.atomic import write_text_atomic

    path = Path(path)
    write_text_atomic(path, json.dumps(payload, indent=2, default=_json_default) + "\n")
    return path


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialize {type(obj).__name__} to JSON")
