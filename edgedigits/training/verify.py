"""`edgedigits verify MANIFEST`: rebuild a shipped set from what its manifest records and say, stage by stage,
whether the rebuilt files are the shipped bytes (sha256), and by how much their test accuracy differs when not.

A manifest's "reproduce" record (pins.record) holds what a re-run needs: the recipe's settings and their hash, the
data's sha256, the library versions, and the pins in force (training/pins.py). `verify` rebuilds in a child
process, because the pins must be in its environment before TensorFlow loads, and the child runs the pipeline's
own stages (`rebuild`), so the rebuilt files are made exactly as `train-prune-export` makes them.

When the recipe lets the running CPU pick the INT8 variant by timing, the rebuild quantizes with the variant the
manifest shipped (a timing cannot be re-run on another machine) and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgedigits.errors import InputError
from edgedigits.runtime.model.artifacts import private_tempdir
from edgedigits.training import config, pins

REBUILT = "rebuilt.json"


@dataclass
class Outcome:
    """What `verify` found: one row per stage, and notes on whatever differs besides the files."""

    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.rows) and all(r["same"] for r in self.rows)


def load_manifest(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a JSON manifest: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("pipeline"), dict) \
            or not isinstance(manifest.get("stages"), dict):
        raise InputError(f"{path} is not a train-prune-export manifest (no pipeline and stages)")
    return manifest


def recipe_of(manifest: dict) -> tuple[config.Pipeline, list[str]]:
    """The recipe the manifest was built from (its recorded settings, not today's file of the same name), and notes
    on what the rebuild changes or cannot check."""
    settings = {k: v for k, v in manifest["pipeline"].items() if k not in ("name", "path", "sha256")}
    recipe = config.from_dict(config.Pipeline, settings, where=f"the manifest's recipe ({manifest.get('name')})")
    recipe.name = manifest["name"]
    recipe.sha256 = config.settings_sha256(config.to_dict(recipe))
    notes = []
    if recipe.sha256 != manifest["pipeline"].get("sha256"):
        notes.append("the recipe's settings, as read today (defaults included), hash differently from the manifest's")
    shipped = manifest["stages"].get("int8", {}).get("quantization", {}).get("variant")
    if len(recipe.quantize.variants) > 1 and shipped:
        by = "timing" if recipe.quantize.select == "fastest" else "validation accuracy"
        notes.append(f"INT8 variant fixed to the shipped {shipped} (the recipe chooses by {by} on the running CPU)")
        recipe.quantize.variants = [shipped]
    return recipe, notes


class RebuildError(Exception):
    """The rebuild stopped before writing its manifest (the child printed why)."""


def verify(manifest_path, work_dir=None, data_dir=None) -> Outcome:
    """Rebuild the set of `manifest_path` in `work_dir` (default: a temporary directory, removed after) and compare."""
    from edgedigits.runtime import datasets

    manifest = load_manifest(manifest_path)
    recipe, _ = recipe_of(manifest)  # a manifest whose recipe cannot be read is one line of error before any work
    ds = datasets.load(recipe.dataset, data_dir, base=config.recipe_dir(recipe))
    if manifest.get("data_sha256") and ds.sha256 != manifest["data_sha256"]:
        raise InputError(f"the {recipe.dataset} data here (sha256 {ds.sha256[:12]}) is not the data the manifest was "
                         f"built from ({manifest['data_sha256'][:12]}): no rebuild could match")
    recorded = (manifest.get("reproduce") or {}).get("pins") or {"reproducible": True}
    env = {k: v for k, v in os.environ.items() if k not in pins.VARIABLES}
    env.update({k: v for k, v in pins.environment(recorded).items() if v is not None})
    with tempfile.TemporaryDirectory(dir=private_tempdir()) as tmp:  # removed by the next run after a hard kill
        work = Path(work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / REBUILT).unlink(missing_ok=True)  # a file of an earlier rebuild is never read as this one's
        command = [sys.executable, "-m", "edgedigits.training.verify", str(manifest_path), str(work)]
        done = subprocess.run(command + ([str(data_dir)] if data_dir else []), env=env)
        if done.returncode != 0 or not (work / REBUILT).is_file():
            raise RebuildError(f"the rebuild stopped (exit {done.returncode}); its error is above")
        rebuilt = json.loads((work / REBUILT).read_text())
    return compare(manifest, rebuilt)


def compare(shipped: dict, rebuilt: dict) -> Outcome:
    """Per stage: same sha256, both test accuracies; notes on recipe, data, pins and libraries that differ."""
    out = Outcome(notes=list(rebuilt.get("notes", [])))
    for stage, facts in shipped["stages"].items():
        new = rebuilt["stages"].get(stage)
        if new is None:
            out.rows.append({"stage": stage, "same": False, "shipped": facts, "rebuilt": None})
            continue
        out.rows.append({"stage": stage, "same": facts.get("sha256") == new["sha256"], "shipped": facts,
                         "rebuilt": new})
    if shipped.get("data_sha256") != rebuilt.get("data_sha256"):
        out.notes.append(f"data differs: sha256 {rebuilt.get('data_sha256', '')[:12]} here, "
                         f"{str(shipped.get('data_sha256'))[:12]} in the manifest")
    old, new = shipped.get("reproduce") or {}, rebuilt.get("reproduce") or {}
    if not old:
        out.notes.append("the manifest records no pins: rebuilt with today's defaults")
    for key, value in (new.get("pins") or {}).items():
        if old and old.get("pins", {}).get(key) != value:
            out.notes.append(f"pin {key}: {value} here, {old.get('pins', {}).get(key)} in the manifest")
    versions = old.get("libraries") or shipped.get("libraries", {})
    for name, version in (new.get("libraries") or {}).items():
        if name in versions and versions[name] != version:
            out.notes.append(f"{name} {version} here, {versions[name]} in the manifest")
    return out


def table(outcome: Outcome) -> str:
    from edgedigits import tables

    rows = [["stage", "same bytes", "shipped sha256", "rebuilt sha256", "shipped %", "rebuilt %", "diff"]]
    for r in outcome.rows:
        old, new = r["shipped"], r["rebuilt"] or {}
        acc = new.get("test_accuracy")
        diff = f"{acc - old['test_accuracy']:+.2f}" if acc is not None else "-"
        rows.append([r["stage"], "yes" if r["same"] else "no", old.get("sha256", "-")[:16],
                     new.get("sha256", "-")[:16], f"{old['test_accuracy']:.2f}",
                     f"{acc:.2f}" if acc is not None else "not rebuilt", diff])
    lines = [tables.text(rows), *(f"note: {n}" for n in outcome.notes)]
    same = sum(r["same"] for r in outcome.rows)
    lines.append(f"{same} of {len(outcome.rows)} files rebuilt to the shipped bytes")
    return "\n".join(lines)


def rebuild(manifest_path, work: Path, data_dir=None) -> None:
    """The child's part: run the manifest's recipe through its stages into `work` (no gate refuses: a rebuild
    measures), and write the rebuilt manifest there."""
    from edgedigits.runtime.model.artifacts import write_json_atomic
    from edgedigits.training import pipeline

    manifest = load_manifest(manifest_path)
    recipe, notes = recipe_of(manifest)
    rebuilt = pipeline.run(recipe, work / "out", work / "runs", data_dir, gate=False)
    write_json_atomic(work / REBUILT, {**rebuilt, "notes": notes})


if __name__ == "__main__":  # the child: python -m edgedigits.training.verify MANIFEST WORK_DIR [DATA_DIR]
    from edgedigits.errors import GateError
    from edgedigits.options import log_to_stderr

    log_to_stderr()
    try:
        rebuild(sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    except (InputError, GateError) as exc:
        print(f"edgedigits: {exc}", file=sys.stderr)
        sys.exit(2 if isinstance(exc, InputError) else 3)
