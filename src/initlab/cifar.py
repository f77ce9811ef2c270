"""CIFAR-10 (Krizhevsky, 2009): find it, read it safely, cache the decoded arrays.

Where the data comes from, first match wins (`locate`):

1. an explicit path (`initlab train --data PATH`);
2. the environment variable `INITLAB_CIFAR10`;
3. the bundled stratified subset, when the caller prefers it (the quick lab);
4. the Keras cache (`$KERAS_HOME` or `~/.keras`, `datasets/...`);
5. the standard Keras download of `cifar-10-python.tar.gz`.

Formats read (`read_cifar10`): the official `cifar-10-python.tar.gz` archive,
the `cifar-10-batches-py` folder, and an image-folder layout
(`train/<class>/*.jpg`, `test/<class>/*.jpg`) as a folder, `.tar`, `.tar.gz`
or `.zip`.

Safety: the official batches are pickled Python. They are read with an
unpickler whose `find_class` allows only the few numpy callables an array
needs, so a hostile pickle raises `DataError` instead of running code.
Archives are read in memory, never extracted, and any member that would land
outside the archive's folder (absolute paths, `..`, links, devices) makes the
whole archive refused. Decoded arrays are cached as `.npz` under
`$INITLAB_CACHE` (default `~/.cache/initlab`), written to a temporary file
and renamed, so a failed or interrupted load leaves no half-written cache.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from initlab.atomic import write_npz_atomic
from initlab.errors import DataError

__all__ = [
    "BUNDLED_SUBSET",
    "CLASS_NAMES",
    "ENV_VAR",
    "Cifar10",
    "cache_dir",
    "load_cifar10",
    "locate",
    "read_cifar10",
    "safe_member_name",
    "safe_pickle_load",
    "stratified_split",
]

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
ENV_VAR = "INITLAB_CIFAR10"
CACHE_ENV_VAR = "INITLAB_CACHE"
BUNDLED_SUBSET = Path(__file__).resolve().parent / "data" / "cifar10-subset.tar.gz"
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CACHE_FORMAT = 1  # bump when the cached arrays change meaning


@dataclass(frozen=True)
class Cifar10:
    """Decoded CIFAR-10: uint8 images `(N, 32, 32, 3)` and int64 labels `(N,)`."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # the path the data came from
    how: str  # how it was found: "argument", "env", "bundled", "keras-cache", "download"
    is_subset: bool  # True for the bundled subset

    def describe(self) -> str:
        kind = "bundled subset of CIFAR-10" if self.is_subset else "CIFAR-10"
        return (
            f"{kind}: {len(self.y_train)} train + {len(self.y_test)} test images "
            f"from {self.source} (found via {self.how})"
        )


# --------------------------------------------------------------------------- locate


def cache_dir() -> Path:
    """`$INITLAB_CACHE`, else `~/.cache/initlab`."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "initlab"


def _keras_cache_candidates() -> list[Path]:
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    d = home / "datasets"
    return [
        d / "cifar-10-batches-py-target" / "cifar-10-batches-py",  # Keras 3
        d / "cifar-10-batches-py",  # Keras 2 and tf.keras
        d / "cifar-10-batches-py-target_archive",  # Keras 3 keeps the download here
        d / "cifar-10-python.tar.gz",
    ]


def locate(
    path: str | os.PathLike | None = None,
    *,
    prefer_bundled: bool = False,
    download: bool = True,
) -> tuple[Path, str]:
    """Returns `(path, how)`; see the module docstring for the order."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists():
            raise DataError(f"CIFAR-10 path {str(p)!r} does not exist")
        return p, "argument"
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.exists():
            raise DataError(f"${ENV_VAR} points to {env!r}, which does not exist")
        return p, "env"
    if prefer_bundled:
        if not BUNDLED_SUBSET.exists():
            raise DataError(f"the bundled CIFAR-10 subset is missing at {BUNDLED_SUBSET}")
        return BUNDLED_SUBSET, "bundled"
    for cand in _keras_cache_candidates():
        if cand.exists():
            return cand, "keras-cache"
    if download:
        return _download(), "download"
    raise DataError(
        "CIFAR-10 not found: pass --data PATH, set $" + ENV_VAR + ", or allow the Keras download"
    )


