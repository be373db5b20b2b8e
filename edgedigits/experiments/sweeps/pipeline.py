"""Sweep kind `pipeline`: the whole train-prune-export once per combination of recipe values."""

from __future__ import annotations

from pathlib import Path

import click

from edgedigits import tables
from edgedigits.experiments.outputs import Output
from edgedigits.experiments.sweeps import KINDS, Kind
from edgedigits.experiments.sweeps.runner import Sweep, Trial, cell_id, cells_of, parse_param, trial_recipe
from edgedigits.training import config

PIPELINE = "lenet-slim"
OPTIONS = [
    click.option("--param", "params", multiple=True, required=True, metavar="KEY=V1,V2",
                 help="A recipe key and its values, e.g. --param structured.widths.conv1=3,4 "
                      "--param prune.target_sparsity=0.8,0.9."),
]


def run(sweep: Sweep, params: tuple[str, ...]) -> Output:
    """Run the whole train-prune-export for every combination of --param values (structured widths, sparsity
    targets, ...): MACs, accuracies, INT8 size per cell. Each cell ships into its own runs directory, never exported/.
    Writes OUT_DIR/pipeline.{json,md}."""
    cells = cells_of(dict(parse_param(text) for text in params))
    for cell in cells:
        sweep.check(cell)
    trials = [Trial(cell_id(cell), sweep.params(cell=cell, overrides=cell, run_dir=str(Path(sweep.runs_dir) / cell_id(cell))))
              for cell in cells]
    rows = list(sweep.run(trials, pipeline_trial).values())
    return Output("pipeline", {"pipeline": sweep.recipe.name, "rows": rows}, markdown(rows, sweep.recipe.name))


def pipeline_trial(params: dict) -> dict:
    """The whole train-prune-export for one cell (e.g. structured widths); its files go to the trial's own dirs."""
    from edgedigits.training import pipeline

    run_dir = Path(params["run_dir"])
    manifest = pipeline.run(trial_recipe(params), run_dir / "exported", run_dir / "runs", params.get("data_dir"),
                            gate=False)
    stages = manifest["stages"]
    last = stages["int8"]
    return {
        "stages": {name: {key: s.get(key) for key in ("test_accuracy", "parameters", "nonzero_parameters", "macs",
                                                      "gzip_bytes")} for name, s in stages.items()},
        "widths": {k: v["after"] for k, v in (manifest.get("structured") or {}).get("widths", {}).items()},
        "macs": last.get("macs"), "int8_test_accuracy": last["test_accuracy"],
        "pruned_test_accuracy": stages["pruned"]["test_accuracy"], "int8_gzip_bytes": last["gzip_bytes"],
        "int8_variant": last["quantization"]["variant"], "exported": str(run_dir / "exported"),
    }


def markdown(rows: list[dict], name: str) -> str:
    keys = list(rows[0]["params"]["cell"])
    table = tables.markdown(
        [*keys, "MACs", "pruned %", "INT8 %", "INT8 gzip B", "INT8 variant"],
        [[*(r["params"]["cell"][k] for k in keys), f"{r['macs']:,}", f"{r['pruned_test_accuracy']:.2f}",
          f"{r['int8_test_accuracy']:.2f}", f"{r['int8_gzip_bytes']:,}", r["int8_variant"]] for r in rows])
    return (f"# Pipeline sweep: {name}\n\nEach cell is a full train-prune-export; accuracy on the full test set "
            f"through onnxruntime.\n\n{table}\n")


KINDS.register("pipeline")(Kind(run, PIPELINE, OPTIONS))
