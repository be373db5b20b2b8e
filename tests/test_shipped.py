"""The committed exported/ artifacts: each manifest tells the truth about its files, and lenet meets its bars.

Accuracies are re-measured here through onnxruntime on the full 10,000-image test set of the files a user gets.
"""

import json
from pathlib import Path

import pytest

from edgedigits import runtime
from edgedigits.runtime import artifacts, data
from edgedigits.training import graphstats
from edgedigits.training.config import PIPELINES_DIR

EXPORTED = Path(__file__).resolve().parent.parent / "exported"
SHIPPED = ["lenet", "lenet5", "lenet5-v2", "cnn", "mlp", "fashion-lenet", "lenet-slim"]


def manifest(name):
    return json.loads((EXPORTED / f"{name}.json").read_text())


@pytest.mark.parametrize("name", SHIPPED)
def test_manifest_matches_the_shipped_files(name):
    m = manifest(name)
    assert m["pipeline_file"] == f"pipelines/{name}.toml" and (PIPELINES_DIR / f"{name}.toml").is_file()
    ds = data.load(m["dataset"])
    assert m["test_images"] == len(ds.y_test) == 10_000
    for stage, file in (("pruned", f"{name}.onnx"), ("int8", f"{name}.int8.onnx")):
        facts = m["stages"][stage]
        assert artifacts.file_stats(EXPORTED / file) == {k: facts[k] for k in ("bytes", "gzip_bytes", "sha256")}
        assert runtime.accuracy(EXPORTED / file, ds.x_test, ds.y_test) == pytest.approx(facts["test_accuracy"])
    assert m["stages"]["int8"]["test_accuracy"] >= m["stages"]["pruned"]["test_accuracy"] - m["pipeline"]["quantize"]["max_accuracy_drop"]


def test_lenet_meets_the_main_job_bars():
    stages = manifest("lenet")["stages"]
    assert stages["fp32"]["test_accuracy"] >= 99.0
    assert stages["pruned"]["kernel_sparsity"] >= 0.90 and stages["pruned"]["test_accuracy"] >= 98.9
    assert stages["int8"]["test_accuracy"] >= 98.9
    assert stages["pruned"]["test_accuracy"] - stages["int8"]["test_accuracy"] <= 0.2
    assert stages["int8"]["gzip_bytes"] <= 20_000


def test_lenet_slim_meets_the_structured_pruning_bars():
    """Issue 6: >= 98.9% through onnxruntime with at least 2x fewer MACs than lenet, counted in the files themselves."""
    m = manifest("lenet-slim")
    stages = m["stages"]
    assert stages["pruned"]["test_accuracy"] >= 98.9
    slim = graphstats.macs(EXPORTED / "lenet-slim.onnx")
    assert slim == graphstats.macs(EXPORTED / "lenet-slim.int8.onnx") == stages["pruned"]["macs"] == m["structured"]["macs"]["after"]
    assert graphstats.macs(EXPORTED / "lenet.onnx") == m["structured"]["macs"]["before"] >= 2 * slim
    assert {k: v["after"] for k, v in m["structured"]["widths"].items()} == m["pipeline"]["structured"]["widths"]


@pytest.mark.slow
def test_full_lenet_pipeline_from_scratch(tmp_path):
    """The main job on full MNIST (~6 minutes on 2 cores): the bars hold for a fresh run, not only the shipped one."""
    from edgedigits.training import config, pipeline

    m = pipeline.run(config.load("lenet"), tmp_path / "exported", tmp_path / "runs", log=print)
    stages = m["stages"]
    assert stages["fp32"]["test_accuracy"] >= 99.0
    assert stages["pruned"]["kernel_sparsity"] >= 0.90 and stages["pruned"]["test_accuracy"] >= 98.9
    assert stages["int8"]["test_accuracy"] >= 98.9 and stages["int8"]["gzip_bytes"] <= 20_000
