"""`initlab train`: the CIFAR-10 initialization experiment (Section 4 of the lab).

Imports no framework at module level; the handler imports the experiment.
"""

from __future__ import annotations

import sys

from initlab.errors import UsageError

HELP = "train a plain 10-layer conv net on CIFAR-10 under Tanh+Glorot, ReLU+Glorot, ReLU+He"


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UsageError(f"expected comma-separated integers, got {text!r}") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help=HELP, description=HELP + ". The quick default trains on the bundled CIFAR-10 subset "
        "in a few minutes; --full uses all of CIFAR-10 with more epochs and seeds. Running the same command "
        "again resumes an interrupted run. Options left out keep the preset's value "
        "(see initlab.experiment.config).",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="preset", action="store_const", const="quick", default="quick",
                   help="bundled subset, few epochs (default)")
    g.add_argument("--full", dest="preset", action="store_const", const="full",
                   help="full CIFAR-10, more epochs and seeds")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10: official archive or folder, or train/<class>/*.jpg "
                   "layout as folder, .tar.gz or .zip (default: $INITLAB_CIFAR10, then bundled subset for "
                   "--quick, Keras cache or download for --full)")
    p.add_argument("--out", metavar="DIR", help="run folder (default: runs/train-<preset>)")
    p.add_argument("--condition", action="append", metavar="[NAME=]ACT:INIT",
                   help="replace the three lab conditions; repeatable, e.g. relu:he_normal")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seeds", type=int, metavar="N", help="number of seeds (0..N-1)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, dest="learning_rate", help="learning rate")
    p.add_argument("--momentum", type=float)
    p.add_argument("--optimizer", choices=("sgd", "adam"))
    p.add_argument("--widths", type=str, metavar="W1,W2,...", help="conv widths (one per conv layer)")
    p.add_argument("--strides", type=str, metavar="S1,S2,...", help="conv strides, 1 or 2")
    p.add_argument("--batch-norm", action="store_true", default=None, help="add BatchNormalization")
    p.add_argument("--train-size", type=int, help="cap on training images (stratified; 0 = all)")
    p.add_argument("--validation-size", type=int)
    p.add_argument("--probe-size", type=int)
    p.add_argument("--jit", action="store_true", default=None, dest="jit_compile", help="XLA-compile the train step")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"),
                   help="mixed_bfloat16 is faster on CPUs with bf16 units but is not float32 numerics")
    p.add_argument("--no-tensorboard", action="store_false", default=None, dest="tensorboard")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.set_defaults(handler=run)


def config_from_args(args):
    from initlab.experiment.config import Condition, preset

    cfg = preset(args.preset)
    changes = {}
    for k in ("data", "epochs", "batch_size", "learning_rate", "momentum", "optimizer", "batch_norm",
              "train_size", "validation_size", "probe_size", "jit_compile", "tensorboard", "precision"):
        v = getattr(args, k, None)
        if v is not None:
            changes[k] = v
    if args.train_size == 0:
        changes["train_size"] = None  # 0: every training image that is not held out
    if args.seeds is not None:
        if args.seeds < 1:
            raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
        changes["seeds"] = tuple(range(args.seeds))
    if args.widths is not None:
        changes["widths"] = _ints(args.widths)
        if args.strides is None:
            n = len(changes["widths"])
            changes["strides"] = tuple(2 if i in (n // 3, 2 * n // 3) and i > 0 else 1 for i in range(n))
    if args.strides is not None:
        changes["strides"] = _ints(args.strides)
    if args.condition:
        changes["conditions"] = tuple(Condition.parse(c) for c in args.condition)
    return cfg.replace(**changes) if changes else cfg


class _Display:
    """A rich progress line per (condition, seed); messages go to stderr."""

    def __init__(self, enabled: bool):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled
        self.progress = None
        self.task = None

    def __call__(self, e: dict) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        kind = e["kind"]
        if kind == "start":
            self.console.print(f"[bold]initlab train[/] -> {e['run_dir']}")
            self.console.print(f"Data: {e['data']}")
            self.console.print(f"Split: {e['n_train']} train, {e['n_val']} validation (held out from train), "
                               f"{e['n_test']} test (final numbers only); probe batch {e['n_probe']} images")
            if e.get("subset_note"):
                self.console.print(f"[yellow]{e['subset_note']}[/]")
            self.console.print(e["optimizer_note"])
            if self.enabled:
                self.progress = Progress(
                    TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                    TimeElapsedColumn(), console=self.console, transient=False,
                )
                self.progress.start()
        elif kind == "condition" and self.progress is not None:
            self.task = self.progress.add_task(f"{e['condition']} seed {e['seed']}", total=None, info="starting")
        elif kind == "step" and self.progress is not None and self.task is not None:
            ips = e.get("images_per_s")
            self.progress.update(
                self.task, total=e["epochs"] * e["steps"], completed=(e["epoch"] - 1) * e["steps"] + e["step"],
                info=f"epoch {e['epoch']}/{e['epochs']} step {e['step']}/{e['steps']} "
                     f"loss {e['loss']:.3f} {ips or 0:.0f} img/s",
            )
        elif kind == "epoch" and not self.enabled:
            self.console.print(f"{e['condition']} seed {e['seed']} epoch {e['epoch']}/{e['epochs']}: "
                               f"train loss {e['train_loss']:.3f}, val acc {e['val_accuracy']:.3f}, "
                               f"{e['images_per_s']:.0f} img/s")
        elif kind == "skip":
            self.console.print(f"{e['condition']} seed {e['seed']}: already {e['status']}, resumed past it")
        elif kind == "diverged":
            self.console.print(f"[red]{e['condition']} seed {e['seed']} diverged at step {e['step']}[/]")
        elif kind == "done":
            self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def summarize(run_dir) -> str:
    """A short text summary of a run: per condition, status, accuracies and the He ratio check."""
    import numpy as np

    from initlab.experiment import load_results

    r = load_results(run_dir)
    lines = [f"{'condition':<14} {'status':<9} {'val acc':>8} {'test acc':>9}  "
             f"{'Var ratio/layer at init: measured':>34} {'He pred.':>8}"]
    s, lay = r["summary"], r["layers"]
    for c in r["config"]["conditions"]:
        f = s[s["condition"] == c["name"]]
        g = lay[(lay["condition"] == c["name"]) & (lay["epoch"] == 0)].sort_values(["seed", "layer_index"])
        conv = g[g["layer"] != "dense"]
        ratios = [np.exp(np.mean(np.diff(np.log(h["pre_var"].to_numpy()))))
                  for _, h in conv.groupby("seed") if len(h) > 1]
        pred = np.exp(np.mean(np.log(conv[conv["layer_index"] > 1]["predicted_ratio"]))) if len(conv) > 1 else float("nan")
        status = ",".join(sorted(set(f["status"])))
        lines.append(
            f"{c['name']:<14} {status:<9} {f['final_val_accuracy'].mean():>8.3f} {f['test_accuracy'].mean():>9.3f}  "
            f"{np.mean(ratios) if ratios else float('nan'):>34.3f} {pred:>8.3f}"
        )
    n = r["config"]["seeds"]
    lines.append(f"(means over {len(n)} seed(s); ratio = geometric mean over conv layers of Var[y_l]/Var[y_l-1])")
    return "\n".join(lines)


def run(args) -> int:
    from initlab.experiment import run_experiment

    cfg = config_from_args(args)
    display = _Display(enabled=not args.no_progress and sys.stderr.isatty())
    try:
        out = run_experiment(cfg, args.out, progress=display)
    except KeyboardInterrupt:
        display.close()
        print("Stopped; completed epochs are saved. Run the same command again to resume.", file=sys.stderr)
        raise
    finally:
        display.close()
    print(summarize(out))
    from initlab.experiment import load_results

    env = load_results(out)["env"]
    print(env["optimizer_note"])
    if env.get("subset_note"):
        print(env["subset_note"])
    print(f"Run folder: {out}")
    for p in sorted((out / "figures").glob("*.png")):
        print(f"  figure: {p}")
    return 0
