"""A tiny train-prune-export on a real MNIST slice: every stage, parity, quantization, manifest, atomic shipping."""

import json
import os

import numpy as np
import onnx
import pytest

from edgedigits import runtime
from edgedigits.errors import AccuracyGateError
from edgedigits.training import config, pipeline, quantize
from tests.conftest import tiny_recipe


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, mnist):
    tmp = tmp_path_factory.mktemp("tiny")
    manifest = pipeline.run(tiny_recipe(tmp), tmp / "exported", tmp / "runs")
    return tmp / "exported", manifest


def test_ships_three_files_and_nothing_else(shipped):
    out, _ = shipped
    assert sorted(p.name for p in out.iterdir()) == ["tiny.int8.onnx", "tiny.json", "tiny.onnx"]
    mask = os.umask(0)
    os.umask(mask)
    for path in out.iterdir():  # written through a 0600 temporary file, shipped readable as any other file
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_manifest_scores_every_stage_on_the_full_test_set(shipped, mnist):
    out, manifest = shipped
    assert json.loads((out / "tiny.json").read_text()) == manifest
    assert manifest["test_images"] == 10_000
    for stage in ("fp32", "pruned", "int8"):
        facts = manifest["stages"][stage]
        assert {"test_accuracy", "parameters", "nonzero_parameters", "bytes", "gzip_bytes", "sha256", "time_s"} <= set(facts)
    # the manifest's accuracies are what onnxruntime gives on the shipped files, recomputed here
    assert manifest["stages"]["pruned"]["test_accuracy"] == pytest.approx(runtime.accuracy(out / "tiny.onnx", mnist.x_test, mnist.y_test))
    assert manifest["stages"]["int8"]["test_accuracy"] == pytest.approx(runtime.accuracy(out / "tiny.int8.onnx", mnist.x_test, mnist.y_test))
    assert manifest["stages"]["fp32"]["test_accuracy"] > 80  # 3 epochs on 2,000 images: a real, if weak, model


def test_parity_and_sparsity_are_recorded(shipped):
    _, manifest = shipped
    for stage in ("fp32", "pruned"):
        parity = manifest["stages"][stage]["parity"]
        assert parity["images"] == 1000 and parity["max_abs_diff"] <= 1e-4 and parity["argmax_agreement"] >= 0.999
    pruned = manifest["stages"]["pruned"]
    assert pruned["kernel_sparsity"] >= 0.79
    assert pruned["nonzero_parameters"] < 0.3 * pruned["parameters"]
    assert manifest["stages"]["fp32"]["kernel_sparsity"] < 0.01


