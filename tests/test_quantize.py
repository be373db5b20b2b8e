"""Which INT8 variant ships: the selection rule on made-up figures, and the bookkeeping with an injected timer."""

from pathlib import Path

import onnx
import pytest

from edgedigits import runtime
from edgedigits.errors import AccuracyGateError
from edgedigits.runtime import datasets
from edgedigits.training import config, graphstats, quantize

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"


def figures(acc, p50, gzip=10_000):
    return {"validation_accuracy": acc, "p50_us": p50, "p90_us": p50 * 1.2, "images_per_s": 1000, "gzip_bytes": gzip}


CANDIDATES = {
    "fast-but-wrong": figures(98.0, 20.0),  # 1.0 point below fp32's 99.0: outside a 0.3 gate
    "slow-accurate": figures(99.1, 80.0),
    "fast-accurate": figures(98.8, 40.0, gzip=12_000),
    "as-fast-smaller": figures(98.9, 41.0, gzip=11_000),  # within the 5% tie of 40.0 and smaller
}


def test_fastest_within_the_gate_wins_and_ties_go_to_the_smaller_file():
    cfg = config.Quantize(max_accuracy_drop=0.3)
    assert quantize.select(CANDIDATES, 99.0, cfg) == "as-fast-smaller"
    assert quantize.select({k: v for k, v in CANDIDATES.items() if k != "as-fast-smaller"}, 99.0, cfg) == "fast-accurate"
    # a wider gate admits the fast inaccurate one
    assert quantize.select(CANDIDATES, 99.0, config.Quantize(max_accuracy_drop=1.5)) == "fast-but-wrong"


def test_a_wider_tie_band_trades_a_little_speed_for_the_smallest_file():
    tiny = {**CANDIDATES, "small-slower": figures(98.9, 47.0, gzip=9_000)}  # 17.5% slower than the fastest, smallest
    assert quantize.select(tiny, 99.0, config.Quantize()) == "as-fast-smaller"  # outside the default 5% band
    assert quantize.select(tiny, 99.0, config.Quantize(tie_band=0.2)) == "small-slower"
    assert quantize.select(tiny, 99.0, config.Quantize(tie_band=0.15)) == "as-fast-smaller"
    # the band never admits a variant outside the accuracy gate, however small
    tiny["small-wrong"] = figures(98.0, 40.5, gzip=5_000)
    assert quantize.select(tiny, 99.0, config.Quantize(tie_band=0.2)) == "small-slower"


def test_accurate_rule_and_fallback_when_none_is_within_the_gate():
    assert quantize.select(CANDIDATES, 99.0, config.Quantize(select="accurate")) == "slow-accurate"
    assert quantize.select(CANDIDATES, 100.0, config.Quantize(max_accuracy_drop=0.1)) == "slow-accurate"


def feeds(images):
    return [{"input": runtime.normalize(images)}]


def test_quantize_ships_what_the_timer_says_is_fastest_and_records_every_candidate(tmp_path, mnist):
    x_train, y_train, x_val, y_val = datasets.split_validation(mnist.x_train, mnist.y_train, 500, 0)
    validate = lambda path: runtime.accuracy(path, x_val, y_val)  # noqa: E731
    cfg = config.Quantize(calibration_images=100, variants=["u8s8", "dynamic-dense"], max_accuracy_drop=1.0)
    # a fake machine on which the all-ops static model is the fast one (as it might be with VNNI)
    fake = {"fp32": 50.0, "u8s8": 30.0, "dynamic-dense": 45.0}
    timer = lambda paths: {n: {"p50_us": fake[n], "p90_us": fake[n], "images_per_s": 7} for n in paths}  # noqa: E731
    out = tmp_path / "int8.onnx"
    settings = quantize.quantize_with_accuracy_control(ROOT / "exported/lenet.onnx", out, feeds(x_train[:100]), validate,
                                                       1.0, cfg, timer=timer)
    assert set(settings["candidates"]) == {"u8s8", "dynamic-dense"} and settings["reference"]["p50_us"] == 50.0
    assert settings["candidates"]["u8s8"]["p50_us"] == 30.0 and settings["candidates"]["u8s8"]["gzip_bytes"] > 0
    assert settings["variant"] == "u8s8" and settings["format"] == "QDQ" and settings["ops"] == "all"
    assert settings["tie_band"] == cfg.tie_band == 0.05  # the manifest states the band the choice used
    assert "QLinearConv" not in {n.op_type for n in onnx.load(str(out)).graph.node}  # QDQ, fused only at load
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in onnx.load(str(out)).graph.node}
    # the same models on a machine where dense-only is faster: the dynamic file ships, with its contract
    fake.update(u8s8=60.0)
    settings = quantize.quantize_with_accuracy_control(ROOT / "exported/lenet.onnx", out, feeds(x_train[:100]), validate,
                                                       1.0, cfg, timer=timer)
    assert settings["variant"] == "dynamic-dense" and settings["format"] == "dynamic"
    proto = onnx.load(str(out))
    assert "MatMulInteger" in {n.op_type for n in proto.graph.node} and "labels" in {p.key for p in proto.metadata_props}
    stats = graphstats.weight_stats(out)
    assert stats["int8_weights"] == 256 * 120 + 120 * 84 + 84 * 10 and stats["float_weights"] == 6 * 25 + 16 * 6 * 25



