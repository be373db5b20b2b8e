"""Stages are units: a new one is a module with its own TOML table; single steps share the units."""

import importlib
import logging
from collections import Counter
from pathlib import Path

import onnx
import pytest

from edgedigits.errors import InputError
from edgedigits.training import config, stages
from edgedigits.training.run import Run
from tests.conftest import tiny_recipe

EXPORTED = Path(__file__).resolve().parent.parent / "exported"


@pytest.fixture
def with_toy_stage():
    """The toy stage registered, as a module of edgedigits.training.stages would be."""
    importlib.import_module("tests.toy_stage")
    yield
    stages.STAGES.remove("operators")


def test_the_built_in_stages_run_in_order():
    assert stages.enabled(config.load("lenet")) == ["train", "prune", "export", "quantize", "report", "ship"]
    assert stages.enabled(config.load("lenet-slim")) == ["train", "structured", "prune", "export", "quantize", "report",
                                                         "ship"]
    assert stages.enabled(config.load("number-reader")) == ["train", "export", "quantize", "report", "ship"]


def test_a_stage_added_by_one_module_and_its_table(with_toy_stage, tmp_path, mnist, caplog):
    recipe = tiny_recipe(tmp_path, operators={"top": 2})
    assert recipe.tables["operators"].top == 2 and config.to_dict(recipe)["operators"] == {"top": 2}
    assert config.settings_sha256(config.to_dict(recipe)) != config.settings_sha256(config.to_dict(tiny_recipe(tmp_path)))
    assert stages.enabled(recipe) == ["train", "prune", "export", "operators", "quantize", "report", "ship"]
    assert "operators" not in stages.enabled(tiny_recipe(tmp_path))  # no table, no stage
    with pytest.raises(InputError, match="must be int"):
        tiny_recipe(tmp_path, operators={"top": "many"})

    # run it where the pipeline would, after export: on a pruned lenet file scored as stage `pruned`
    run = Run.from_onnx(recipe, EXPORTED / "lenet.onnx", tmp_path / "run", stage="pruned")
    caplog.set_level(logging.INFO, logger="edgedigits")
    stages.run_stages(run, ["operators"])
    assert "[1/1] count ONNX operators" in caplog.messages
    ops = Counter(n.op_type for n in onnx.load(str(EXPORTED / "lenet.onnx")).graph.node)
    facts = run.results["operators"].manifest["operators"]
    assert facts["stage"] == "pruned" and facts["nodes"] == sum(ops.values()) > 5
    assert facts["most_common"] == dict(ops.most_common(2))


def test_a_stage_whose_needs_nothing_makes_is_refused_before_it_runs(tmp_path, mnist):
    run = Run.from_recipe(tiny_recipe(tmp_path), tmp_path / "run", record=False)
    with pytest.raises(InputError, match="stage quantize needs onnx"):
        stages.run_stages(run, ["quantize"])
    assert run.results == {}


def test_an_unknown_table_is_still_refused(with_toy_stage):
    with pytest.raises(InputError, match="unknown key 'operator'"):
        config.from_dict(config.Pipeline, {"operator": {"top": 2}})
    with pytest.raises(InputError, match="unknown key 'report'"):  # a stage without a table of its own
        config.from_dict(config.Pipeline, {"report": {}})


def test_a_page_recipe_naming_a_saved_model_starts_from_it_and_renders_only_calibration_data():
    from edgedigits.training import pagedata

    finder = config.load("page-finder")
    assert stages.enabled(finder)[0] == "train" and pagedata.saved_path(finder, "finder") is None
    saved = config.with_overrides(finder, {"finder.saved": "../runs/finder.keras", "finder.tiles": 6000})
    assert stages.enabled(saved)[0] == "saved" and "train" not in stages.enabled(saved)
    assert pagedata.saved_path(saved, "finder") == config.recipe_dir(finder) / "../runs/finder.keras"
    assert pagedata.training_count(saved, "finder", 6000, 256) == 256
    assert pagedata.training_count(finder, "finder", 6000, 256) == 6000
    strips = config.with_overrides(config.load("page-strips"), {"strips.saved": "/models/strips.keras"})
    assert pagedata.saved_path(strips, "strips") == Path("/models/strips.keras")
    assert stages.enabled(strips)[0] == "saved"


def test_a_trained_page_finder_keeps_its_epochs_beside_its_keras_model(tmp_path):
    """`edgedigits train page-finder` writes dense.json, which shipping dense.keras later reads as its history."""
    import json

    from edgedigits.errors import AccuracyGateError
    from edgedigits.training import pipeline

    recipe = config.with_overrides(config.load("page-finder"), {
        "finder.tiles": 8, "finder.val_tiles": 4, "finder.test_tiles": 4, "finder.calibration_tiles": 4,
        "finder.width": 4, "finder.workers": 1, "train.epochs": 2, "export.parity_images": 2})
    with pytest.raises(AccuracyGateError, match="did not learn"):  # 8 tiles teach nothing: kept all the same
        pipeline.train_only(recipe, tmp_path / "runs")
    run_dir = tmp_path / "runs" / "page-finder"
    history = json.loads((run_dir / "dense.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all(h["val_band_loss"] > 0 for h in history)
    assert (run_dir / "dense.keras").is_file()


def test_a_saved_page_finder_ships_through_the_stages_as_a_set_naming_its_weights(tmp_path, monkeypatch):
    import hashlib
    import json

    from edgedigits.training import finder, pipeline

    saved = tmp_path / "finder.keras"
    finder.build(7, width=4).save(str(saved))
    (tmp_path / "finder.json").write_text(json.dumps([{"epoch": 1, "val_band_loss": 0.5}]))
    recipe = config.with_overrides(config.load("page-finder"), {
        "finder.saved": str(saved), "finder.val_tiles": 4, "finder.test_tiles": 4, "finder.calibration_tiles": 4,
        "finder.workers": 1, "export.parity_images": 2, "quantize.timing_runs": 20,
        "quantize.throughput_seconds": 0.05, "quantize.max_accuracy_drop": 100.0})
    monkeypatch.chdir(tmp_path)
    manifest = pipeline.run(recipe, tmp_path / "out", tmp_path / "runs", gate=False)  # untrained: no quality gate
    assert manifest["files"] == {"fp32": "page-finder.onnx", "int8": "page-finder.int8.onnx"}
    assert manifest["weights"]["saved_model_sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert manifest["training"]["history"] == [{"epoch": 1, "val_band_loss": 0.5}]
    assert manifest["stages"]["fp32"]["parity"]["argmax_agreement"] == 1.0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["page-finder.int8.onnx", "page-finder.json",
                                                                   "page-finder.onnx"]
    tiles = next((tmp_path / "runs" / "page-finder").glob("tiles-*.npz"))
    assert tiles.name.startswith("tiles-4-4-4-")  # only the calibration tiles of the training split were rendered
    assert not list(tmp_path.glob("sym_shape_infer_temp*")) and not list(tmp_path.glob("*.data"))  # no debris
