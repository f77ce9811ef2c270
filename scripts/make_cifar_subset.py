"""Builds src/initlab/data/cifar10-subset.tar.gz, the stratified CIFAR-10 subset shipped with initlab.

Usage (from the repository root):

    .venv/bin/python scripts/make_cifar_subset.py [--src ../shared/data/cifar10-jpeg.tar.gz]
        [--train-per-class 1000] [--test-per-class 200] [--seed 0]

It copies JPEG bytes unchanged (no re-encoding) from an image-folder archive
(`train/<class>/*.jpg`, `test/<class>/*.jpg`), picking a seeded random sample
of the same size from every class, and writes a reproducible tar.gz (sorted
members, mtime 0, no owner names), so running it twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import tarfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from initlab.cifar import CLASS_NAMES, safe_member_name  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=str(ROOT.parent / "shared/data/cifar10-jpeg.tar.gz"))
    ap.add_argument("--out", default=str(ROOT / "src/initlab/data/cifar10-subset.tar.gz"))
    ap.add_argument("--train-per-class", type=int, default=1000)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    files: dict[tuple[str, str], dict[str, bytes]] = {}
    with tarfile.open(a.src, "r:gz") as tf:
        for m in tf:
            if not m.isfile():
                continue
            p = safe_member_name(m.name, a.src)
            if len(p.parts) >= 3 and p.parts[-3] in ("train", "test") and p.parts[-2] in CLASS_NAMES:
                files.setdefault((p.parts[-3], p.parts[-2]), {})[p.parts[-1]] = tf.extractfile(m).read()
    rng = np.random.default_rng(a.seed)
    chosen = []
    for split, per in (("train", a.train_per_class), ("test", a.test_per_class)):
        for cls in CLASS_NAMES:
            names = sorted(files[(split, cls)])
            for n in sorted(rng.choice(names, size=per, replace=False)):
                chosen.append((f"{split}/{cls}/{n}", files[(split, cls)][n]))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as out:
        for name, data in chosen:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            out.addfile(info, io.BytesIO(data))
    with open(a.out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue())
    print(f"wrote {a.out}: {len(chosen)} images, {Path(a.out).stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
