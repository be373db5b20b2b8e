"""Writing artifacts so that a failed or interrupted run never leaves a half-written file or replaces a good one.

One file: `atomic_path` writes a temporary file beside the target and renames it over the target only when the
write finished. Its name carries the writer's process id, so `clean_stale` can remove the leftovers of a killed
writer without touching those of a live one.

A shipped set (NAME.onnx, NAME.int8.onnx, NAME.json) is replaced as a set by `replace_set`, a small journal:
1. every file is written into the hidden directory OUT/.NAME.staging/, fsynced and read back against its sha256;
2. staging/commit.json (the file list and sha256s, written by rename) is the commit point;
3. the files are renamed into OUT one by one, the manifest last, then the staging directory is removed.
Killed before step 2, OUT still holds the old set untouched and the staging directory is discarded by the next
`recover`; killed during step 3, the next `recover` (run by every ship and by `bench` on a folder) finishes the
renames from the journal. `verify_set` checks a set's model files against the sha256s in its manifest and
recovers first, so a verified read never sees old and new files mixed. The whole directory is locked (flock)
while a set is replaced or recovered.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

from edgedigits.errors import InputError

STAGING_SUFFIX = ".staging"
COMMIT = "commit.json"
STALE_AFTER_S = 600  # a temp file without a live owner's pid in its name is a leftover once this old
PROCESS_TMP_PREFIX = "edgedigits-proc-"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it over `target` only if the block finishes without error."""
    target = Path(target)
    ensure_writable_dir(target.parent)
    # Keep the target's suffix: savers such as Keras pick the format from it.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.pid{os.getpid()}.", suffix=f".tmp{target.suffix}",
                               dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a shipped artifact gets a normal file's permissions
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            if tmp.is_dir():  # a saver that writes a directory
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(target: str | os.PathLike, obj) -> None:
    write_bytes_atomic(target, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create `path` if needed and check we can write there, so a long run fails at its start, not its end."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {path}: {exc.strerror or exc}") from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"output directory {path} is not writable")
    return path


def file_stats(path: str | os.PathLike) -> dict:
    """Raw bytes, gzipped bytes (level 9, what a download or firmware image would cost) and sha256 of a file."""
    data = Path(path).read_bytes()
    return {
        "bytes": len(data),
        "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def is_hidden(path: Path) -> bool:
    """Temporary and staging files are hidden (dot) files: readers that list a folder skip them."""
    return path.name.startswith(".")


# --- shipped sets ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(directory: Path):
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_set(out_dir: str | os.PathLike, name: str, files: list[tuple[str, bytes]]) -> None:
    """Replace the files of set `name` in `out_dir` as one unit (see the module docstring); the last file of
    `files` (the manifest) is renamed last."""
    out = ensure_writable_dir(out_dir)
    staging = out / f".{name}{STAGING_SUFFIX}"
    with _locked(out):
        _recover(out)
        staging.mkdir()
        digests = {}
        for file, data in files:
            _write_synced(staging / file, data)
            digests[file] = hashlib.sha256(data).hexdigest()
        for file, digest in digests.items():  # what is on disk is what was meant, before anything is committed
            if hashlib.sha256((staging / file).read_bytes()).hexdigest() != digest:
                shutil.rmtree(staging, ignore_errors=True)
                raise OSError(f"staged {file} does not read back as written")
        _write_synced(staging / f".{COMMIT}", json.dumps({"order": [f for f, _ in files], "sha256": digests}).encode())
        os.replace(staging / f".{COMMIT}", staging / COMMIT)  # the commit point
        _sync_dir(staging)
        _roll_forward(out, staging)


def _roll_forward(out: Path, staging: Path) -> None:
    journal = json.loads((staging / COMMIT).read_text())
    for file in journal["order"]:
        if (staging / file).exists():  # already moved when an earlier roll-forward was interrupted
            os.replace(staging / file, out / file)
    _sync_dir(out)
    shutil.rmtree(staging)


def recover(directory: str | os.PathLike) -> None:
    """Finish or discard what killed writers left in `directory`: committed sets are completed, uncommitted
    staging directories and stale temp files removed. Does nothing where it may not write (a read-only install)."""
    directory = Path(directory)
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        return
    with _locked(directory):
        _recover(directory)


def _recover(directory: Path) -> None:
    for staging in directory.glob(f".*{STAGING_SUFFIX}"):
        try:
            committed = json.loads((staging / COMMIT).read_text())["order"]
        except (OSError, ValueError, KeyError, TypeError):
            committed = None
        if committed:
            _roll_forward(directory, staging)
        else:
            shutil.rmtree(staging, ignore_errors=True)
    clean_stale(directory)


def clean_stale(directory: str | os.PathLike) -> None:
    """Remove temp files of `atomic_path` whose writer is gone (its pid is dead) or, for names without a pid
    (older versions), that are older than STALE_AFTER_S."""
    now = time.time()
    for tmp in Path(directory).glob(".*.tmp*"):
        owner = re.search(r"\.pid(\d+)\.[^.]+\.tmp", tmp.name)
        pids = [int(owner.group(1))] if owner else []
        owner_alive = any(_alive(pid) for pid in pids)
        try:
            old = now - tmp.lstat().st_mtime > STALE_AFTER_S
        except FileNotFoundError:
            continue
        if (pids and not owner_alive) or (not pids and old):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def verify_set(out_dir: str | os.PathLike, name: str) -> dict:
    """The manifest of set `name`, after checking that its model files hash to the sha256s it records; an
    InputError says which file does not. Recovers the directory first (see the module docstring)."""
    out = Path(out_dir)
    recover(out)
    manifest_path = out / f"{name}.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
        expected = {files[stage]: manifest["stages"][stage]["sha256"] for stage in ("pruned", "int8")}
        if not all(isinstance(file, str) and "/" not in file for file in expected):
            raise TypeError("files must name files in the same folder")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{manifest_path}: not a readable manifest ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:120]})") from None
    for file, digest in expected.items():
        path = out / file
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise InputError(f"{path} does not match the sha256 in {manifest_path}")
    return manifest


# --- temporary directories of a process ------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_PRIVATE: list[Path] = []


def private_tempdir() -> Path:
    """Point `tempfile` (and so every library that uses it: TensorFlow's autograph, the ONNX quantizer) at a
    directory of this process, removed at exit; those of processes that died without cleaning up (a hard kill)
    are removed here, by the next process that calls this."""
    if _PRIVATE:
        return _PRIVATE[0]
    base = Path(tempfile.gettempdir())
    for stale in base.glob(f"{PROCESS_TMP_PREFIX}*"):
        pid = stale.name[len(PROCESS_TMP_PREFIX):]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    mine = base / f"{PROCESS_TMP_PREFIX}{os.getpid()}"
    mine.mkdir(exist_ok=True)
    tempfile.tempdir = str(mine)
    atexit.register(shutil.rmtree, mine, True)
    _PRIVATE.append(mine)
    return mine
