"""`initlab report DIR`: rebuild a lab folder's report from its saved results."""

from __future__ import annotations

import argparse

HELP = "rebuild the report of a lab folder without recomputing"


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help=HELP, description=HELP + ".")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `initlab run`")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from initlab import lab, render

    html, md = lab.build_report(args.run_dir)
    con = render.console()
    con.print(f"Report: {html}\nSummary: {md}")
    return 0