def _download() -> Path:
    try:
        from keras.utils import get_file  # lazy: keras is heavy

        got = get_file(fname="cifar-10-python.tar.gz", origin=OFFICIAL_URL, cache_subdir="datasets")
    except Exception as exc:  # no network, proxy, disk full: all say the same to a user
        raise DataError(
            f"could not download CIFAR-10 from {OFFICIAL_URL} ({type(exc).__name__}: {exc}); "
            f"offline, pass --data PATH or set ${ENV_VAR} to a copy "
            "(official archive, cifar-10-batches-py folder, or train/<class>/*.jpg layout)"
        ) from exc
    return Path(got)


# --------------------------------------------------------------------------- safety


class _SafeUnpickler(pickle.Unpickler):
    """Allows only what a pickled numpy array needs; everything else is refused."""

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Python 3 pickles bytes with protocol <= 2 as _codecs.encode(str, "latin1").
        ("_codecs", "encode"),
    })

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy array reconstruction is allowed"
            )
        return super().find_class(module, name)


def safe_pickle_load(data: bytes, what: str):
    """Unpickles `data` with the allow-list above; `DataError` on anything else."""
    try:
        return _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        if "refusing" in str(exc):
            raise DataError(f"{what} is not a plain CIFAR-10 batch and was refused: {exc}") from exc
        raise DataError(f"{what} is corrupt or truncated: {exc}") from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        raise DataError(f"{what} is corrupt or truncated: {type(exc).__name__}: {exc}") from exc


def safe_member_name(name: str, archive: str) -> PurePosixPath:
    """Refuses archive member names that would land outside the target folder."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or p.is_absolute() or (len(norm) > 1 and norm[1] == ":"):
        raise DataError(f"{archive}: member {name!r} has an absolute path; refusing the archive")
    if ".." in p.parts:
        raise DataError(f"{archive}: member {name!r} would land outside the target folder; refusing the archive")
    return p


# --------------------------------------------------------------------------- archive walking


def _iter_tar(path: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    with tarfile.open(path, "r:*") as tf:
        for m in tf:
            name = safe_member_name(m.name, path.name)
            if m.issym() or m.islnk():
                raise DataError(f"{path.name}: member {m.name!r} is a link; refusing the archive")
            if m.isdir():
                continue
            if not m.isfile():
                raise DataError(f"{path.name}: member {m.name!r} is not a regular file; refusing the archive")
            f = tf.extractfile(m)
            assert f is not None  # isfile() guarantees a file object
            data = f.read()
            if len(data) != m.size:
                raise DataError(f"{path.name} is truncated at member {m.name!r}")
            yield name, data


def _iter_zip(path: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = safe_member_name(info.filename, path.name)
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise DataError(f"{path.name}: member {info.filename!r} is a link; refusing the archive")
            if info.is_dir():
                continue
            yield name, zf.read(info)


def _iter_folder(path: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for f in sorted(files):
            full = Path(root) / f
            yield PurePosixPath(full.relative_to(path).as_posix()), full.read_bytes()


def _iter_members(path: Path) -> Iterator[tuple[PurePosixPath, bytes]]:
    if path.is_dir():
        return _iter_folder(path)
    if zipfile.is_zipfile(path):
        return _iter_zip(path)
    return _iter_tar(path)


# --------------------------------------------------------------------------- decoding


def _batch_arrays(obj, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(obj, dict):
        raise DataError(f"{what} is not a CIFAR-10 batch (a {type(obj).__name__}, not a dict)")
    d = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{what}: 'data' is not a uint8 array of shape (N, 3072)")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{what}: 'labels' are not {data.shape[0]} integers in 0..9")
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # official layout is channels-first
    return np.ascontiguousarray(x), labels.astype(np.int64)


def _decode_image(data: bytes, what: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{what} is corrupt or truncated: {exc}") from exc
    if arr.shape != (32, 32, 3):
        raise DataError(f"{what} is {arr.shape[1]}x{arr.shape[0]}, not a 32x32 CIFAR-10 image")
    return arr


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reads any supported format into `(x_train, y_train, x_test, y_test)`."""
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    images: dict[str, list[tuple[int, str, bytes]]] = {"train": [], "test": []}
    for name, data in _iter_members(path):
        parts = name.parts
        base = parts[-1]
        if base in {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch"}:
            batches[base] = _batch_arrays(safe_pickle_load(data, f"{path.name}:{name}"), f"{path.name}:{name}")
        elif base.lower().endswith(_IMAGE_SUFFIXES) and len(parts) >= 3 and parts[-3] in images:
            cls = parts[-2]
            if cls not in CLASS_NAMES:
                raise DataError(f"{path.name}: unknown class folder {cls!r} in {name}; expected {CLASS_NAMES}")
            images[parts[-3]].append((CLASS_NAMES.index(cls), str(name), data))
    if batches:
        missing = [b for b in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] if b not in batches]
        if missing:
            raise DataError(f"{path}: CIFAR-10 batches missing: {', '.join(missing)} (truncated archive?)")
        xs, ys = zip(*(batches[f"data_batch_{i}"] for i in range(1, 6)))
        xt, yt = batches["test_batch"]
        return np.concatenate(xs), np.concatenate(ys), xt, yt
    if images["train"] and images["test"]:
        out = []
        for split in ("train", "test"):
            items = sorted(images[split], key=lambda t: (t[0], t[1]))
            x = np.stack([_decode_image(b, f"{path.name}:{n}") for _, n, b in items])
            y = np.array([c for c, _, _ in items], dtype=np.int64)
            out += [x, y]
        return out[0], out[1], out[2], out[3]
    raise DataError(
        f"{path} holds no CIFAR-10: expected cifar-10-batches-py/data_batch_1..5 + test_batch, "
        "or train/<class>/*.jpg and test/<class>/*.jpg"
    )


