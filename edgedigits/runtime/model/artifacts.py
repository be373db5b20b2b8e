"""Writing artifacts so that a failed or interrupted run never leaves a half-written file or replaces a good one.

One file: `atomic_path` writes a temporary file beside the target and renames it over the target only when the
write finished. Its name carries the writer's process id, so `clean_stale` can remove the leftovers of a killed
writer without touching those of a live one, nor anything named otherwise (a user's own hidden files).

A shipped set (NAME.onnx, NAME.int8.onnx, NAME.json) is replaced as a set by `replace_set`, a small journal:
1. every file is written into the hidden directory OUT/.NAME.staging/, fsynced and read back against its sha256;
2. staging/commit.json (the file list and sha256s, written by rename) is the commit point;
3. the files are renamed into OUT one by one, the manifest last, then the staging directory is removed.
Killed before step 2, OUT still holds the old set untouched and the staging directory is discarded by the next
`recover`; killed during step 3, the next `recover` (run by every ship and by `bench` on a folder) finishes the
renames from the journal. Recovery touches only staging directories that carry edgedigits' mark, and rolls forward
only journals naming the set's own files by plain name with matching sha256s: a planted journal moves nothing.
`verify_set` checks a set's model files against the sha256s in its manifest and
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
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from edgedigits.errors import InputError
from edgedigits.limits import MAX_MODEL_BYTES
from edgedigits.runtime.model.jsonfile import read_json, standard

STAGING_SUFFIX = ".staging"
COMMIT = "commit.json"
MAX_JOURNAL_BYTES = 2**20  # a journal lists three file names and their sha256s
STAGING_MARK = ".edgedigits-staging"  # written first into every staging directory: recovery touches no other
PROCESS_TMP_PREFIX = "edgedigits-proc-"
# The exact name `atomic_path` gives its temp files: .TARGET.pidPID.XXXXXXXX.tmpSUFFIX (mkstemp's 8 random characters)
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.pid(?P<pid>[0-9]+)\.[a-z0-9_]{8}\.tmp(?P<suffix>\.[^./]+)?$")


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
    """JSON as the standard has it: a figure that is not a finite number (a diverged run's loss) is written as
    null, never as NaN or Infinity, which other JSON readers refuse."""
    write_bytes_atomic(target, (json.dumps(standard(obj), indent=2, sort_keys=False, allow_nan=False) + "\n").encode())


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
    strays = [file for file, _ in files if not file.startswith(f"{name}.") or Path(file).name != file]
    if strays:  # a journal naming them would be refused at roll-forward, and nothing would move
        raise ValueError(f"set {name}: file names must be plain and start with '{name}.', got {', '.join(strays)}")
    staging = out / f".{name}{STAGING_SUFFIX}"
    with _locked(out):
        _recover(out)
        if staging.is_symlink() or staging.exists():  # not ours (no mark), so recovery left it: never overwritten
            raise InputError(f"cannot ship {name}: {staging} is in the way (not a staging folder edgedigits made); "
                             f"remove it")
        # made under a temp name and renamed, so a staging folder always holds its mark
        made = Path(tempfile.mkdtemp(prefix=f".{name}{STAGING_SUFFIX}.pid{os.getpid()}.", suffix=".tmp", dir=out))
        try:
            _write_synced(made / STAGING_MARK, b"")
        except BaseException:
            shutil.rmtree(made, ignore_errors=True)
            raise
        os.replace(made, staging)
        try:
            _stage(staging, files)
        except BaseException:  # a full disk, an interrupt: nothing is committed, so nothing is left behind
            _discard(staging)
            raise
        os.replace(staging / f".{COMMIT}", staging / COMMIT)  # the commit point
        _sync_dir(staging)
        _roll_forward(out, staging)


def _stage(staging: Path, files: list[tuple[str, bytes]]) -> None:
    """Write the set's files and its journal (not yet committed) into `staging`, each read back as written."""
    digests = {}
    for file, data in files:
        _write_synced(staging / file, data)
        digests[file] = hashlib.sha256(data).hexdigest()
    for file, digest in digests.items():  # what is on disk is what was meant, before anything is committed
        if hashlib.sha256((staging / file).read_bytes()).hexdigest() != digest:
            raise OSError(f"staged {file} does not read back as written")
    _write_synced(staging / f".{COMMIT}", json.dumps({"order": [f for f, _ in files], "sha256": digests}).encode())


def _roll_forward(out: Path, staging: Path) -> None:
    """Move a committed set's files into `out`, manifest last. Only what the journal may name is moved: plain file
    names of the set itself (NAME.*), each a regular file in the staging folder whose bytes hash to the journal's
    sha256. A journal that names anything else (a path, another set's file, a link) is not ours: it is discarded
    and nothing moves, so a folder someone sends you can never make edgedigits write outside it."""
    order = _journal(staging)
    for file in order or []:
        if (staging / file).exists():  # already moved when an earlier roll-forward was interrupted
            os.replace(staging / file, out / file)
    _sync_dir(out)
    _discard(staging)


def _discard(staging: Path) -> None:
    """Remove a staging folder: first renamed to a temp name of this process (one atomic step), so a kill halfway
    through the removal leaves a leftover `clean_stale` knows, never a staging folder without its mark."""
    gone = staging.with_name(f"{staging.name}.pid{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.replace(staging, gone)
    shutil.rmtree(gone, ignore_errors=True)


def _journal(staging: Path) -> list[str] | None:
    """The file order of a committed journal in `staging`, or None when it is missing, unreadable or names a file
    it may not (see `_roll_forward`)."""
    name = staging.name[1 : -len(STAGING_SUFFIX)]
    commit = staging / COMMIT
    try:  # a regular file of a journal's size: never a link, a FIFO (which would block) or a huge file
        if commit.is_symlink() or not commit.is_file() or commit.stat().st_size > MAX_JOURNAL_BYTES:
            return None
        journal = read_json(commit)
        order, digests = journal["order"], journal["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(order, list) and order and all(isinstance(f, str) for f in order)
            and isinstance(digests, dict) and set(order) == set(digests)):
        return None
    for file in order:
        if not (file.startswith(f"{name}.") and Path(file).name == file and file not in (".", "..")
                and "\\" not in file and "\0" not in file and isinstance(digests[file], str)):
            return None
        staged = staging / file
        if staged.is_symlink() or (staged.exists() and not staged.is_file()):
            return None
        if staged.is_file() and (staged.stat().st_size > MAX_MODEL_BYTES or _sha256(staged) != digests[file]):
            return None
    return order


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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
        # Only staging folders edgedigits made (a real folder holding its mark): a user's own ".x.staging" is theirs.
        if staging.is_symlink() or not staging.is_dir() or not (staging / STAGING_MARK).is_file():
            continue
        if (staging / COMMIT).is_file():
            _roll_forward(directory, staging)
        else:
            _discard(staging)
    clean_stale(directory)


def clean_stale(directory: str | os.PathLike) -> None:
    """Remove temp files of `atomic_path` whose writer is gone: only names of the exact form it makes (TEMP_NAME)
    whose process id is not alive. Anything else, however it is named, is not edgedigits' to delete."""
    for tmp in Path(directory).glob(".*.pid*.tmp*"):
        owner = TEMP_NAME.match(tmp.name)
        if not owner or _alive(int(owner.group("pid"))):
            continue
        if (owner.group("suffix") or "") not in ("", Path(owner.group("target")).suffix):
            continue
        if tmp.is_dir() and not tmp.is_symlink():
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
        manifest = read_json(manifest_path, MAX_JOURNAL_BYTES)
        files = manifest["files"]
        expected = {files[stage]: manifest["stages"][stage]["sha256"] for stage in ("pruned", "int8")}
        if not all(isinstance(file, str) and "/" not in file for file in expected):
            raise TypeError("files must name files in the same folder")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{manifest_path}: not a readable manifest ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:120]})") from None
    for file, digest in expected.items():
        path = out / file
        if not path.is_file() or path.stat().st_size > MAX_MODEL_BYTES or _sha256(path) != digest:
            raise InputError(f"{path} does not match the sha256 in {manifest_path}")
    return manifest


# --- temporary directories of a process ------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # no such process, or no such pid at all
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
