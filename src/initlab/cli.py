"""The `initlab` command line: `main(argv) -> int`, thin by design.

Each subcommand lives in `initlab.commands.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `handler`, a function
`(args) -> int`. Command modules import no framework at module level, so
`initlab --help` stays fast; the handlers import what they need.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from initlab import __version__
from initlab.errors import InitlabError

# Order is the order of the lab and of `initlab --help`.
COMMANDS = (
    "verify",
    "reconstruct",
    "parity",
    "train",
    "plot",
    "audit",
    "defaults",
    "run",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="initlab",
        description=(
            "Understand, verify and port neural-network weight initialization "
            "across Keras, PyTorch and JAX."
        ),
    )
    parser.add_argument("--version", action="version", version=f"initlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"initlab.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one subcommand; returns 0 (all good), 1 (a check failed) or 2 (bad usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on usage errors.
        return int(exc.code or 0)
    try:
        return int(args.handler(args))
    except InitlabError as exc:
        print(f"initlab {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"initlab {args.command}: interrupted", file=sys.stderr)
        return 130


def entry_point() -> None:
    sys.exit(main())
