"""`initlab audit`: every weight of a model against its declared initializer (Section 5)."""

from __future__ import annotations

import argparse

HELP = "audit a model's weights against their declared initializers and a policy (Section 5)"

DESCRIPTION = """\
Lists every weight of a Keras model (nested models, Bidirectional,
TimeDistributed, RNN cells and attention sub-layers included): the layer path,
the weight's role, the initializer the layer declares with its configuration,
what the formula table documents for that shape, and whether the weight's
actual values are consistent with it (the statistics of `initlab verify` on a
single draw, Bonferroni over the audit: a freshly built model is flagged with
probability <= 1e-3). Small weights have little power; the `detects` column
gives the smallest effect each weight's variance check catches with 99%
probability. Where Keras overrides the declared initializer (LSTM's
unit_forget_bias, EinsumDense's fan axes), the effective rule is checked and
explained.

MODEL is a .keras file or module:function.
  .keras files are loaded with Keras safe mode on; a file that would need code
  to load (a Lambda layer, a class from a module outside Keras that is not a
  registered custom object) is refused, never executed.
  module:function (or path/to/file.py:function) IMPORTS AND RUNS your Python
  code: the function is called with no arguments and returns a Keras model or
  a PyTorch nn.Module. Use it only for code you trust. Examples:
  initlab.models:small_resnet, initlab.models:orthogonal_rnn.
For a PyTorch module, which records no initializer, the audit infers which
known initializers (PyTorch's defaults, kaiming/xavier, orthogonal, ...) each
weight is consistent with.

--policy FILE states the intended initializers (TOML; see initlab.policy).
`initlab:resnet.toml` and `initlab:rnn.toml` name the lab's shipped policies.

exit status: 0 all consistent and no violation, 1 a weight's values contradict
its initializer or the policy is violated, 2 bad usage or a bad/refused file."""


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); received {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1); received {text!r}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audit", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("model", metavar="MODEL", help="a .keras file, or module:function (runs your code)")
    p.add_argument("--policy", metavar="FILE", help="TOML policy of intended initializers (initlab:NAME for shipped)")
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                   help="Keras backend (default: KERAS_BACKEND or keras.json)")
    p.add_argument("--family-alpha", type=_alpha, default=None, metavar="A",
                   help="family-wise false-alarm rate of the audit (default: 1e-3)")
    p.add_argument("--json", metavar="PATH", help="also write the audit as JSON to PATH")
    p.add_argument("--markdown", metavar="PATH", help="also write the audit as Markdown to PATH")
    p.add_argument("--quiet", "-q", action="store_true", help="print only flagged weights, violations and the summary")
    p.set_defaults(handler=run)


def resolve_policy_path(text: str):
    from pathlib import Path

    from initlab.policy import shipped_policy

    if text.startswith("initlab:"):
        return shipped_policy(text.split(":", 1)[1])
    return Path(text)


def run(args: argparse.Namespace) -> int:
    from initlab import render, stats
    from initlab.policy import load_policy

    for path, what in ((args.json, "JSON file"), (args.markdown, "Markdown file")):
        if path:
            render.check_writable(path, what)
    policy = load_policy(resolve_policy_path(args.policy)) if args.policy else None
    from initlab import audit
    from initlab.keras_backend import use_backend

    use_backend(args.backend)
    result = audit.audit_source(args.model, policy, args.family_alpha or stats.FAMILY_ALPHA)
    con = render.console()
    print_result(con, result, quiet=args.quiet)
    if args.json:
        render.write_json(args.json, result.to_dict())
        con.print(f"JSON: {args.json}")
    if args.markdown:
        _write_text(args.markdown, result.to_markdown())
        con.print(f"Markdown: {args.markdown}")
    return 1 if result.failed else 0


def print_result(con, result, quiet: bool = False) -> None:
    from initlab import render

    m = result.meta
    rows = [w for w in result.weights if w.flagged] if quiet else result.weights
    title = f"initlab audit — {m['model']} ({m['framework']}, {m['parameters']:,} parameters)"
    if m["framework"] == "pytorch":
        table = _table(render, 
            title, ["module", "parameter", "shape", "PyTorch default", "consistent with", "status", "note"],
            ([w.layer, w.role, _shape(w.shape), w.declared,
              ", ".join(c["name"] for c in w.candidates if c["consistent"]) or "none",
              "FAIL: " + w.status if w.flagged else w.status, w.note] for w in rows),
            verdict_column="status")
    else:
        table = _table(render, 
            title, ["layer", "weight", "shape", "declared", "documented law", "status", "detects"],
            ([w.layer, w.role, _shape(w.shape), w.declared, w.law,
              ("FAIL: " if w.flagged else "") + w.status + (f" — {w.note}" if w.note else ""), w.detectable]
             for w in rows),
            verdict_column="status")
    if rows:
        con.print(table)
    if result.violations:
        con.print(_table(render, 
            f"policy violations ({m['policy']['source']})", ["layer", "weight", "intended", "found", "rule"],
            ([v.layer, v.role, v.intended, v.found, v.rule] for v in result.violations)))
    for note in result.notes:
        con.print(f"note: {note}")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
    policy = ""
    if m.get("policy"):
        policy = f" Policy {m['policy']['source']}: {len(result.violations)} violation(s)."
    con.print(
        f"\n{len(result.weights)} weights: {counts}.{policy} Per-check alpha {m['alpha_per_check']:.2e} "
        f"(Bonferroni over {m['statistical_checks']} statistical checks, family-wise {m['family_alpha']:g})."
    )


def _shape(shape) -> str:
    return "x".join(map(str, shape)) or "()"


def _write_text(path: str, text: str) -> None:
    import os
    import tempfile
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, target)


def _table(render, title, columns, rows, verdict_column=None):
    """render.table with every cell escaped: labels such as '[nn.Linear default]' are text, not rich markup."""
    from rich.markup import escape

    return render.table(escape(title), columns, ([escape(str(c)) for c in row] for row in rows), verdict_column)
