"""`initlab reconstruct`: every named VarianceScaling initializer rebuilt from VarianceScaling (Section 2)."""

from __future__ import annotations

import argparse
import os

from initlab.commands._args import non_negative_int, positive_int

HELP = "rebuild GlorotUniform, HeNormal, ... from VarianceScaling, and name what a VarianceScaling equals (Section 2)"

DESCRIPTION = """\
For GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal and
LecunUniform, shows the VarianceScaling(scale, mode, distribution) that
equals each, and proves it two ways: exactly (same seed and shape give the
same bytes, on a Dense 256x512 and a 3x3x64x128 conv kernel, on the Keras
backend, or on every backend with --backend all), and by formula (the
table's variance and bounds agree, and samples of both pass the verify
checks at a family-wise false-alarm rate of 1e-3).

It also runs the other direction: for each VarianceScaling configuration
(or those given with --identify), it names the Keras initializer it equals,
if any, and the PyTorch and JAX calls that draw from the same distribution.

exit status: 0 every proof holds, 1 one does not, 2 bad usage."""


def _vs_config(text: str) -> dict:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected SCALE,MODE,DISTRIBUTION like 2,fan_in,uniform; received {text!r}")
    try:
        scale = float(parts[0])
    except ValueError:
        raise argparse.ArgumentTypeError(f"SCALE must be a number; received {parts[0]!r}") from None
    return {"scale": scale, "mode": parts[1], "distribution": parts[2]}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reconstruct", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--identify", action="append", type=_vs_config, metavar="SCALE,MODE,DIST",
                   help="only name what VarianceScaling(SCALE, MODE, DIST) equals in Keras, PyTorch and JAX "
                        "(repeatable; no sampling)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every draw (default: 0)")
    p.add_argument("--samples", "-n", type=positive_int, metavar="N",
                   help="samples per formula check (default: the smallest n that meets verify's power targets)")
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch", "all"),
                   help="Keras backend; 'all' also runs the exact proof on the other two in subprocesses "
                        "(default: KERAS_BACKEND or keras.json)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    p.add_argument("--out", metavar="DIR", help="also write reconstruct.json into DIR")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from initlab import reconstruct, render

    for path in filter(None, [args.json, args.out and os.path.join(args.out, "reconstruct.json")]):
        render.check_writable(path, "JSON file")
    con = render.console()
    if args.identify:
        ids = [reconstruct.identify(cfg) for cfg in args.identify]
        _print_identifications(con, ids)
        payload = {"reverse": [i.to_dict() for i in ids]}
        _write(con, args, payload)
        return 0
    backend = None if args.backend == "all" else args.backend
    others = ("jax", "torch") if args.backend == "all" else ()
    result = reconstruct.run_reconstruct(seed=args.seed, backend=backend, samples=args.samples,
                                         other_backends=others)
    rows = []
    for r in result.reconstructions:
        for f in r.formula:
            exact = ", ".join(f"{e.backend}: {'identical' if e.identical else 'DIFFERENT'}"
                              for e in r.exact if e.shape == f.shape)
            failed = [c.statistic for c in f.checks_named + f.checks_reconstruction if not c.passed]
            rows.append([
                r.name, r.keras_call.removeprefix("keras.initializers."), "x".join(map(str, f.shape)),
                f"{f.variance:.6g}", f"{f.named}", "equal" if f.equal else "DIFFERENT",
                "pass" if not failed else "FAIL: " + ", ".join(failed), exact, "pass" if r.passed else "FAIL",
            ])
    con.print(render.table(
        f"initlab reconstruct — Keras {result.meta['versions'].get('keras', '?')} on {result.meta['backend']}",
        ["initializer", "equals", "shape", "variance", "table reference", "formulas", "verify checks",
         "same seed, same bytes", "verdict"],
        rows, verdict_column="verdict",
    ))
    _print_identifications(con, result.reverse)
    m = result.meta
    con.print(
        f"\nFormula checks: n = {m['samples_per_check']:,} samples per reference, per-check alpha "
        f"{m['alpha_per_check']:.2e} (Bonferroni over {m['statistical_checks']}), power {m['power']:.0%} against: "
        + "; ".join(f"{k} {v}" for k, v in m["detectable"].items())
    )
    con.print(f"{'All proofs hold.' if result.passed else 'A proof FAILED.'}")
    _write(con, args, result.to_dict())
    return 0 if result.passed else 1


def _print_identifications(con, ids) -> None:
    from initlab import render

    con.print(render.table(
        "VarianceScaling -> Keras, PyTorch, JAX (same distribution; weights in each framework's own layout)",
        ["scale", "mode", "distribution", "Keras", "PyTorch", "JAX", "notes"],
        ([f"{i.config['scale']:g}", i.config["mode"], i.config["distribution"], i.keras or "-",
          i.torch_call, i.jax_call, " ".join(i.notes)] for i in ids),
    ))


def _write(con, args, payload) -> None:
    from initlab import render

    if args.json:
        render.write_json(args.json, payload)
        con.print(f"JSON: {args.json}")
    if args.out:
        path = render.write_json(os.path.join(args.out, "reconstruct.json"), payload)
        con.print(f"JSON: {path}")
