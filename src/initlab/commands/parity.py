"""`initlab parity`: PyTorch's and JAX's initializers against the Keras ones that claim to match (Section 3)."""

from __future__ import annotations

import argparse
import os

from initlab.commands._args import non_negative_int, positive_int

HELP = "compare torch.nn.init and jax.nn.initializers with the matching Keras initializers (Section 3)"

DESCRIPTION = """\
Pair by pair (kaiming_normal_ / HeNormal, xavier_uniform_ / GlorotUniform,
trunc_normal_ / TruncatedNormal, PyTorch's default Linear and Conv init /
Keras's defaults, jax.nn.initializers.he_normal / HeNormal, ...), at the same
logical layer (Dense 256->512, Conv2D 3x3 64->128, DepthwiseConv2D 3x3 on 64
channels), with each framework's weight layout converted explicitly.

Each side is checked against its own formula at a large n (one-sample tests
with stated power), then against the other side's formula (cross KS, variance
ratio, mean); a 10,000-per-side two-sample comparison (F interval on the
variance ratio, two-sample KS) is reported with what it can and cannot detect:
at 10k it cannot tell a normal from a variance-matched truncated normal (KS
distance 0.017), the one-sample tests can. The verdict reads: same
distribution; same variance, different shape (how); different variance (by
what factor, and why). --out DIR writes one PNG per pair (both histograms and
both analytic densities) and the 10k samples they are drawn from.

exit status: 0 every pair behaves as the formula tables predict, 1 one does not
(a side misses its own formula, or a documented match is not one), 2 bad usage."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "parity", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--pair", "-p", action="append", metavar="NAME",
                   help="a pair name, e.g. kaiming_normal_, torch-default-linear, jax.uniform (repeatable; "
                        "default: all; --list shows them)")
    p.add_argument("--layer", action="append", choices=("dense", "conv", "depthwise", "embedding"),
                   help="only these layers (repeatable; default: each pair's layers)")
    p.add_argument("--shape", metavar="SHAPE",
                   help="a custom Keras-layout kernel shape such as 64 or 3x3x16x32 (needs --pair)")
    p.add_argument("--samples", "-n", type=positive_int, default=10_000, metavar="N",
                   help="samples per side for the two-sample comparison and the figures (default: 10000)")
    p.add_argument("--large-samples", type=positive_int, metavar="N",
                   help="samples per side for the one-sample and cross tests (default: the smallest n with "
                        "99%% power against verify's targets at the run's alpha)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="base seed of every draw (default: 0)")
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                   help="Keras backend for the Keras side (default: KERAS_BACKEND or keras.json)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    p.add_argument("--out", metavar="DIR", help="write figures (PNG), samples and parity.json into DIR")
    p.add_argument("--no-figures", action="store_true", help="with --out, skip the PNGs")
    p.add_argument("--list", action="store_true", help="list the pairs and exit")
    p.add_argument("--quiet", "-q", action="store_true", help="print the summary table only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from initlab import parity, render
    from initlab.errors import UsageError
    from initlab.layouts import parse_shape

    con = render.console()
    if args.list:
        con.print(render.table(
            "initlab parity pairs",
            ["pair", "framework", "other side", "Keras side", "layers", "documented match"],
            ([p.name, p.framework, p.other_call(), p.keras_call(), ", ".join(p.layers),
              "yes" if p.documented_match else "no"] for p in parity.PAIRS),
        ))
        return 0
    for path in filter(None, [args.json, args.out and os.path.join(args.out, "parity.json")]):
        render.check_writable(path, "output file")
    shape = parse_shape(args.shape) if args.shape is not None else None
    # Resolve names and shapes before any framework import, so bad usage answers at once.
    if shape is None:
        total = len(parity.plan_pairs(args.pair, args.layer))
    else:
        if not args.pair:
            raise UsageError("--shape needs --pair: a custom shape is checked against named pairs only")
        for pair in parity.get_pairs(args.pair):
            parity.sides(pair, parity.LAYERS["dense"], shape)
        total = len(args.pair)
    with render.progress("parity", total, enabled=not args.no_progress) as advance:
        result = parity.run_parity(
            args.pair, out_dir=args.out, seed=args.seed, samples=args.samples, large_samples=args.large_samples,
            layers=args.layer, shape=shape, backend=args.backend, figures=not args.no_figures, progress=advance,
        )
    m = result.meta
    con.print(render.table(
        f"initlab parity — Keras {m['versions'].get('keras', '?')} on {m['backend']}, "
        f"torch {m['versions'].get('torch', '?')}, jax {m['versions'].get('jax', '?')}",
        ["pair", "layer", "other side", "Keras side", "documented match", "verdict", "other/Keras variance",
         f"{args.samples:,}-sample two-sample test sees it", "status"],
        ([c.pair, c.layer, c.other_call, c.keras_call.removeprefix("keras.initializers."),
          "yes" if c.documented_match else "no", c.observed, _ratio(c.predicted.variance_ratio),
          {None: "-", True: "yes", False: "NO (n too small)"}[c.two_sample_can_tell],
          "ok" if c.passed else "FAIL"] for c in result.comparisons),
        verdict_column="status",
    ))
    if not args.quiet:
        con.print("\n[bold]Verdicts[/bold]")
        for c in result.comparisons:
            con.print(f"- {c.pair} @ {c.layer}: {c.verdict}", markup=False)
        con.print("\n[bold]Known differences[/bold]")
        for key, text in result.notes.items():
            con.print(f"- {key}: {text}", markup=False)
    con.print(
        f"\nOne-sample and cross tests: n = {m['one_sample_n']:,} per side; two-sample: {m['two_sample_n']:,} per "
        f"side; per-check alpha {m['alpha_per_check']:.2e} (Bonferroni over {m['statistical_checks']} checks, "
        f"family-wise <= {m['family_alpha']:g}); power {m['power']:.0%}. Detectable:"
    )
    for what, effect in m["detectable"].items():
        if isinstance(effect, dict):
            effect = "; ".join(f"{k} {v}" for k, v in effect.items())
        con.print(f"  {what}: {effect}")
    if m.get("backend_warning"):
        con.print(f"[yellow]Note: {m['backend_warning']}[/yellow]")
    con.print(f"{len(result.comparisons)} comparisons, {len(result.failed)} failed.")
    payload = result.to_dict()
    if args.json:
        render.write_json(args.json, payload)
        con.print(f"JSON: {args.json}")
    if args.out:
        render.write_json(os.path.join(args.out, "parity.json"), payload)
        con.print(f"Figures: {len(result.figures)} PNG in {os.path.join(args.out, 'figures')}")
    return 1 if result.failed else 0


def _ratio(r: float) -> str:
    return "inf (Keras is constant)" if r == float("inf") else f"{r:.4g}"