def test_quantization_temp_files_live_in_the_process_dir_a_later_run_removes(tmp_path, monkeypatch):
    """A hard kill cannot leave them in $TMPDIR for good: they sit in artifacts.private_tempdir(), which the next
    process removes (tests/test_artifacts.py kills one to check); autograph's files go there too (stack.py)."""
    import tempfile

    from edgedigits.runtime.model import artifacts

    seen = []

    def stop(source, prepared, **kwargs):
        seen.append(Path(prepared))
        raise RuntimeError("killed here")

    monkeypatch.setattr(quantize, "quant_pre_process", stop)
    with pytest.raises(RuntimeError, match="killed here"):
        quantize.quantize_with_accuracy_control(EXPORTED / "lenet.onnx", tmp_path / "int8.onnx", [], None, None,
                                                config.Quantize(), timer=lambda paths: {})
    private = artifacts.private_tempdir()
    assert seen[0].parent.parent == private and not seen[0].parent.exists()
    assert tempfile.gettempdir() == str(private)  # every library's temp files of this process go there too
    assert not (tmp_path / "int8.onnx").exists()


def test_the_gate_is_one_call_for_any_model_and_refuses_past_max_drop(tmp_path, mnist):
    """Model, calibration feeds, a validation function, a max drop: nothing else about the model is assumed. A
    validation function that finds every INT8 file 2 points worse than the fp32 source is refused at 1 point."""
    source = ROOT / "exported/lenet.onnx"
    validate = lambda path: 99.0 if Path(path) == source else 97.0  # noqa: E731
    cfg = config.Quantize(variants=["u8s8-reduce-range"], select="accurate")
    timer = lambda paths: {n: {"p50_us": 1.0, "p90_us": 1.0, "images_per_s": 1} for n in paths}  # noqa: E731
    out = tmp_path / "int8.onnx"
    with pytest.raises(AccuracyGateError, match=r"lost 2.00 validation points \(99.00% -> 97.00%, limit 1.0\)"):
        quantize.quantize_with_accuracy_control(source, out, feeds(mnist.x_train[:50]), validate, 1.0, cfg, timer=timer)
    assert not out.exists()
    settings = quantize.quantize_with_accuracy_control(source, out, feeds(mnist.x_train[:50]), validate, None, cfg,
                                                       timer=timer)  # max_drop None: measured, not refused
    assert out.is_file() and settings["validation_accuracy"] == {"u8s8-reduce-range": 97.0}


def test_a_model_named_by_a_relative_path_gets_onnxruntimes_symbolic_shape_inference(tmp_path, mnist, monkeypatch,
                                                                                     caplog):
    """Pipelines name their models relative to the working directory (runs/NAME/pruned.onnx): the pre-processing
    must still find the file, or the INT8 file silently loses shape annotations and its bytes change."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "lenet.onnx").write_bytes((EXPORTED / "lenet.onnx").read_bytes())
    monkeypatch.chdir(tmp_path)
    cfg = config.Quantize(calibration_images=50, variants=["u8s8-dense-reduce-range"], max_accuracy_drop=1.0)
    timer = lambda paths: {n: {"p50_us": 1.0, "p90_us": 1.0, "images_per_s": 1} for n in paths}  # noqa: E731
    with caplog.at_level("INFO", logger="edgedigits.training.quantize"):
        quantize.quantize_with_accuracy_control(Path("runs/lenet.onnx"), tmp_path / "int8.onnx",
                                                feeds(mnist.x_train[:50]), lambda path: 90.0, 1.0, cfg, timer=timer)
    assert "symbolic shape inference" not in caplog.text
    shapes = {v.name for v in onnx.load(str(tmp_path / "int8.onnx")).graph.value_info}
    assert "probabilities" in shapes  # symbolic inference annotates the graph's last MatMul/Softmax outputs
