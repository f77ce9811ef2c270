"""`initlab defaults`: Keras's default initializers per layer, beside PyTorch's (Section 6)."""

from __future__ import annotations

import argparse

from initlab.commands._args import positive_int

HELP = "report what Keras layers start as with default settings, beside PyTorch (Section 6)"

DESCRIPTION = """\
Builds Dense, Conv1D, Conv2D, Conv3D, Conv2DTranspose, DepthwiseConv2D,
SeparableConv2D, LSTM, GRU, SimpleRNN, Bidirectional, BatchNormalization,
LayerNormalization, Embedding and MultiHeadAttention with default settings
under the installed Keras and reports, for every weight, the initializer the
layer's attributes declare, what the weight actually starts as (including
what other options set, e.g. LSTM's unit_forget_bias=True), and whether the
values agree. Beside it: the matching PyTorch module's default from the
installed PyTorch, its formula, and Var(Keras) / Var(PyTorch) for the sizes
given below.

--save PATH writes the result as a snapshot; --compare PATH lists what changed
since a snapshot (e.g. after upgrading Keras or PyTorch).

exit status: 0 all consistent (and nothing changed with --compare), 1 a
weight contradicts its documented default or something changed, 2 bad usage."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "defaults", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--features", type=positive_int, default=64, help="input features/channels (default: 64)")
    p.add_argument("--units", type=positive_int, default=128, help="units/filters/width (default: 128)")
    p.add_argument("--kernel", type=positive_int, default=3, help="kernel size per spatial axis (default: 3)")
    p.add_argument("--heads", type=positive_int, default=4, help="attention heads (default: 4)")
    p.add_argument("--vocab", type=positive_int, default=1000, help="embedding rows (default: 1000)")
    p.add_argument("--no-torch", action="store_true", help="Keras only, even if PyTorch is installed")
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                   help="Keras backend (default: KERAS_BACKEND or keras.json)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    p.add_argument("--markdown", metavar="PATH", help="also write the result as Markdown to PATH")
    p.add_argument("--save", metavar="PATH", help="save a snapshot (JSON) to compare against later")
    p.add_argument("--compare", metavar="PATH", help="list changes since the snapshot at PATH")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from initlab import render
    from initlab.errors import UsageError

    for path, what in ((args.json, "JSON file"), (args.markdown, "Markdown file"), (args.save, "snapshot")):
        if path:
            render.check_writable(path, what)
    snapshot = None
    if args.compare:
        try:
            with open(args.compare, encoding="utf-8") as fh:
                snapshot = json.load(fh)
        except FileNotFoundError:
            raise UsageError(f"snapshot {args.compare!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read snapshot {args.compare!r}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"snapshot {args.compare!r} is not valid JSON (line {exc.lineno}): {exc.msg}") from None
    from initlab import defaults
    from initlab.keras_backend import use_backend

    sizes = defaults.Sizes(args.features, args.units, args.kernel, args.heads, args.vocab).check()
    use_backend(args.backend)
    result = defaults.run_defaults(sizes, include_torch=not args.no_torch)
    con = render.console()
    v = result.meta["versions"]
    con.print(_table(render, 
        f"initlab defaults — Keras {v.get('keras')} ({result.meta['backend']}) vs PyTorch {v.get('torch', '-')}",
        ["layer", "weight", "shape", "declared", "Keras starts as", "PyTorch", "PyTorch law", "Var K/PT"],
        ([r.layer, r.weight, r.keras_shape, r.declared,
          (r.keras_law + (f" — {r.keras_note}" if r.keras_note else "")
           + ("" if r.keras_status == "consistent" else f" [{r.keras_status}]")),
          f"{r.torch_param}: {r.torch_call}" + ("" if r.torch_status in ("consistent", "") else f" [{r.torch_status}]"),
          r.torch_law, r.variance_ratio] for r in result.rows),
    ))
    s = result.meta["sizes"]
    con.print(f"\nSizes: {', '.join(f'{k}={val}' for k, val in s.items())}. "
              f"{len(result.rows)} weights, {len(result.problems)} inconsistent with their documented default.")
    for r in result.problems:
        con.print(f"FAIL: {r.layer} {r.weight}: Keras {r.keras_status}, PyTorch {r.torch_status}")
    changed = False
    if snapshot is not None:
        changes = defaults.compare(snapshot, result)
        changed = any(not c.startswith("version ") for c in changes)
        con.print(f"\nChanges since {args.compare}: " + ("none" if not changes else ""))
        for c in changes:
            con.print(f"  {c}")
    for path in (args.json, args.save):
        if path:
            render.write_json(path, result.to_dict())
            con.print(f"JSON: {path}")
    if args.markdown:
        from initlab.commands.audit import _write_text

        _write_text(args.markdown, result.to_markdown())
        con.print(f"Markdown: {args.markdown}")
    return 1 if result.problems or changed else 0


def _table(render, title, columns, rows, verdict_column=None):
    """render.table with every cell escaped: labels such as '[nn.Linear default]' are text, not rich markup."""
    from rich.markup import escape

    return render.table(escape(title), columns, ([escape(str(c)) for c in row] for row in rows), verdict_column)
