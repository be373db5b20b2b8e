"""Reproducible training: a manifest records what a rebuild needs, and `edgedigits verify` rebuilds a set under the
pins it records and says, stage by stage, whether each file has the shipped bytes."""

import json
from importlib import metadata

import pytest

from edgedigits.training import config, pins, pipeline, stack, verify

RECIPE = """
model = "lenet"
train_limit = 2000
validation = 1000
[train]
epochs = 3
[prune]
epochs = 2
ramp_epochs = 1
frequency = 4
target_sparsity = 0.8
max_accuracy_drop = 50.0
[quantize]
variants = ["u8s8-dense-reduce-range"]
calibration_images = 100
max_accuracy_drop = 100
timing_runs = 20
throughput_seconds = 0.05
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, mnist):
    tmp = tmp_path_factory.mktemp("verify")
    (tmp / "small.toml").write_text(RECIPE)
    recipe = config.load(str(tmp / "small.toml"))
    manifest = pipeline.run(recipe, tmp / "exported", tmp / "runs")
    return tmp, recipe, manifest


def test_manifest_records_what_a_rebuild_needs(built, mnist):
    _, recipe, manifest = built
    record = manifest["reproduce"]
    assert record["recipe_sha256"] == recipe.sha256 == manifest["pipeline"]["sha256"]
    assert record["data_sha256"] == mnist.sha256 and record["int8_variant_chosen_by"] == "recipe"
    assert record["libraries"]["tensorflow"] == metadata.version("tensorflow")
    assert record["pins"] == pins.in_force(stack.tf) and record["pins"]["op_determinism"] is True
    assert record["pins"]["intra_op_threads"] == pins.threads() > 0  # never "one per core": cores vary


def test_verify_rebuilds_the_shipped_bytes_and_names_the_stage_that_differs(built, run_cli):
    tmp, _, manifest = built
    # the INT8 file's recorded hash and accuracy altered: the rebuild must match fp32 and pruned, not int8
    manifest["stages"]["int8"].update(sha256="0" * 64, test_accuracy=manifest["stages"]["int8"]["test_accuracy"] - 0.5)
    altered = tmp / "altered.json"
    altered.write_text(json.dumps(manifest))
    code, out, err = run_cli("verify", str(altered), "--work-dir", str(tmp / "rebuild"))
    assert code == 5, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:4]}
    assert rows["fp32"][1] == rows["pruned"][1] == "yes" and rows["int8"][1] == "no"
    assert rows["int8"][-1] == "+0.50" and rows["pruned"][-1] == "+0.00"
    assert "2 of 3 files rebuilt to the shipped bytes" in out
    rebuilt = json.loads((tmp / "rebuild" / verify.REBUILT).read_text())
    assert rebuilt["stages"]["pruned"]["sha256"] == json.loads((tmp / "exported" / "small.json").read_text())[
        "stages"]["pruned"]["sha256"]


def test_verify_refuses_other_data_before_any_work(built, run_cli):
    tmp, _, manifest = built
    other = tmp / "other-data.json"
    other.write_text(json.dumps({**manifest, "data_sha256": "f" * 64}))
    code, out, err = run_cli("verify", str(other), "--work-dir", str(tmp / "never"))
    assert code == 2 and err.count("\n") == 1 and err.startswith("edgedigits: the mnist data here")
    assert not (tmp / "never").exists()


@pytest.mark.parametrize("text", [None, "not json", '{"name": "x"}'])
def test_verify_refuses_what_is_not_a_manifest(tmp_path, run_cli, text):
    path = tmp_path / "m.json"
    if text is not None:
        path.write_text(text)
    code, _, err = run_cli("verify", str(path))
    assert code == 2 and err.count("\n") == 1 and err.startswith("edgedigits: ")


def test_a_timed_int8_choice_is_rebuilt_with_the_shipped_variant():
    raw = config.to_dict(config.load("lenet-fast"))  # five variants, the fastest on the running CPU ships
    manifest = {"name": "lenet-fast", "pipeline": {**raw, "sha256": config.settings_sha256(raw)},
                "stages": {"int8": {"quantization": {"variant": "u8u8"}}}}
    recipe, notes = verify.recipe_of(manifest)
    assert recipe.quantize.variants == ["u8u8"] and recipe.name == "lenet-fast"
    assert notes == ["INT8 variant fixed to the shipped u8u8 (the recipe chooses by timing on the running CPU)"]


def test_compare_notes_what_differs_besides_the_files():
    facts = {"sha256": "a" * 64, "test_accuracy": 99.0}
    record = {"pins": {"intra_op_threads": 2, "onednn_max_cpu_isa": "AVX2"}, "libraries": {"tensorflow": "2.21.0"}}
    shipped = {"stages": {"pruned": facts}, "data_sha256": "d", "reproduce": record}
    rebuilt = {"stages": {"pruned": {**facts, "test_accuracy": 99.1}}, "data_sha256": "d",
               "reproduce": {"pins": {"intra_op_threads": 4, "onednn_max_cpu_isa": "AVX2"},
                             "libraries": {"tensorflow": "2.22.0"}}}
    outcome = verify.compare(shipped, rebuilt)
    assert outcome.matched and outcome.notes == ["pin intra_op_threads: 4 here, 2 in the manifest",
                                                 "tensorflow 2.22.0 here, 2.21.0 in the manifest"]
    assert not verify.compare({**shipped, "stages": {"pruned": {**facts, "sha256": "b" * 64}}}, rebuilt).matched


def test_environment_gives_a_child_the_recorded_pins():
    env = pins.environment({"reproducible": True, "onednn_max_cpu_isa": "AVX2", "tf_enable_onednn_opts": "1",
                            "intra_op_threads": 3})
    assert env == {"EDGEDIGITS_REPRODUCIBLE": "1", "EDGEDIGITS_THREADS": "3", "ONEDNN_MAX_CPU_ISA": "AVX2",
                   "TF_ENABLE_ONEDNN_OPTS": "1"}
    off = pins.environment({"reproducible": False, "onednn_max_cpu_isa": None, "intra_op_threads": 0})
    assert off["EDGEDIGITS_REPRODUCIBLE"] == "0" and off["EDGEDIGITS_THREADS"] is None and off["ONEDNN_MAX_CPU_ISA"] is None
    assert set(env) == set(pins.VARIABLES)
