"""CIFAR-10 loader: every format, discovery order, cache, and the hostile / corrupt file cases.

All data are real CIFAR-10 images: slices of the bundled subset (JPEG bytes
copied unchanged, or their decoded pixels written in the official format).
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from initlab import cifar
from initlab.errors import DataError

PER_CLASS = 3  # images per class and split in the fixtures: 30 train, 30 test


@pytest.fixture(scope="module")
def jpegs() -> dict[str, bytes]:
    """`{"train/<class>/NNNN.jpg": bytes}`, the first PER_CLASS images per class and split of the subset."""
    out: dict[str, bytes] = {}
    counts: dict[tuple[str, str], int] = {}
    with tarfile.open(cifar.BUNDLED_SUBSET) as tf:
        for m in tf:
            if not m.isfile():
                continue
            split, cls, _ = m.name.split("/")
            if counts.get((split, cls), 0) < PER_CLASS:
                counts[(split, cls)] = counts.get((split, cls), 0) + 1
                out[m.name] = tf.extractfile(m).read()
    assert len(out) == 2 * 10 * PER_CLASS
    return out


@pytest.fixture(scope="module")
def decoded(jpegs) -> tuple[np.ndarray, ...]:
    """Pixels of `jpegs`, decoded by Pillow directly (the reference), in (class, name) order."""
    from PIL import Image

    res = []
    for split in ("train", "test"):
        names = sorted((n for n in jpegs if n.startswith(split + "/")),
                       key=lambda n: (cifar.CLASS_NAMES.index(n.split("/")[1]), n))
        res.append(np.stack([np.asarray(Image.open(io.BytesIO(jpegs[n])).convert("RGB")) for n in names]))
        res.append(np.array([cifar.CLASS_NAMES.index(n.split("/")[1]) for n in names]))
    return tuple(res)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("INITLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("INITLAB_CIFAR10", raising=False)


def _write_image_folder(root: Path, jpegs) -> Path:
    for name, data in jpegs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _official_batches(decoded, protocol: int = 2) -> dict[str, bytes]:
    """The official `cifar-10-batches-py` files: 5 train batches of 6 and a test batch of 30."""
    x_tr, y_tr, x_te, y_te = decoded

    def batch(x, y, label):
        d = {b"batch_label": label, b"labels": [int(v) for v in y],
             b"data": x.transpose(0, 3, 1, 2).reshape(len(x), 3072).copy(),
             b"filenames": [b"f%d.png" % i for i in range(len(x))]}
        return pickle.dumps(d, protocol=protocol)

    out = {f"data_batch_{i + 1}": batch(x_tr[i::5], y_tr[i::5], b"train") for i in range(5)}
    out["test_batch"] = batch(x_te, y_te, b"test")
    return out


def _official_expected(decoded):
    x_tr, y_tr, x_te, y_te = decoded
    order = np.concatenate([np.arange(len(y_tr))[i::5] for i in range(5)])
    return x_tr[order], y_tr[order], x_te, y_te


def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _assert_same(got, expected):
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    assert got[0].dtype == np.uint8 and got[0].shape[1:] == (32, 32, 3)


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("protocol", [2, 4])
def test_official_archive_and_folder(tmp_path, decoded, protocol):
    files = _official_batches(decoded, protocol)
    arch = _tar(tmp_path / "cifar-10-python.tar.gz", {f"cifar-10-batches-py/{k}": v for k, v in files.items()})
    expected = _official_expected(decoded)
    _assert_same(cifar.read_cifar10(arch), expected)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for k, v in files.items():
        (folder / k).write_bytes(v)
    _assert_same(cifar.read_cifar10(folder), expected)


def test_image_folder_as_folder_targz_and_zip(tmp_path, jpegs, decoded):
    _assert_same(cifar.read_cifar10(_write_image_folder(tmp_path / "imgs", jpegs)), decoded)
    _assert_same(cifar.read_cifar10(_tar(tmp_path / "imgs.tar.gz", {f"cifar10/{k}": v for k, v in jpegs.items()})),
                 decoded)
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as zf:
        for k, v in jpegs.items():
            zf.writestr(k, v)
    _assert_same(cifar.read_cifar10(tmp_path / "imgs.zip"), decoded)


def test_bundled_subset_is_stratified_and_small():
    assert cifar.BUNDLED_SUBSET.stat().st_size <= 10 * 1024 * 1024
    d = cifar.load_cifar10(prefer_bundled=True)
    assert d.is_subset and d.how == "bundled"
    assert np.bincount(d.y_train, minlength=10).tolist() == [1000] * 10
    assert np.bincount(d.y_test, minlength=10).tolist() == [200] * 10
    assert "subset" in d.describe()


@pytest.mark.slow
def test_full_shared_archive():
    src = Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg.tar.gz"
    if not src.exists():
        pytest.skip(f"{src} not present")
    x_tr, y_tr, x_te, y_te = cifar.read_cifar10(src)
    assert x_tr.shape == (50000, 32, 32, 3) and x_te.shape == (10000, 32, 32, 3)
    assert np.bincount(y_tr).tolist() == [5000] * 10 and np.bincount(y_te).tolist() == [1000] * 10


# --------------------------------------------------------------------------- discovery and cache


def test_discovery_order(tmp_path, monkeypatch, jpegs):
    keras_dir = _write_image_folder(tmp_path / "keras_home/datasets/cifar-10-batches-py", jpegs)
    assert cifar.locate() == (keras_dir, "keras-cache")
    assert cifar.locate(prefer_bundled=True) == (cifar.BUNDLED_SUBSET, "bundled")
    env_dir = _write_image_folder(tmp_path / "env", jpegs)
    monkeypatch.setenv("INITLAB_CIFAR10", str(env_dir))
    assert cifar.locate(prefer_bundled=True) == (env_dir, "env")
    arg_dir = _write_image_folder(tmp_path / "arg", jpegs)
    assert cifar.locate(arg_dir, prefer_bundled=True) == (arg_dir, "argument")
    with pytest.raises(DataError, match="does not exist"):
        cifar.locate(tmp_path / "nope")
    monkeypatch.setenv("INITLAB_CIFAR10", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="INITLAB_CIFAR10"):
        cifar.locate()


def test_no_data_offline_gives_clear_error(monkeypatch):
    with pytest.raises(DataError, match="not found"):
        cifar.locate(download=False)


def test_second_load_uses_cache(tmp_path, monkeypatch, jpegs, decoded):
    arch = _tar(tmp_path / "imgs.tar.gz", jpegs)
    first = cifar.load_cifar10(arch)
    assert len(list((tmp_path / "cache").glob("cifar10-*.npz"))) == 1

    def boom(_path):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(cifar, "read_cifar10", boom)
    second = cifar.load_cifar10(arch)
    _assert_same((second.x_train, second.y_train, second.x_test, second.y_test), decoded)
    np.testing.assert_array_equal(first.x_train, second.x_train)


def test_stratified_split():
    y = np.repeat(np.arange(10), 50)
    keep, hold = cifar.stratified_split(y, 100, seed=3)
    assert np.bincount(y[hold]).tolist() == [10] * 10
    assert len(np.intersect1d(keep, hold)) == 0 and len(keep) + len(hold) == len(y)
    np.testing.assert_array_equal(hold, cifar.stratified_split(y, 100, seed=3)[1])
    assert not np.array_equal(hold, cifar.stratified_split(y, 100, seed=4)[1])


# --------------------------------------------------------------------------- hostile and corrupt


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_refused_without_running_code(tmp_path, decoded):
    marker = tmp_path / "pwned"
    files = _official_batches(decoded)
    files["test_batch"] = pickle.dumps({b"data": _Evil(marker), b"labels": [0]}, protocol=2)
    arch = _tar(tmp_path / "cifar-10-python.tar.gz", {f"cifar-10-batches-py/{k}": v for k, v in files.items()})
    with pytest.raises(DataError, match=r"refused.*(posix|os)\.system"):
        cifar.load_cifar10(arch)
    assert not marker.exists()
    assert not list((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True


def test_pickle_of_wrong_shape_is_refused(tmp_path, decoded):
    files = _official_batches(decoded)
    files["data_batch_3"] = pickle.dumps({b"data": np.zeros((4, 10), np.uint8), b"labels": [0] * 4})
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for k, v in files.items():
        (folder / k).write_bytes(v)
    with pytest.raises(DataError, match=r"data_batch_3.*\(N, 3072\)"):
        cifar.read_cifar10(folder)


@pytest.mark.parametrize("name, match", [
    ("../escape.jpg", "outside the target folder"),
    ("train/../../escape.jpg", "outside the target folder"),
    ("/tmp/escape.jpg", "absolute path"),
])
def test_archive_member_outside_target_is_refused(tmp_path, jpegs, name, match):
    members = dict(jpegs)
    members[name] = next(iter(jpegs.values()))
    with pytest.raises(DataError, match=match):
        cifar.read_cifar10(_tar(tmp_path / "bad.tar.gz", members))
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    with pytest.raises(DataError, match=match):
        cifar.read_cifar10(tmp_path / "bad.zip")


def test_archive_link_is_refused(tmp_path, jpegs):
    path = _tar(tmp_path / "link.tar", jpegs, mode="w")
    with tarfile.open(path, "a") as tf:
        info = tarfile.TarInfo("train/cat/link.jpg")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(DataError, match="is a link"):
        cifar.read_cifar10(path)


def test_truncated_archive_errors_and_leaves_no_cache(tmp_path, jpegs):
    whole = _tar(tmp_path / "whole.tar.gz", jpegs).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="corrupt or truncated"):
        cifar.load_cifar10(cut)
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_corrupt_jpeg_errors(tmp_path, jpegs):
    members = dict(jpegs)
    key = sorted(members)[0]
    members[key] = members[key][:40]
    with pytest.raises(DataError, match=rf"{key}.*corrupt or truncated"):
        cifar.load_cifar10(_tar(tmp_path / "bad.tar.gz", members))
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_not_cifar_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no CIFAR-10"):
        cifar.read_cifar10(tmp_path / "empty")
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x00not an archive" * 50)
    with pytest.raises(DataError, match="corrupt or truncated"):
        cifar.read_cifar10(garbage)
