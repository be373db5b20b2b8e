"""Stages are units: a new one is a module, a registry line and a TOML table; single steps share the units."""

import logging
from collections import Counter
from pathlib import Path

import onnx
import pytest

from edgedigits.errors import InputError
from edgedigits.training import config, pipeline, stages
from tests.conftest import tiny_recipe

EXPORTED = Path(__file__).resolve().parent.parent / "exported"


@pytest.fixture
def with_toy_stage(monkeypatch):
    """REGISTRY with one line added after `export`: what a new stage takes."""
    names = list(stages.REGISTRY.items())
    at = [n for n, _ in names].index("export") + 1
    monkeypatch.setattr(stages, "REGISTRY", dict(names[:at] + [("operators", "tests.toy_stage")] + names[at:]))


def test_the_built_in_stages_run_in_registry_order():
    assert stages.enabled(config.load("lenet")) == ["train", "prune", "export", "quantize", "report"]
    assert stages.enabled(config.load("lenet-slim")) == ["train", "structured", "prune", "export", "quantize", "report"]


def test_a_stage_added_by_module_registry_line_and_table(with_toy_stage, tmp_path, mnist, caplog):
    recipe = tiny_recipe(tmp_path, operators={"top": 2})
    assert recipe.tables["operators"].top == 2 and config.to_dict(recipe)["operators"] == {"top": 2}
    assert config.settings_sha256(config.to_dict(recipe)) != config.settings_sha256(config.to_dict(tiny_recipe(tmp_path)))
    assert stages.enabled(recipe) == ["train", "prune", "export", "operators", "quantize", "report"]
    assert "operators" not in stages.enabled(tiny_recipe(tmp_path))  # no table, no stage
    with pytest.raises(InputError, match="must be int"):
        tiny_recipe(tmp_path, operators={"top": "many"})

    # run it where the pipeline would, after export: on a pruned lenet file scored as stage `pruned`
    ctx = stages.open_run(recipe, tmp_path / "run", record=False)
    ctx.results["export"] = stages.Result("pruned", EXPORTED / "lenet.onnx", {"test_accuracy": 99.0})
    caplog.set_level(logging.INFO, logger="edgedigits")
    stages.run(ctx, ["operators"])
    assert "[1/1] count ONNX operators" in caplog.messages
    ops = Counter(n.op_type for n in onnx.load(str(EXPORTED / "lenet.onnx")).graph.node)
    facts = pipeline.build_manifest(ctx)["operators"]
    assert facts["stage"] == "pruned" and facts["nodes"] == sum(ops.values()) > 5
    assert facts["most_common"] == dict(ops.most_common(2))


def test_an_unknown_table_is_still_refused(with_toy_stage):
    with pytest.raises(InputError, match="unknown key 'operator'"):
        config.from_dict(config.Pipeline, {"operator": {"top": 2}})
    with pytest.raises(InputError, match="unknown key 'report'"):  # a stage without a table of its own
        config.from_dict(config.Pipeline, {"report": {}})
