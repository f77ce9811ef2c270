"""`initlab verify`: every Keras initializer against its documented formula."""

from __future__ import annotations

import argparse

from initlab.commands._args import non_negative_int, positive_int

HELP = "check keras.initializers against their documented formulas (Section 1)"

DESCRIPTION = """\
Instantiates every class in keras.initializers (or those named with
--initializer), draws tensors on shapes that tell the fan modes apart, and
checks each against the formula table: mean, variance, exact bounds, the
shape of the distribution (Kolmogorov-Smirnov against the analytic CDF),
orthogonality, exact values. The whole run has a family-wise false-alarm
rate of at most 1e-3 (Bonferroni); the default sample size gives each check
99% power against a 1% error in a standard deviation, a mean shifted by 2%
of a standard deviation, a bound 1% off, and a normal where a truncated
normal is documented.

exit status: 0 every check passed, 1 a check failed, 2 bad usage."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--initializer", "-i", action="append", metavar="NAME",
                   help="a Keras initializer name or alias, any case (repeatable; default: all 16)")
    p.add_argument("--shape", action="append", metavar="SHAPE",
                   help="check each initializer at its defaults on this shape instead of the table's shapes, "
                        "e.g. 3x3x64x128 (repeatable)")
    p.add_argument("--samples", "-n", type=positive_int, metavar="N",
                   help="samples per case (default: the smallest n that meets the power targets)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="base seed of every draw (default: 0)")
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch", "all"),
                   help="Keras backend to run under; 'all' runs each in a subprocess and compares "
                        "(default: KERAS_BACKEND or keras.json)")
    p.add_argument("--json", metavar="PATH", help="also write every record as JSON to PATH")
    p.add_argument("--quiet", "-q", action="store_true", help="print only failures and the summary")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from initlab import render

    if args.json:
        render.check_writable(args.json, "JSON file")
    if args.backend == "all":
        return _run_all(args)

    from initlab import verify
    from initlab.layouts import parse_shape

    # Resolve names, seed and sample count before the framework import, so bad usage answers at once.
    shapes = [parse_shape(text) for text in args.shape or []]
    cases = verify.plan(args.initializer, shapes)
    if args.samples is not None:
        verify.check_samples_count(args.samples)
    verify.check_draw_count(cases, args.samples or verify.default_samples(verify.alpha_per_check(cases)))
    with render.progress("verify", len(cases), enabled=not args.no_progress) as advance:
        result = verify.run_verify(
            args.initializer, samples=args.samples, seed=args.seed, backend=args.backend,
            progress=lambda case: advance(f"{case.spec.name} {case.shape}"), shapes=shapes,
        )
    con = render.console()
    rows = result.failed if args.quiet else result.records
    if rows:
        con.print(render.table(
            f"initlab verify — Keras {result.meta['versions'].get('keras', '?')} on {result.meta['backend']}",
            ["initializer", "configuration", "shape", "statistic", "expected", "observed", "verdict", "detects"],
            ([r.initializer, r.config, "x".join(map(str, r.shape)) or "()", r.statistic, r.expected, r.observed,
              r.verdict, r.detectable] for r in rows),
            verdict_column="verdict",
        ))
    _print_summary(con, result.meta, len(result.records), len(result.failed))
    if args.json:
        render.write_json(args.json, result.to_dict())
        con.print(f"JSON: {args.json}")
    return 1 if result.failed else 0


def _print_summary(con, meta: dict, total: int, failed: int) -> None:
    con.print(
        f"\n{total} checks on backend {meta['backend']}, {failed} failed. "
        f"n = {meta['samples_per_case']:,} samples per case; per-check alpha = {meta['alpha_per_check']:.2e} "
        f"(Bonferroni over {meta['statistical_checks']} statistical checks), family-wise false-alarm rate "
        f"<= {meta['family_alpha']:g}. Smallest effects detected with probability {meta['power']:.0%}:"
    )
    for statistic, effect in meta["detectable"].items():
        con.print(f"  {statistic:<11} {effect}")


def _run_all(args: argparse.Namespace) -> int:
    from initlab import backend_compare, render

    forwarded = [a for name in (args.initializer or []) for a in ("--initializer", name)]
    forwarded += [a for shape in (args.shape or []) for a in ("--shape", shape)]
    forwarded += ["--seed", str(args.seed)] + (["--samples", str(args.samples)] if args.samples else [])
    results = backend_compare.verify_on_backends(forwarded)
    con = render.console()
    failed_any = False
    for backend, payload in results.items():
        failed = [r for r in payload["records"] if r["verdict"] != "pass"]
        failed_any |= bool(failed)
        con.print(f"{backend:<11} {len(payload['records'])} checks, {len(failed)} failed")
    diffs = backend_compare.differences(results)
    if diffs:
        backends = list(results)
        con.print(render.table(
            "Checks whose verdict depends on the backend",
            ["initializer", "configuration", "shape", "statistic", "expected", *backends],
            ([d["initializer"], d["config"], "x".join(map(str, d["shape"])), d["statistic"], d["expected"],
              *(f"{d['verdict'].get(b, '-')}: {d['observed'].get(b, '-')}" for b in backends)] for d in diffs),
        ))
    else:
        con.print("Every check has the same verdict on every backend.")
    if args.json:
        render.write_json(args.json, {"backends": results, "differences": diffs})
        con.print(f"JSON: {args.json}")
    return 1 if failed_any else 0
