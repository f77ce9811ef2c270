"""`initlab run`: the whole lab, sections 1 to 6, and its report."""

from __future__ import annotations

import argparse

from initlab.commands._args import non_negative_int

HELP = "run the whole lab (sections 1-6) and write the report"

DESCRIPTION = """\
Runs every section of the lab into one folder and writes a self-contained
index.html (figures embedded), a Markdown summary, each section's JSON and
its figures. The default run uses the CIFAR-10 subset bundled with initlab
and fits in about 15 minutes on a 2-core CPU; --full trains on all of
CIFAR-10 with more epochs and seeds.

A section that finished is kept: running the same command again skips it
(use --force to recompute). `initlab report DIR` rebuilds the report alone.

exit status: 0 every section ran and every check passed, 1 a check failed
or a section raised, 2 bad usage."""


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports/lab", metavar="DIR", help="lab folder (default: reports/lab)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="base seed (default: 0)")
    p.add_argument("--full", action="store_true", help="train on all of CIFAR-10, more epochs and seeds")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 location for the experiment (any supported format)")
    p.add_argument("--only", action="append", metavar="SECTION",
                   help="run only this section (repeatable), e.g. 1-verify, 4-experiment")
    p.add_argument("--force", action="store_true", help="recompute sections that already finished")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import time

    from initlab import lab, render

    con = render.console()
    settings = lab.LabSettings(seed=args.seed, full=args.full, data=args.data)
    started: dict[str, float] = {}

    def on_section(key: str, event: str) -> None:
        if event == "start":
            started[key] = time.perf_counter()
            con.print(f"[bold]▶ {key}[/bold] …")
        elif event == "skip":
            con.print(f"[dim]✓ {key} already done (use --force to recompute)[/dim]")
        elif event == "done":
            con.print(f"[green]✓ {key}[/green] in {time.perf_counter() - started[key]:.0f} s")
        else:
            con.print(f"[red]✗ {key} raised an error[/red]")

    outcomes = lab.run_lab(args.out, settings, force=args.force, only=args.only, on_section=on_section)
    html, md = args.out + "/index.html", args.out + "/summary.md"
    con.print(f"\nReport: {html}\nSummary: {md}\n")
    views = lab.section_views(args.out)
    for line in lab.findings(views):
        con.print(f"  {line}")
    errors = [o for o in outcomes if o.status == "failed"]
    for o in errors:
        con.print(f"[red]{o.key} failed: {o.error}[/red]")
    return 1 if errors or any(v.status == "failed" for v in views) else 0
