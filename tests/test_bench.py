"""The measuring code on tiny hand-built ONNX models: nothing here depends on how fast the machine is."""

import hashlib
import importlib.util
import json
import re
import sys
import types

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgedigits.cli import main
from edgedigits.runtime.bench import measure, report, targets, timing
from edgedigits.runtime.model.session import open_session

pytestmark = pytest.mark.runtime  # runs on the core install too (no training extra)


def pixel_model(path, side=28, dataset="mnist"):
    """probabilities = softmax(100 * pixels[0:10]): an image with pixel k lit is class k."""
    weights = np.zeros((side * side, 10), np.float32)
    weights[np.arange(10), np.arange(10)] = 100.0
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["input", "shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "pixels",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", side, side, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array([-1, side * side], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.add(key="dataset", value=dataset)
    onnx.save(model, str(path))
    return path


def known_set(n=50, wrong=10):
    """n images, pixel (label) lit; the last `wrong` labels are deliberately off by one -> accuracy (n-wrong)/n."""
    labels = np.arange(n) % 10
    x = np.zeros((n, 28, 28, 1), np.float32)
    x[np.arange(n), 0, labels, 0] = 1.0
    y = labels.copy()
    y[-wrong:] = (y[-wrong:] + 1) % 10
    return x, y


FAST = measure.Settings(runs=5, warmup=1, batch=8, throughput_seconds=0.0)


def test_percentiles_match_the_definition():
    samples = np.arange(1, 101, dtype=float)  # 1..100 us
    p = timing.percentiles(samples)
    assert p == {"p50_us": 50.5, "p90_us": pytest.approx(90.1), "p99_us": pytest.approx(99.01)}
    assert timing.percentiles(np.full(7, 3.0)) == {"p50_us": 3.0, "p90_us": 3.0, "p99_us": 3.0}


def test_accuracy_on_a_known_set(tmp_path):
    path = pixel_model(tmp_path / "pix.onnx")
    run = targets.discover()["ort-cpu"].make(path, 1)
    x, y = known_set(50, wrong=10)
    assert measure.accuracy(run, x, y, batch=7) == pytest.approx(80.0)


def test_accuracy_keeps_each_batch_when_a_runner_hands_back_one_reused_buffer(tmp_path):
    """OpenVINO's reused infer request returns a view of its own output tensor, which the next batch overwrites."""
    inner = targets.discover()["ort-cpu"].make(pixel_model(tmp_path / "pix.onnx"), 1)
    buffer = {}

    def run(x):
        out = buffer.setdefault(x.shape, np.empty_like(inner(x)))
        out[...] = inner(x)
        return out

    x, y = known_set(50, wrong=10)  # batches of 7 start at other labels: the last batch's readings score otherwise
    assert measure.accuracy(run, x, y, batch=7) == pytest.approx(80.0)


def test_latency_and_throughput_count_what_they_say():
    calls = []
    samples = timing.latency_us(lambda x: calls.append(x.shape), np.zeros((3, 28, 28, 1), np.float32), warmup=4, runs=9)
    assert len(samples) == 9 and len(calls) == 13 and set(calls) == {(1, 28, 28, 1)} and (samples >= 0).all()
    batches = []
    ips = timing.throughput(lambda x: batches.append(len(x)), np.zeros((20, 28, 28, 1), np.float32), batch=8, seconds=0)
    assert batches == [8, 8, 8, 8] and ips > 0  # one warm-up batch, then at least 3 timed


def test_interleaved_latency_goes_round_robin():
    order = []
    runs = {k: (lambda x, k=k: order.append(k), np.zeros((2, 28, 28, 1), np.float32)) for k in ("a", "b")}
    samples = timing.interleaved_latency_us(runs, warmup=1, count=6, rounds=3)
    assert {k: len(v) for k, v in samples.items()} == {"a": 6, "b": 6}
    timed = order[2:]  # after one warm-up call each: rounds of (5 warm-up + 2 timed) per model, alternating
    assert timed == (["a"] * 7 + ["b"] * 7) * 3


def test_row_takes_manifest_columns_when_the_manifest_describes_the_file(tmp_path):
    path = pixel_model(tmp_path / "pix.int8.onnx")
    onnx_meta = onnx.load(str(path))
    onnx_meta.metadata_props.add(key="stage", value="int8")
    onnx.save(onnx_meta, str(path))
    counts = {"parameters": 7840, "nonzero_parameters": 10}
    for digest, expected in ((hashlib.sha256(path.read_bytes()).hexdigest(), (7840, 10)), ("0" * 64, (None, None))):
        (tmp_path / "pix.json").write_text(json.dumps({"stages": {"int8": {**counts, "sha256": digest}}}))
        row, single, images = measure.bench_model(path, targets.discover()["ort-cpu"], FAST, {"mnist": known_set()})
        # a manifest of another file (a swapped .onnx) lends it no figures
        assert (row.model, row.variant, row.parameters, row.nonzero_parameters) == ("pix", "int8", *expected)
    assert row.accuracy == pytest.approx(80.0) and row.bytes == path.stat().st_size and row.gzip_bytes < row.bytes
    assert row.throughput_ips > 0 and single(images[:1]).shape == (1, 10)


def test_without_manifest_is_measured_without_its_columns(tmp_path):
    path = pixel_model(tmp_path / "lonely.onnx")
    row, _, _ = measure.bench_model(path, targets.discover()["ort-cpu"], FAST, {"mnist": known_set()})
    assert row.parameters is None and row.nonzero_parameters is None and row.accuracy == pytest.approx(80.0)
    assert report.cells(row)[4:6] == ["-", "-"]


def fake_openvino(devices, calls=None):
    """A stand-in for the openvino package: reports `devices` and runs models through onnxruntime, recording the
    calls bench makes (compile config, input tensor set once, infer without arguments)."""
    module = types.ModuleType("openvino")
    calls = calls if calls is not None else []

    class Model:
        def __init__(self, path):
            self.path, self.inputs, self.shape = path, ["input"], None

        def reshape(self, shapes):
            self.shape = list(shapes.values())[0]

    class Request:
        def __init__(self, model):
            self.run, self.model, self.input = targets.discover()["ort-cpu"].make(model.path, 1), model, None

        def set_input_tensor(self, tensor):
            calls.append(("set_input_tensor", tensor.shared))
            self.input = tensor.array

        def infer(self, *feeds):
            assert not feeds, "the input is set once, not passed per call"
            assert list(self.input.shape) == self.model.shape
            self.output = types.SimpleNamespace(data=self.run(self.input).copy())

        def get_output_tensor(self):
            return self.output

    class Core:
        available_devices = devices

        def read_model(self, path):
            return Model(path)

        def compile_model(self, model, device, config):
            calls.append(("compile", device, dict(config), tuple(model.shape)))
            return types.SimpleNamespace(create_infer_request=lambda: Request(model))

    module.Core = Core
    module.PartialShape = list
    module.Tensor = lambda array, shared_memory=False: types.SimpleNamespace(array=array, shared=shared_memory)
    return module


def test_target_discovery_with_openvino(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "openvino", fake_openvino(["CPU", "GPU"]))
    available = targets.discover()
    assert {"ort-cpu", "openvino-CPU", "openvino-GPU"} <= set(available) and "ort-azure" not in available
    row, _, _ = measure.bench_model(pixel_model(tmp_path / "pix.onnx"), available["openvino-GPU"], FAST, {"mnist": known_set()})
    assert row.target == "openvino-GPU" and row.accuracy == pytest.approx(80.0)


def test_openvino_is_called_its_fast_way(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setitem(sys.modules, "openvino", fake_openvino(["CPU"], calls))
    run = targets.discover()["openvino-CPU"].make(pixel_model(tmp_path / "pix.onnx"), 1)
    x, _ = known_set(20, wrong=0)
    for i in range(3):
        assert run(x[i : i + 1]).argmax() == i
    assert run(x).argmax(1).tolist() == (np.arange(20) % 10).tolist()
    # one static-shape compile and one shared input tensor per batch size, reused across calls
    assert calls == [("compile", "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1}, (1, 28, 28, 1)),
                     ("set_input_tensor", True),
                     ("compile", "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1}, (20, 28, 28, 1)),
                     ("set_input_tensor", True)]


def test_ort_batch_one_runs_through_a_binding_that_matches_session_run(tmp_path):
    path = pixel_model(tmp_path / "pix.onnx")
    run = targets.discover()["ort-cpu"].make(path, 1)
    x, _ = known_set(30, wrong=0)
    plain = open_session(path, 1).run(None, {"input": x})[0]
    single = np.concatenate([run(x[i : i + 1]).copy() for i in range(len(x))])  # the bound buffer is reused
    assert np.array_equal(single, plain) and np.array_equal(run(x), plain)


def test_int8_rows_get_their_ratio_to_the_same_models_fp32_file():
    rows = [measure.Row("m", "pruned", "mnist", "ort-cpu", p50_us=10.0, throughput_ips=1000.0),
            measure.Row("m", "fp32", "mnist", "ort-cpu", p50_us=12.0, throughput_ips=900.0),
            measure.Row("m", "int8", "mnist", "ort-cpu", p50_us=15.0, throughput_ips=800.0),
            measure.Row("m", "int8", "mnist", "openvino-CPU", p50_us=5.0, throughput_ips=800.0),  # no fp32 there
            measure.Row("n", "int8", "mnist", "ort-cpu", p50_us=5.0, throughput_ips=800.0)]  # nor for this model
    measure.int8_ratios(rows)
    assert (rows[2].int8_p50_ratio, rows[2].int8_ips_ratio) == (1.5, 0.8)  # against the pruned file
    assert [r.int8_p50_ratio for r in rows[:2] + rows[3:]] == [None] * 4
    assert report.cells(rows[2])[12:14] == ["1.50x", "0.80x"]


def test_ort_openvino_plugin_without_a_device_is_one_line(monkeypatch):
    monkeypatch.setattr(targets, "ort_openvino_devices", lambda: {})
    found, missing = targets.select(["ort-cpu", "ort-openvino-CPU"])
    assert [t.name for t in found] == ["ort-cpu"] and len(missing) == 1
    assert missing[0].startswith("target ort-openvino-CPU: ") and "\n" not in missing[0]


def test_target_discovery_without_openvino(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    assert targets.openvino_devices() == []
    found, missing = targets.select(["ort-cpu", "openvino-GPU", "ort-cuda"])
    assert [t.name for t in found] == ["ort-cpu"]
    assert "OpenVINO is not installed" in missing[0] and "ort-cuda is not available" in missing[1]


def run_cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return info.value.code, *capsys.readouterr()


def test_folder_without_models(capsys, tmp_path):
    code, _, err = run_cli(capsys, "bench", str(tmp_path), "--out-dir", str(tmp_path / "out"))
    assert code == 2 and err.strip().splitlines()[-1] == f"edgedigits: no .onnx models in {tmp_path}"


def test_bad_models_are_reported_and_the_good_one_still_measured(capsys, tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    pixel_model(models / "good.onnx")
    (models / "corrupt.onnx").write_bytes(b"\x08\x01garbage that is not protobuf")
    pixel_model(models / "wide.onnx", side=32)
    monkeypatch.setattr(measure.datasets, "load", lambda name: types.SimpleNamespace(
        x_test=(known_set()[0][..., 0] * 255).astype(np.uint8), y_test=known_set()[1]))
    code, out, err = run_cli(capsys, "bench", str(models), "--runs", "5", "--warmup", "1", "--seconds", "0",
                             "--batch", "8", "--target", "ort-cpu", "--out-dir", str(tmp_path / "out"))
    assert code == 4
    assert re.search(r"cannot load \S*corrupt.onnx as an ONNX model", err) and "wide.onnx: takes 32x32x1 images, but its dataset mnist has 28x28x1 images" in err
    assert "Traceback" not in err
    lines = [line for line in out.splitlines() if line.startswith("good ")]
    assert len(lines) == 1 and "80.00" in lines[0]
    report = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert [r["model"] for r in report["rows"]] == ["good"] and report["machine"]["cores"] >= 1
    assert (tmp_path / "out" / "bench.csv").read_text().splitlines()[0].startswith("model,variant,dataset,accuracy")
    assert "| good |" in (tmp_path / "out" / "bench.md").read_text()
    if importlib.util.find_spec("matplotlib"):  # the plot comes with the [train] extra
        assert (tmp_path / "out" / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:  # the runtime-only install measures and reports all the same, and says why there is no plot
        assert not (tmp_path / "out" / "bench.png").exists() and "no bench.png: the plot needs matplotlib" in err


def test_missing_path_and_missing_target(capsys, tmp_path):
    code, _, err = run_cli(capsys, "bench", str(tmp_path / "nope"), "--out-dir", str(tmp_path / "out"))
    assert code == 2 and "no such file or folder" in err
    pixel_model(tmp_path / "m.onnx")
    code, _, err = run_cli(capsys, "bench", str(tmp_path / "m.onnx"), "--target", "ort-cuda", "--out-dir", str(tmp_path / "out"))
    assert code == 2 and "ort-cuda is not available" in err.strip().splitlines()[-1]