def test_int8_is_smaller_and_quantized(shipped):
    out, manifest = shipped
    stages = manifest["stages"]
    assert stages["int8"]["bytes"] < 0.5 * stages["pruned"]["bytes"]
    assert stages["pruned"]["gzip_bytes"] < 0.5 * stages["fp32"]["gzip_bytes"]  # zeros compress
    ops = {node.op_type for node in onnx.load(str(out / "tiny.int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops or {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    # every variant was built, scored on validation and timed here beside the fp32 model; the rule is recorded
    chosen = stages["int8"]["quantization"]
    assert set(chosen["candidates"]) == set(config.DEFAULT_QUANT_VARIANTS) and set(quantize.VARIANTS) == set(config.QUANT_VARIANTS)
    assert not any(v.startswith("dynamic") for v in chosen["candidates"])  # batch-dependent answers: opt-in only
    for figures in [*chosen["candidates"].values(), chosen["reference"]]:
        assert figures["p50_us"] > 0 and figures["images_per_s"] > 0 and 0 < figures["validation_accuracy"] <= 100
    assert chosen["select"] == "fastest" and "avx2" in chosen["machine"]["features"]
    assert chosen["variant"] == quantize.select(chosen["candidates"], chosen["reference"]["validation_accuracy"],
                                                config.Quantize(max_accuracy_drop=3.0))
    # every conv/dense kernel is counted, in INT8 or in the fp32 the variant kept, and the pruned zeros survived
    int8 = stages["int8"]
    kernels = sum(layer["kernel"] for layer in stages["pruned"]["layers"].values())
    assert int8["int8_weights"] > 0 and int8["int8_weights"] + int8["float_weights"] == kernels
    assert int8["kernel_sparsity"] >= stages["pruned"]["kernel_sparsity"]
    assert int8["nonzero_parameters"] <= stages["pruned"]["nonzero_parameters"]


def test_onnx_carries_its_contract(shipped, mnist):
    out, _ = shipped
    # the INT8 graph quantizes the softmax output too (uint8 steps of 1/255), so its rows sum to 1 less exactly
    for name, tolerance in (("tiny.onnx", 1e-5), ("tiny.int8.onnx", 0.02)):
        proto = onnx.load(str(out / name))
        assert proto.opset_import[0].version >= 17
        meta = {p.key: p.value for p in proto.metadata_props}
        assert json.loads(meta["labels"]) == list("0123456789")
        assert meta["dataset"] == "mnist" and "uint8 / 255" in meta["normalization"] and meta["pipeline"] == "tiny"
        assert {"test_accuracy", "kernel_sparsity", "stage"} <= set(meta)
        model = runtime.Classifier(out / name)
        assert model.session.get_inputs()[0].shape[0] == "N" == model.session.get_outputs()[0].shape[0]
        probs = model.probabilities(mnist.x_test[:7])
        assert probs.shape == (7, 10) and np.allclose(probs.sum(1), 1, atol=tolerance)


def test_onnx_files_read_well_in_other_tools(shipped):
    """Producer, version, a doc string with the contract and accuracy, machine-readable input keys, and only the
    opset domains the nodes use (the quantizer imports eight)."""
    out, manifest = shipped
    for name, stage in (("tiny.onnx", "pruned"), ("tiny.int8.onnx", "int8")):
        proto = onnx.load(str(out / name))
        assert proto.producer_name == "edgedigits" and proto.producer_version and proto.model_version >= 1
        accuracy = manifest["stages"][stage]["test_accuracy"]
        assert f"{accuracy:.2f}%" in proto.doc_string and "uint8 / 255" in proto.doc_string
        assert {o.domain or "ai.onnx" for o in proto.opset_import} == {n.domain or "ai.onnx" for n in proto.graph.node}
        meta = {p.key: p.value for p in proto.metadata_props}
        assert float(meta["input_scale"]) == pytest.approx(1 / 255)
        assert meta["input_layout"] == "NHWC" and meta["ink"] == "white-on-black"
        assert "measured_on" not in meta and manifest["stages"][stage]["measured_on"]  # the manifest says where


def test_manifest_holds_no_local_path(shipped, mnist):
    out, manifest = shipped
    text = (out / "tiny.json").read_text()
    assert str(out.parent) not in text and os.path.expanduser("~") not in text
    assert manifest["data_source"] == mnist.origin and manifest["data_sha256"] == mnist.sha256
    assert manifest["pipeline_file"] == "tiny.toml"


def test_accuracy_gate_refuses_and_writes_nothing(tmp_path, mnist):
    recipe = tiny_recipe(tmp_path, train={"epochs": 1}, prune={"epochs": 1, "ramp_epochs": 1})
    recipe.quantize.max_accuracy_drop = -100.0  # an impossible gate (a recipe file may not say it: set in code)
    with pytest.raises(AccuracyGateError, match="nothing written"):
        pipeline.run(recipe, tmp_path / "exported", tmp_path / "runs")
    assert list((tmp_path / "exported").iterdir()) == []


def test_failure_mid_run_leaves_previous_artifacts_untouched(tmp_path, mnist, monkeypatch):
    out = tmp_path / "exported"
    out.mkdir()
    for name in ("tiny.onnx", "tiny.int8.onnx", "tiny.json"):
        (out / name).write_text(f"good {name}")

    def crash(*args, **kwargs):
        raise RuntimeError("power cut during quantization")

    monkeypatch.setattr(quantize, "quantize_static", crash)
    recipe = tiny_recipe(tmp_path, train={"epochs": 1}, prune={"epochs": 1, "ramp_epochs": 1})
    with pytest.raises(RuntimeError, match="power cut"):
        pipeline.run(recipe, out, tmp_path / "runs")
    assert {p.name: p.read_text() for p in out.iterdir()} == {n: f"good {n}" for n in ("tiny.onnx", "tiny.int8.onnx", "tiny.json")}


def test_run_report_files_and_numbers_agree_with_a_direct_computation(shipped, mnist, tmp_path_factory):
    out, manifest = shipped
    run_dir = out.parent / "runs" / "tiny"
    for name in ("report.json", "report.md", "curves-train.png", "curves-prune.png", "confusion-fp32.png",
                 "confusion-pruned.png", "confusion-int8.png"):
        assert (run_dir / name).stat().st_size > 0, name
    rep = json.loads((run_dir / "report.json").read_text())
    assert rep["run"]["parameters"] == 44_426 and rep["run"]["train_time_s"] > 0 and rep["run"]["dataset"] == "mnist"
    assert rep["curves"]["train"]["epochs"] == 3
    probs = runtime.Classifier(run_dir / "int8.onnx").probabilities(mnist.x_test).astype(np.float64)
    m = rep["models"]["int8"]
    # accuracy, log loss and the confusion matrix recomputed by hand from the same probabilities
    assert m["accuracy"] == pytest.approx(manifest["stages"]["int8"]["test_accuracy"], abs=0.005)
    p = np.clip(probs, 1e-7, 1) / np.clip(probs, 1e-7, 1).sum(axis=1, keepdims=True)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log(p[np.arange(10_000), mnist.y_test])), abs=1e-4)
    cm = np.array(m["confusion_matrix"])
    assert cm.sum() == 10_000 and np.trace(cm) == np.sum(probs.argmax(1) == mnist.y_test)
    recall_3 = cm[3, 3] / cm[3].sum()
    assert m["classification_report"]["3"]["recall"] == pytest.approx(recall_3)
    assert 0.9 < m["roc_auc_ovo"] <= 1.0
    md = (run_dir / "report.md").read_text()
    assert f"| int8 | {m['accuracy']:.2f} |" in md and "weighted avg" in md


def test_report_command_regenerates_and_refuses_a_non_run(shipped, tmp_path):
    from click.testing import CliRunner

    from edgedigits.cli import cli

    out, _ = shipped
    run_dir = out.parent / "runs" / "tiny"
    (run_dir / "report.md").unlink()
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.md").is_file()
    from edgedigits.errors import InputError
    from edgedigits.training import report

    with pytest.raises(InputError, match="no run.json"):
        report.write(tmp_path)


def test_compare_rescores_and_times_the_shipped_files(shipped, mnist):
    from edgedigits.experiments import compare

    out, manifest = shipped
    rows = compare.measure([{"manifest": manifest, "dir": out, "reused": True}], "mnist", latency_runs=40)
    (row,) = rows
    assert row["int8_test_accuracy"] == pytest.approx(manifest["stages"]["int8"]["test_accuracy"], abs=0.005)
    assert row["pruned_test_accuracy"] == pytest.approx(manifest["stages"]["pruned"]["test_accuracy"], abs=0.005)
    assert row["nonzero_parameters"] == manifest["stages"]["pruned"]["nonzero_parameters"]
    assert 0 < row["int8_log_loss"] < 2 and row["int8_p50_us"] > 0 and row["pruned_p90_us"] >= row["pruned_p50_us"]
    assert row["macs"] == 281_640 and row["parameters"] == 44_426
    assert "| tiny (lenet) | 44,426 |" in compare.markdown(rows, "mnist", {"cpu": "x", "cores": 2})
    assert compare.finished(compare.recipe_for("lenet", "mnist"), [out]) is None  # only tiny.json is there


def test_compare_finds_recipes_by_pipeline_or_model_and_refuses_mismatches():
    from edgedigits.errors import InputError
    from edgedigits.experiments import compare

    assert compare.recipe_for("lenet", "mnist").name == "lenet"
    assert compare.recipe_for("cnn7", "fashion-mnist").name == "fashion-cnn7"
    assert compare.recipe_for("fashion-lenet", "fashion-mnist").model == "lenet"
    default = compare.recipe_for("resnet", "mnist")
    assert (default.name, default.model, default.train.epochs) == ("mnist-resnet", "resnet", 15)
    with pytest.raises(InputError, match="trains on fashion-mnist, not mnist"):
        compare.recipe_for("fashion-lenet", "mnist")
    with pytest.raises(InputError, match="unknown model 'resnet50'"):
        compare.recipe_for("resnet50", "mnist")


def test_a_diverged_run_is_refused_at_its_first_score(tmp_path, mnist):
    """sgd at learning rate 10 diverges to chance: refused after the first scored stage (exit 3), nothing shipped."""
    recipe = tiny_recipe(tmp_path, train={"epochs": 1, "optimizer": "sgd", "learning_rate": 10.0},
                         prune={"epochs": 1, "ramp_epochs": 1})
    with pytest.raises(AccuracyGateError, match=r"fp32 scores .* not clearly above chance \(10\.0%"):
        pipeline.run(recipe, tmp_path / "exported", tmp_path / "runs")
    assert list((tmp_path / "exported").iterdir()) == []


def test_refit_trains_on_the_validation_images_and_keeps_the_last_epoch(tmp_path, mnist):
    """refit = true: every training image is trained on (validation included) and the last epoch is kept, even when
    validation would have stopped early or preferred an earlier epoch."""
    from edgedigits.training import models, train
    from edgedigits.training.split import Split

    split = Split.from_dataset(mnist, 1000, 0, refit=True)
    assert len(split.x_train) == len(mnist.x_train) and split.refit and "refit" in split.describe()
    hits = [(split.x_train == v).all(axis=(1, 2, 3)).any() for v in split.x_val[:5]]
    assert all(hits)  # validation images are among the training images
    small = Split(split.x_train[:600], split.y_train[:600], split.x_val[:200],
                  np.random.default_rng(0).integers(0, 10, 200), split.x_test, split.y_test, refit=True)
    cfg = config.Train(epochs=3, early_stopping_patience=1, learning_rate=3e-3)
    model = train.train(lambda: models.create_model("lenet"), small, cfg, 0, tmp_path / "run")
    rows = (tmp_path / "run" / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + cfg.epochs  # a header and every epoch: no early stop on the (random) validation labels
    kept = train.load_model(tmp_path / "run" / "best.keras")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), kept.get_weights()))
    assert config.from_dict(config.Pipeline, {"refit": True}).refit