def read_cifar10(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decodes CIFAR-10 at `path` (any supported format), without the cache."""
    path = Path(path)
    try:
        return _decode(path)
    except DataError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{path} is corrupt or truncated: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------- cache


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256(f"format{_CACHE_FORMAT}".encode())
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                st = (Path(root) / f).stat()
                h.update(f"{Path(root, f).relative_to(path)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    else:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:24]


def load_cifar10(
    path: str | os.PathLike | None = None,
    *,
    prefer_bundled: bool = False,
    download: bool = True,
    use_cache: bool = True,
) -> Cifar10:
    """Finds (see `locate`), decodes and caches CIFAR-10."""
    src, how = locate(path, prefer_bundled=prefer_bundled, download=download)
    is_subset = src.resolve() == BUNDLED_SUBSET
    cached = cache_dir() / f"cifar10-{_fingerprint(src)}.npz" if use_cache else None
    arrays = None
    if cached is not None and cached.exists():
        try:
            with np.load(cached, allow_pickle=False) as z:
                arrays = tuple(z[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            arrays = None  # a damaged cache is rebuilt, never trusted
    if arrays is None:
        arrays = read_cifar10(src)
        if cached is not None:
            try:
                write_npz_atomic(cached, dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)))
            except OSError:
                pass  # a read-only cache folder only costs speed
    x_tr, y_tr, x_te, y_te = arrays
    return Cifar10(x_tr, y_tr, x_te, y_te, source=str(src), how=how, is_subset=is_subset)


def stratified_split(
    y: np.ndarray, n_holdout: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays `(keep, holdout)`, `holdout` with `n_holdout` items spread evenly over classes."""
    if not 0 < n_holdout < len(y):
        raise DataError(f"cannot hold out {n_holdout} of {len(y)} examples")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    hold: list[np.ndarray] = []
    for i, c in enumerate(classes):
        idx = np.flatnonzero(y == c)
        k = n_holdout // len(classes) + (1 if i < n_holdout % len(classes) else 0)
        hold.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    holdout = np.sort(np.concatenate(hold))
    keep = np.setdiff1d(np.arange(len(y)), holdout)
    return keep, holdout
