"""Training throughput of `initlab train` against plain `model.fit`, and the machine's matmul peak.

Usage (from the repository root):

    .venv/bin/python benchmarks/bench_train.py [--steps 40] [--repeats 3] [--memory]
        [--full-data ../shared/data/cifar10-jpeg.tar.gz] [--json benchmarks/results/bench_train.json]

Every option runs in its own subprocess (thread settings must be fixed before
TensorFlow starts), the repeats are interleaved so background load hits all
options alike, and the median and the best run are reported (background load on a shared
machine only ever slows a run down, so the best is the least disturbed). The model is the lab's default
(10 weight layers, ReLU + HeNormal), batch 128, on real CIFAR-10 images.
Training FLOP/s counts 3x the forward FLOPs per image (forward, and backward
for inputs and weights). `--memory` also trains one full-CIFAR-10 epoch of one
condition and reports the peak resident memory of that process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {
    # name: (description, environment)
    "fit": ("plain model.fit on float32 NumPy arrays (what a Colab user writes)", {}),
    "fit_jit": ("model.fit with compile(jit_compile=True) (XLA)", {}),
    "loop": ("initlab train loop: tf.function step on uint8 NumPy batches (the default)", {}),
    "loop_jit": ("initlab train loop with jit_compile=True (XLA)", {}),
    "loop_tfdata": ("initlab train step fed by tf.data cache + prefetch", {}),
    "loop_bf16": ("initlab train loop with --precision mixed_bfloat16 (bf16 compute; not float32 numerics)", {}),
    "loop_threads": ("initlab train loop with TF intra-op 2, inter-op 1 threads",
                     {"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1"}),
    "peak": ("float32 matmul peak: tf.matmul 4096x4096, best of 5", {}),
}


def _worker(option: str, steps: int, warmup: int) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    if option == "peak":
        n = 4096
        a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
        mm = tf.function(lambda a, b: tf.matmul(a, b))
        mm(a, b).numpy()
        best = 0.0
        for _ in range(5):
            t = time.perf_counter()
            mm(a, b).numpy()
            best = max(best, 2 * n**3 / (time.perf_counter() - t))
        return {"flops_per_s": best}

    from initlab.experiment import QUICK
    from initlab.experiment.model import build_model, forward_flops
    from initlab.experiment.runner import prepare_data
    from initlab.experiment.training import _Trainer

    cfg = QUICK.replace(jit_compile=option.endswith("_jit"),
                        precision="mixed_bfloat16" if option == "loop_bf16" else "float32")
    cond = cfg.conditions[2]  # relu-he
    data = prepare_data(cfg)
    bs, n = cfg.batch_size, (steps + warmup) * cfg.batch_size
    reps = -(-n // len(data.y_train))
    x = np.concatenate([data.x_train] * reps)[:n]
    y = np.concatenate([data.y_train] * reps)[:n]
    out: dict = {}
    if option.startswith("fit"):
        import keras

        model = build_model(cfg, cond, 0)
        model.compile(keras.optimizers.SGD(cfg.learning_rate, momentum=cfg.momentum),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=option == "fit_jit")
        xf = x.astype("float32") / 255.0
        model.fit(xf[: warmup * bs], y[: warmup * bs], batch_size=bs, epochs=1, verbose=0)
        t = time.perf_counter()
        model.fit(xf[warmup * bs:], y[warmup * bs:], batch_size=bs, epochs=1, verbose=0)
        dt = time.perf_counter() - t
        out["flops_fwd"] = forward_flops(model)
    else:
        tr = _Trainer(cfg, cond, 0, data)
        out["flops_fwd"] = forward_flops(tr.model)
        if option == "loop_tfdata":
            ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().batch(bs, drop_remainder=True)
            ds = ds.prefetch(tf.data.AUTOTUNE)
            it = iter(ds)
            for _ in range(warmup):
                float(tr.train_step(*next(it)))
            t = time.perf_counter()
            for _ in range(steps):
                float(tr.train_step(*next(it)))
            dt = time.perf_counter() - t
        else:  # exactly the loop of initlab.experiment.training: a shuffled order, gathered per batch
            from initlab.experiment.training import epoch_order

            order = epoch_order(len(y), 0, 0)
            for i in range(warmup):
                idx = order[i * bs:(i + 1) * bs]
                float(tr.train_step(x[idx], y[idx]))
            t = time.perf_counter()
            for i in range(warmup, warmup + steps):
                idx = order[i * bs:(i + 1) * bs]
                float(tr.train_step(x[idx], y[idx]))
            dt = time.perf_counter() - t
        if option == "loop":
            # Cost of the per-layer statistics: one probe pass (cfg.probe_size images) per epoch.
            tr.probe(0)
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                tr.probe(1)
                times.append(time.perf_counter() - t0)
            out["probe_seconds"] = min(times)
            out["probe_size"] = cfg.probe_size
    out["images_per_s"] = steps * bs / dt
    out["seconds_per_step"] = dt / steps
    return out


def _memory(full_data: str) -> dict:
    """Peak RSS of one full-CIFAR-10 epoch of one condition, in a child process."""
    code = (
        "import sys, resource, tempfile; "
        "from initlab.experiment import FULL, Condition, run_experiment; "
        f"cfg = FULL.replace(data={full_data!r}, epochs=1, seeds=(0,), "
        "conditions=(Condition('relu-he', 'relu', 'he_normal'),)); "
        "d = tempfile.mkdtemp(); t = __import__('time').perf_counter(); run_experiment(cfg, d); "
        "print('RESULT', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, __import__('time').perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:  # a cold cache: the JPEG decoding is part of the peak
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", INITLAB_CACHE=cache)
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")]
    if p.returncode or not line:
        raise RuntimeError(f"memory run failed:\n{p.stderr[-3000:]}")
    _, kib, secs = line[0].split()
    return {"peak_rss_mib": int(kib) / 1024, "seconds": float(secs), "data": full_data,
            "what": "one epoch of relu-he on 45,000 images, --full settings, cold decode cache"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--options", default=",".join(OPTIONS))
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--full-data", default=str(ROOT.parent / "shared/data/cifar10-jpeg.tar.gz"))
    ap.add_argument("--json", default=str(ROOT / "benchmarks/results/bench_train.json"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print("RESULT " + json.dumps(_worker(a.worker, a.steps, a.warmup)))
        return 0
    options = a.options.split(",")
    runs: dict[str, list[dict]] = {o: [] for o in options}
    for r in range(a.repeats):
        for o in options:
            env = dict(os.environ, **OPTIONS[o][1])
            p = subprocess.run([sys.executable, __file__, "--worker", o, "--steps", str(a.steps),
                                "--warmup", str(a.warmup)], capture_output=True, text=True, env=env)
            line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
            if p.returncode or not line:
                print(f"{o}: failed\n{p.stderr[-2000:]}", file=sys.stderr)
                continue
            runs[o].append(json.loads(line[0][7:]))
            print(f"repeat {r + 1} {o}: {runs[o][-1]}", file=sys.stderr, flush=True)
    peak = statistics.median(x["flops_per_s"] for x in runs["peak"]) if runs.get("peak") else None
    best_peak = max(x["flops_per_s"] for x in runs["peak"]) if runs.get("peak") else None
    table = {}
    for o in options:
        if o == "peak" or not runs[o]:
            continue
        ips = statistics.median(x["images_per_s"] for x in runs[o])
        best = max(x["images_per_s"] for x in runs[o])
        fl = runs[o][0]["flops_fwd"] * 3 * ips
        table[o] = {"description": OPTIONS[o][0], "images_per_s": ips, "images_per_s_all": [x["images_per_s"] for x in runs[o]],
                    "train_gflops": fl / 1e9, "fraction_of_peak": fl / peak if peak else None,
                    "best_images_per_s": best,
                    "best_fraction_of_best_peak": runs[o][0]["flops_fwd"] * 3 * best / best_peak if peak else None}
    if "fit" in table:
        for o in table:
            table[o]["vs_fit"] = table[o]["images_per_s"] / table["fit"]["images_per_s"]
            table[o]["best_vs_best_fit"] = table[o]["best_images_per_s"] / table["fit"]["best_images_per_s"]
    result = {"argv": sys.argv, "cpu_count": os.cpu_count(), "steps": a.steps, "repeats": a.repeats,
              "matmul_peak_gflops": peak / 1e9 if peak else None,
              "matmul_peak_gflops_all": [x["flops_per_s"] / 1e9 for x in runs.get("peak", [])],
              "options": table,
              "load_average_at_end": os.getloadavg()}
    if runs.get("loop") and "probe_seconds" in runs["loop"][0]:
        probe = statistics.median(x["probe_seconds"] for x in runs["loop"])
        step = statistics.median(x["seconds_per_step"] for x in runs["loop"])
        # steps per epoch: quick = 6000 // 128 = 46 (probe 128 images); full = 45000 // 128 = 351 (probe 256,
        # about 2x the probe time measured here with 128).
        result["probe"] = {"seconds": probe, "seconds_per_step": step, "probe_size": runs["loop"][0]["probe_size"],
                           "overhead_quick_epoch": probe / (step * 46),
                           "overhead_full_epoch_probe256": 2 * probe / (step * 351)}
    if a.memory:
        result["memory"] = _memory(a.full_data)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
