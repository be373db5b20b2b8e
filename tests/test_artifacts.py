"""Shipped sets are replaced as a set, whatever step of the write a process dies at; leftovers are cleaned."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edgedigits.errors import InputError
from edgedigits.runtime import bench
from edgedigits.runtime.model import artifacts

pytestmark = pytest.mark.runtime

EXPORTED = Path(__file__).resolve().parent.parent / "exported"
SET = ("lenet.onnx", "lenet.int8.onnx", "lenet.json")


def interrupted_child(n: int, mode: str, out: Path, files: list) -> int:
    """Fork a child that replaces the set in `out`, counting every call that writes, renames or removes, and at the
    Nth dies on the spot (os._exit: a SIGKILL as far as the files can tell) or fails (OSError). Returns the child's
    exit status: 9 killed, 1 failed, 0 finished (then it had fewer than n calls, or one failure was absorbed)."""
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:
        calls = [0]

        def hooked(real, name):
            def call(*args, **kwargs):
                calls[0] += 1
                if calls[0] == n:
                    if mode == "kill":
                        if name == "write":  # die halfway through the write: a torn file
                            real(args[0], bytes(args[1])[: max(1, len(args[1]) // 2)])
                        os._exit(9)
                    raise OSError(f"injected failure at {name}")
                return real(*args, **kwargs)
            return call

        for name in ("replace", "write", "fsync", "unlink", "rmdir", "mkdir"):
            setattr(os, name, hooked(getattr(os, name), name))
        try:
            artifacts.replace_set(out, "lenet", files)
        except (OSError, InputError):
            os._exit(1)
        os._exit(0 if calls[0] < n else 2)
    finally:
        os._exit(3)


def digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def new_set(folder: Path) -> Path:
    """The lenet set with different model bytes and a manifest recording their sha256s."""
    folder.mkdir()
    manifest = json.loads((EXPORTED / "lenet.json").read_text())
    for stage, name in (("pruned", "lenet.onnx"), ("int8", "lenet.int8.onnx")):
        data = (EXPORTED / name).read_bytes() + b"new"
        (folder / name).write_bytes(data)
        manifest["stages"][stage]["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["name"] = "lenet"
    (folder / "lenet.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def test_a_process_killed_at_any_write_leaves_the_old_set_or_the_new_one(tmp_path):
    new = new_set(tmp_path / "new")
    old, fresh = digests_of(EXPORTED), digests(new)
    files = [(name, (new / name).read_bytes()) for name in SET]
    ends = {"old": 0, "new": 0}
    for mode in ("kill", "fail"):
        n = 0
        while True:
            n += 1
            out = tmp_path / f"{mode}-{n}"
            out.mkdir()
            for name in SET:
                shutil.copyfile(EXPORTED / name, out / name)
            code = interrupted_child(n, mode, out, files)
            assert code in (0, 1, 2, 9), code
            visible = {p.name: sha(p) for p in out.iterdir() if not p.name.startswith(".")}
            # A reader that verifies the set (verify_set recovers first) gets the old or the new one, never a mix,
            # and nothing of the dead writer is left
            manifest = artifacts.verify_set(out, "lenet")
            now = digests(out)
            assert now in (old, fresh), f"{mode} at call {n}: {now}"
            assert manifest["stages"]["pruned"]["sha256"] == now["lenet.onnx"]
            assert [p.name for p in bench.find_models([str(out)])] == ["lenet.int8.onnx", "lenet.onnx"]
            ends["old" if now == old else "new"] += 1
            if code == 0:  # past its last call: each one was interrupted once
                assert now == fresh and visible == fresh
                break
            assert n < 100
        print(f"{mode}: interrupted at each of {n - 1} calls")
    assert ends["old"] >= 4 and ends["new"] >= 4  # deaths before and after the commit point were both exercised


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests_of(folder: Path) -> dict:
    return {name: sha(folder / name) for name in sorted(SET)}


def test_verify_set_refuses_a_mixed_set(tmp_path):
    out = tmp_path / "out"
    new = new_set(tmp_path / "new")
    out.mkdir()
    for name in SET:
        shutil.copyfile(EXPORTED / name, out / name)
    artifacts.verify_set(out, "lenet")
    shutil.copyfile(new / "lenet.onnx", out / "lenet.onnx")  # a new model beside the old manifest
    with pytest.raises(InputError, match="lenet.onnx does not match the sha256 in"):
        artifacts.verify_set(out, "lenet")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_killed_writer_are_removed_and_never_benched(tmp_path):
    out = tmp_path / "exported"
    out.mkdir()
    for name in SET:
        shutil.copyfile(EXPORTED / name, out / name)
    pid = dead_pid()
    stale = out / f".lenet.int8.onnx.pid{pid}.abcd1234.tmp.onnx"
    stale.write_bytes(b"\0" * 65536)
    live = out / f".lenet.onnx.pid{os.getpid()}.efgh5678.tmp.onnx"  # a writer still running: left alone
    live.write_bytes(b"partial")
    uncommitted = out / ".lenet.staging"  # what a writer killed before its commit point leaves
    uncommitted.mkdir()
    (uncommitted / artifacts.STAGING_MARK).write_bytes(b"")
    (uncommitted / "lenet.onnx").write_bytes(b"half")
    assert [p.name for p in bench.find_models([str(out)])] == ["lenet.int8.onnx", "lenet.onnx"]
    assert not stale.exists() and not uncommitted.exists() and live.exists()
    assert {p.name for p in out.iterdir()} == {*SET, live.name}


def test_atomic_path_leaves_the_target_alone_on_failure(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"good" and list(tmp_path.iterdir()) == [target]


def test_a_hard_killed_process_temp_dir_is_removed_by_the_next(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    script = ("import os, signal, tempfile\nfrom edgedigits.runtime.model import artifacts\nd = artifacts.private_tempdir()\n"
              "assert tempfile.gettempdir() == str(d)\nopen(tempfile.mkstemp(suffix='.py')[1], 'w').write('autograph')\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    left = list(tmp_path.glob(f"{artifacts.PROCESS_TMP_PREFIX}*"))
    assert len(left) == 1 and any(left[0].iterdir())  # what a hard kill leaves...
    subprocess.run([sys.executable, "-c", "from edgedigits.runtime.model import artifacts; artifacts.private_tempdir()"],
                   env=env, check=True, timeout=60)
    # ...the next process removes, and its own goes at exit (onnxruntime's own .ses file is not ours)
    assert list(tmp_path.glob(f"{artifacts.PROCESS_TMP_PREFIX}*")) == []
    assert tempfile.gettempdir() != str(tmp_path)  # this process's tempfile setting untouched by the children


def plant(folder: Path, name: str, order: list, files: dict, mark: bool = True) -> Path:
    """A staging folder as someone else might leave it: a committed journal listing `order`, the files given."""
    staging = folder / f".{name}.staging"
    staging.mkdir()
    if mark:
        (staging / artifacts.STAGING_MARK).write_bytes(b"")
    for file, data in files.items():
        (staging / file).write_bytes(data)
    digests = {f: hashlib.sha256(files.get(f, b"")).hexdigest() for f in order}
    (staging / "commit.json").write_text(json.dumps({"order": order, "sha256": digests}))
    return staging


@pytest.mark.parametrize("order", [["../victim.txt"], ["lenet.onnx", "../victim.txt"], ["/tmp/victim.txt"],
                                   ["sub/lenet.onnx"], ["other.onnx"], [".."], ["lenet.onnx/.."]])
def test_a_planted_journal_never_moves_a_file_outside_its_folder(tmp_path, order):
    folder, victim = tmp_path / "sent", tmp_path / "victim.txt"
    folder.mkdir()
    victim.write_text("mine")
    files = {Path(f).name: b"planted" for f in order if Path(f).name not in ("", "..")}
    staging = plant(folder, "lenet", order, files)
    before = sorted(p.name for p in tmp_path.rglob("*") if ".staging" not in str(p))
    artifacts.recover(folder)
    assert victim.read_text() == "mine"
    assert not (Path("/tmp/victim.txt").exists() and Path("/tmp/victim.txt").read_bytes() == b"planted")
    assert sorted(p.name for p in tmp_path.rglob("*") if ".staging" not in str(p)) == before
    assert not staging.exists()  # a journal that names what it may not is discarded


def test_a_planted_journal_with_a_wrong_hash_or_a_link_moves_nothing(tmp_path):
    folder = tmp_path / "sent"
    folder.mkdir()
    (folder / "lenet.onnx").write_bytes(b"good")
    staging = plant(folder, "lenet", ["lenet.onnx"], {"lenet.onnx": b"bad"})
    (staging / "commit.json").write_text(json.dumps({"order": ["lenet.onnx"], "sha256": {"lenet.onnx": "0" * 64}}))
    artifacts.recover(folder)
    assert (folder / "lenet.onnx").read_bytes() == b"good"
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    staging = plant(folder, "lenet", ["lenet.onnx"], {})
    (staging / "lenet.onnx").symlink_to(outside)
    artifacts.recover(folder)
    assert (folder / "lenet.onnx").read_bytes() == b"good" and not (folder / "lenet.onnx").is_symlink()
    assert outside.read_bytes() == b"secret"


def test_staging_folders_without_the_mark_and_user_files_are_left_alone(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    pid = dead_pid()
    theirs = [folder / ".notes.tmp", folder / ".notes.tmp.bak", folder / f".draft.pid{pid}.tmp",
              folder / f".lenet.onnx.pid{pid}.abcd1234.tmp.keras"]  # not a name atomic_path makes for that target
    for path in theirs:
        path.write_text("keep")
    backup = folder / ".venv.tmp-backup"
    backup.mkdir()
    (backup / "file").write_text("keep")
    unmarked = plant(folder, "notes", ["notes.txt"], {"notes.txt": b"x"}, mark=False)
    os.utime(folder / ".notes.tmp", (0, 0))  # old: age alone never makes a file edgedigits'
    artifacts.recover(folder)
    assert all(p.read_text() == "keep" for p in theirs) and (backup / "file").read_text() == "keep"
    assert (unmarked / "commit.json").exists() and not (folder / "notes.txt").exists()


def test_a_folder_in_the_way_of_staging_is_one_clear_error(tmp_path):
    out = tmp_path / "exported"
    out.mkdir()
    (out / ".lenet.staging").write_text("a plain file where the staging folder goes")
    with pytest.raises(InputError, match="in the way"):
        artifacts.replace_set(out, "lenet", [("lenet.json", b"{}")])
    assert (out / ".lenet.staging").read_text().startswith("a plain file")


def test_replace_set_refuses_file_names_outside_its_set(tmp_path):
    with pytest.raises(ValueError, match="start with 'model.'"):
        artifacts.replace_set(tmp_path, "model", [("other.onnx", b"x"), ("model.json", b"{}")])
    assert not any(tmp_path.iterdir())  # nothing staged, nothing written
