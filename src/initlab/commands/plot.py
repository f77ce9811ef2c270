"""`initlab plot RUN`: redraws a training run's figures from its saved metrics, without training."""

from __future__ import annotations

HELP = "redraw the figures of an `initlab train` run folder from its saved metrics"


def register(subparsers) -> None:
    p = subparsers.add_parser("plot", help=HELP, description=HELP)
    p.add_argument("run_dir", metavar="RUN", help="a run folder written by `initlab train`")
    p.set_defaults(handler=run)


def run(args) -> int:
    from initlab.experiment.plots import plot_run

    for path in plot_run(args.run_dir):
        print(path)
    return 0
