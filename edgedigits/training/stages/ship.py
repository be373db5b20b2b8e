"""Stage `ship`: the manifest built from every stage's results, and the shipped set (NAME.onnx: the last fp32 file,
NAME.int8.onnx, NAME.json) replaced in the output folder as one unit (runtime.model.artifacts.replace_set), the
manifest last: only a run whose every stage and gate passed gets here."""

from __future__ import annotations

import json
import platform
from importlib import metadata as importlib_metadata

from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import replace_set
from edgedigits.training import pins
from edgedigits.training.config import to_dict
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage

LIBRARIES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx", "onnxruntime", "numpy")


@STAGES.register("ship")
class Ship(Stage):
    order, needs, makes = 70, ("int8",), ("shipped",)

    @staticmethod
    def run(run: Run) -> Result:
        name, scored = run.recipe.name, run.scored()
        files = shipped_files(run)
        manifest = build_manifest(run, files)
        text = json.dumps(manifest, indent=2, allow_nan=False) + "\n"  # a manifest's figures are all numbers
        replace_set(run.out_dir, name, [*((file, scored[stage].path.read_bytes()) for stage, file in files.items()),
                                        (f"{name}.json", text.encode())])
        return Result(manifest={"shipped": manifest})


def shipped_files(run: Run) -> dict[str, str]:
    """Stage -> file name of the shipped set: the last fp32 file scored (pruned, when pruning ran) and the INT8."""
    name = run.recipe.name
    fp32 = [stage for stage in run.scored() if stage != "int8"][-1]
    return {fp32: f"{name}.onnx", "int8": f"{name}.int8.onnx"}


def build_manifest(run: Run, files: dict[str, str]) -> dict:
    from edgedigits.training.stack import tf  # loaded by the stages before; the pins record reads its settings

    recipe, ds = run.recipe, run.ds
    extra = {key: value for result in run.results.values() for key, value in result.manifest.items()
             if key != "shipped"}
    facts = timing.machine_info()
    task = run.task.manifest(run)
    return {
        "name": recipe.name,
        "task": recipe.task,
        "model": task.pop("model", recipe.model),
        "dataset": ds.name,
        "labels": task.pop("labels", list(ds.labels)),
        "data_source": ds.origin,
        "data_sha256": ds.sha256,
        **{key: task.pop(key) for key in ("test_images", "input", "output") if key in task},
        "stages": {stage: result.facts for stage, result in run.scored().items()},
        # kept widths per layer, MACs and parameters before/after, the per-step history; null when not enabled
        "structured": extra.pop("structured", None),
        "times_s": run.times(),
        "pipeline_file": recipe.manifest_path,
        "pipeline": {**to_dict(recipe), "path": recipe.manifest_path},
        "libraries": {lib: importlib_metadata.version(lib) for lib in LIBRARIES},
        "machine": {"cpu": facts["cpu"], "cores": facts["cores"], "features": facts["features"],
                    "platform": platform.platform()},
        "files": files,
        "default": "int8",
        "reproduce": pins.record(run, tf),  # what `edgedigits verify` needs to rebuild these files
        **task,
        **extra,
    }
