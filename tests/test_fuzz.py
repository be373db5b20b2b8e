"""Hostile input to every command and to the runtime API, generated (Hypothesis) or listed.

Every case must end in exit code 2 (bad input) or 3 (a gate refused), exactly one line on stderr starting
'edgedigits: ', no traceback, and an untouched copy of exported/ (every command runs with it as its working
directory's exported/, and train-prune-export writes into it). Recipe errors must come before any training: the
training functions fail the test if they are called. The runtime API raises InputError and nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import types
import typing
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgedigits import limits
from edgedigits.cli import main
from edgedigits.errors import InputError
from edgedigits.runtime import Classifier, accuracy, bench, webcam
from edgedigits.runtime.model import artifacts
from edgedigits.training import checks, config, models
from tests import hostile  # the generators of hostile input, by class

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"
IMAGE = ROOT / "examples" / "digits.jpg"
# EDGEDIGITS_FUZZ_SCALE=10 runs ten times the generated cases of every test (the default keeps the module fast)
SCALE = int(os.environ.get("EDGEDIGITS_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=40 * SCALE, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


PROGRESS = re.compile(r"epoch \d+/\d+")  # a training progress line: "train epoch 1/20: loss ..."


def tree_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(EXPORTED, root / "exported")
    shutil.copyfile(IMAGE, root / "digits.jpg")
    return root, tree_digest(root / "exported")


@pytest.fixture
def cli(workdir, monkeypatch, capsys):
    """run(*argv, codes=...) -> the one stderr line; checks exit code, one line, no traceback, exported/ intact."""
    root, before = workdir
    monkeypatch.chdir(root)
    monkeypatch.setenv("EDGEDIGITS_NO_DOWNLOAD", "1")
    monkeypatch.delenv("EDGEDIGITS_DATA", raising=False)

    def run(*argv, codes=(2,)):
        capsys.readouterr()
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        assert code in codes, f"{argv}: exit {code}\n{err}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("edgedigits: "), f"{argv}:\n{err}"
        assert "Traceback" not in err and not PROGRESS.search(out + err), f"{argv}:\n{out}{err}"
        assert tree_digest(root / "exported") == before, f"{argv} changed exported/"
        return lines[0]

    run.root = root
    return run


@pytest.fixture(scope="module")
def training_modules():
    from edgedigits.experiments.sweeps import runner as sweep
    from edgedigits.training import prune, structured, train

    return train, prune, structured, sweep


@pytest.fixture
def no_training(training_modules, monkeypatch):
    """Training, pruning and sweep trials fail the test if they start: bad input must be refused before."""
    train, prune, structured, sweep = training_modules

    def refuse(*args, **kwargs):
        pytest.fail("work started before the bad input was refused")

    for module, name in ((train, "fit"), (train, "train"), (prune, "fit"), (structured, "fit"), (sweep, "run_trials")):
        monkeypatch.setattr(module, name, refuse)


# --- recipes -------------------------------------------------------------------------------------------------


def numeric_keys(cls=config.Pipeline, prefix="") -> list[tuple[str, type]]:
    """Every int and float key of a recipe, dotted, with its type."""
    hints, keys = typing.get_type_hints(cls), []
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            keys += numeric_keys(kind, f"{prefix}{f.name}.")
        elif kind in (int, float):
            keys.append((f"{prefix}{f.name}", kind))
    return keys


NUMERIC = numeric_keys()
BIG = 2**62  # TOML integers are 64-bit


def test_every_number_of_a_recipe_has_a_declared_range():
    assert len(NUMERIC) > 40
    assert [key for key, _ in NUMERIC if checks.range_of(key) is None] == []


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    return json.dumps(value, ensure_ascii=False)  # ints, lists and strings: JSON's forms are TOML's


def toml_for(key: str, value) -> str:
    *tables, leaf = key.split(".")
    return (f"[{'.'.join(tables)}]\n" if tables else "") + f"{leaf} = {toml_value(value)}\n"


@st.composite
def bad_numbers(draw):
    """(key, value, in_range_text) with value outside the key's range, of the wrong type, or not finite."""
    key, kind = draw(st.sampled_from(NUMERIC))
    r = checks.range_of(key)
    wrong_type = st.one_of(st.text(max_size=5), st.booleans(), st.lists(st.integers(0, 9), max_size=2))
    if kind is int:
        below = st.integers(-BIG, math.ceil(r.low) - (0 if r.low_open else 1)) if r.low > -BIG else st.nothing()
        above = st.integers(math.floor(r.high) + (0 if r.high_open else 1), BIG) if r.high < BIG else st.nothing()
        choice = draw(st.sampled_from(["below", "above", "float", "type"]))
        if choice == "float":
            return key, draw(st.floats(allow_nan=True, allow_infinity=True)), None
    else:
        below = st.floats(-1e300, r.low, exclude_max=not r.low_open)
        above = st.floats(r.high, 1e300, exclude_min=not r.high_open)
        choice = draw(st.sampled_from(["below", "above", "nan", "type"]))
        if choice == "nan":
            return key, draw(st.sampled_from([math.nan, math.inf, -math.inf])), None
    if choice == "type":
        return key, draw(wrong_type), None
    value = draw(below if choice == "below" else above)
    return key, value, str(r)


RECIPE_COMMANDS = [
    ["train-prune-export", "{recipe}", "--out-dir", "exported", "--runs-dir", "runs"],
    ["train", "{recipe}", "--runs-dir", "runs"],
    ["prune", "{recipe}", "--runs-dir", "runs"],
    ["export", "model.keras", "out.onnx", "--pipeline", "{recipe}"],
    ["quantize", "exported/lenet.onnx", "out.int8.onnx", "--pipeline", "{recipe}"],
    ["sweep", "grid", "{recipe}", "--param", "seed=1,2", "--folds", "2"],
]


def run_recipe(cli, text: str, command: list[str], codes=(2,)) -> str:
    recipe = cli.root / "bad.toml"
    recipe.write_text(text)
    return cli(*[recipe if part == "{recipe}" else part for part in command], codes=codes)


@FUZZ
@given(case=bad_numbers(), command=st.sampled_from(RECIPE_COMMANDS))
def test_bad_recipe_numbers_are_refused_before_training(cli, no_training, case, command):
    key, value, allowed = case
    line = run_recipe(cli, 'model = "lenet"\n' + toml_for(key, value), command)
    assert key.split(".")[-1] in line
    if allowed:  # a number of the right type: the message gives the range
        assert key in line and allowed in line


LAYER = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)


@settings(FUZZ, max_examples=15 * SCALE)
@given(layer=LAYER, table=st.sampled_from(["prune.layers", "structured.widths"]),
       command=st.sampled_from(RECIPE_COMMANDS[:3]))
def test_unknown_layer_names_are_refused_before_training(cli, no_training, layer, table, command):
    names = models.layer_names("lenet")
    if layer in names["prunable" if table == "prune.layers" else "shrinkable"]:
        return
    value = "0.5" if table == "prune.layers" else "2"
    line = run_recipe(cli, f'model = "lenet"\n[{table}]\n{layer} = {value}\n', command)
    assert table in line and layer in line


@pytest.mark.parametrize("text,fragment", [
    ("validation = 60000\n", "validation must be in [1, 59999]"),
    ("validation = 70000\n", "validation must be in [1, 59999]"),
    ("train_limit = 55001\n", "train_limit must be in [0, 55000]"),
    ("[quantize]\ncalibration_images = 55000\n", "quantize.calibration_images must be in [1, 54999]"),
    ("[export]\nparity_images = 10001\n", "export.parity_images must be in [1, 10000]"),
    ("[prune]\nepochs = 4\nramp_epochs = 5\n", "prune.ramp_epochs must be in [1, prune.epochs = 4]"),
    ("[structured]\nenabled = true\n", "structured.enabled needs structured.widths"),
    ('model = "resnet"\n[structured]\nenabled = true\n[structured.widths]\nconv1 = 2\n', "shrinkable: none"),
    ("[structured]\nenabled = true\n[structured.widths]\nconv1 = 7\n", "structured.widths.conv1 must be a count in [1, 6]"),
    ("[prune]\nfrequency = 100000\n", "prune.frequency must be in [1, 4300]"),
])
@pytest.mark.parametrize("command", [RECIPE_COMMANDS[0], RECIPE_COMMANDS[1]])
def test_sizes_against_the_dataset_are_refused_before_training(cli, no_training, text, fragment, command):
    assert fragment in run_recipe(cli, text, command)


# --- options -------------------------------------------------------------------------------------------------

OPTIONS = [  # (command, option, type, low, high)
    (["predict", "digits.jpg"], "--threads", int, 0, limits.MAX_THREADS),
    (["predict", "digits.jpg"], "--threshold", float, 0, 1),
    (["webcam", "--source", "digits.jpg", "--headless"], "--max-frames", int, 0, limits.MAX_FRAMES),
    (["webcam", "--source", "digits.jpg", "--headless"], "--threads", int, 0, limits.MAX_THREADS),
    (["bench", "exported/lenet.int8.onnx"], "--runs", int, 1, limits.MAX_RUNS),
    (["bench", "exported/lenet.int8.onnx"], "--warmup", int, 0, limits.MAX_RUNS),
    (["bench", "exported/lenet.int8.onnx"], "--batch", int, 1, limits.MAX_BATCH),
    (["bench", "exported/lenet.int8.onnx"], "--seconds", float, 0, limits.MAX_SECONDS),
    (["bench", "exported/lenet.int8.onnx"], "--threads", int, 0, limits.MAX_THREADS),
    (["bench", "exported/lenet.int8.onnx"], "--throughput-threads", int, 0, limits.MAX_THREADS),
    (["compare", "lenet"], "--latency-runs", int, 1, limits.MAX_RUNS),
    (["models"], "--classes", int, 2, limits.MAX_CLASSES),
    (["sweep", "grid", "lenet", "--param", "seed=1"], "--folds", int, 1, limits.MAX_FOLDS),
    (["sweep", "grid", "lenet", "--param", "seed=1"], "--workers", int, 1, limits.MAX_WORKERS),
    (["sweep", "optimizers", "lenet"], "--epochs", int, 1, 10_000),
    (["sweep", "optimizers", "lenet"], "--target", float, 0, 1),
]


@st.composite
def bad_options(draw):
    command, option, kind, low, high = draw(st.sampled_from(OPTIONS))
    if kind is int:
        value = draw(st.one_of(st.integers(-BIG, low - 1), st.integers(high + 1, BIG),
                               st.sampled_from(["1.5", "abc", "", "nan", "1e9999", "0x10"])))
    else:
        value = draw(st.one_of(st.floats(-1e300, low, exclude_max=True), st.floats(high, 1e300, exclude_min=True),
                               st.sampled_from(["nan", "inf", "-inf", "x", ""])))
    return command, option, str(value)


@settings(FUZZ, max_examples=80 * SCALE)
@given(case=bad_options())
def test_option_values_out_of_bounds_are_one_line(cli, no_training, case):
    command, option, value = case
    line = cli(*command, f"{option}={value}")
    assert option in line


@pytest.mark.parametrize("argv,fragment", [
    (["sweep", "grid", "lenet", "--param", "seed=" + ",".join(map(str, range(1001)))], "at most 1,000"),
    (["sweep", "grid", "lenet", "--param", "seed=" + ",".join(map(str, range(60))), "--folds", "20"], "1,200 trials"),
    (["sweep", "grid", "lenet", "--param", "batch_size=0,-1"], "train.batch_size must be an integer in [1, 65536]"),
    (["sweep", "grid", "lenet", "--param", "seed=1", "--ray", "bogus.invalid:1234"], "cannot reach bogus.invalid:1234"),
    (["sweep", "grid", "lenet", "--param", "seed=1", "--ray", "nohostport"], "is not HOST:PORT"),
    (["sweep", "sparsity", "lenet", "--sparsities", "nan"], "--sparsities must be in [0, 100)"),
    (["sweep", "sparsity", "lenet", "--sparsities", "50,inf"], "--sparsities must be in [0, 100)"),
    (["sweep", "optimizers", "lenet", "--set", "learning_rate=0"], "train.learning_rate must be a number in (0, 10]"),
])
def test_sweeps_refuse_before_any_trial(cli, no_training, argv, fragment):
    assert fragment in cli(*argv)


# --- files ---------------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=20 * SCALE)
@given(data=st.one_of(st.just(b""), st.binary(max_size=300),
                      st.integers(0, 600).map(lambda n: IMAGE.read_bytes()[:n])),
       command=st.sampled_from(["predict", "webcam"]))
def test_empty_or_corrupt_images_are_one_line(cli, data, command):
    path = cli.root / "shot.png"
    path.write_bytes(data)
    argv = ["predict", path] if command == "predict" else ["webcam", "--source", path, "--headless"]
    assert "cannot read" in cli(*argv)


def test_an_empty_image_in_a_real_process_is_one_line(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    for argv in (["predict", "empty.png"], ["webcam", "--source", "empty.png", "--headless"]):
        proc = subprocess.run([sys.executable, "-m", "edgedigits", *argv], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 2 and proc.stderr.strip() == "edgedigits: cannot read empty.png as an image (empty file)"


def five_class_model(path: Path) -> Path:
    from onnx import TensorProto, helper, numpy_helper, save

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["z"]),
         helper.make_node("Softmax", ["z"], ["probabilities"], axis=-1)], "five",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(np.zeros((784, 5), np.float32), "w"),
         numpy_helper.from_array(np.array([-1, 784], np.int64), "shape")])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


RUN_DIRS = {  # file -> (content, message fragment)
    "list": ({"run.json": "[1, 2]"}, "is not a run description"),
    "binary": ({"run.json": b"\xff\xfe\x00garbage"}, "is not a run description"),
    "no dataset": ({"run.json": '{"name": "x"}'}, "is not a run description"),
    "unknown dataset": ({"run.json": '{"dataset": "cifar"}'}, "unknown dataset 'cifar'"),
    "history text": ({"history.csv": "epoch,loss,accuracy,val_loss,val_accuracy\n0,a,b,c,d\n"}, "not a Keras training"),
    "history binary": ({"history.csv": b"\x00\xff\xfe\x01"}, "history.csv"),
    "history no val_loss": ({"history.csv": "epoch,loss,accuracy,val_accuracy\n0,1,0.5,0.5\n"}, "no column val_loss"),
    "history empty": ({"history.csv": "epoch,loss,accuracy,val_loss,val_accuracy\n"}, "has no epochs"),
    "five classes": ({"pruned.onnx": "five"}, "has 5 outputs, but the run's dataset mnist has 10 classes"),
    "corrupt onnx": ({"int8.onnx": b"\x08\x01not a model"}, "cannot load"),
    "nan scores": ({"pruned.onnx": "nan"}, "NaN or infinite scores"),
    "run.json nested too deep": ({"run.json": "[" * 100_000}, "is not a run description"),
    "run.json with NaN": ({"run.json": '{"dataset": NaN}'}, "is not a run description"),
}


@pytest.mark.parametrize("case", list(RUN_DIRS))
def test_report_on_malformed_run_dirs_is_one_line(cli, case, tmp_path):
    files, fragment = RUN_DIRS[case]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    files = {"run.json": '{"name": "x", "dataset": "mnist"}', **files}
    for name, content in files.items():
        if content in ("five", "nan"):
            (five_class_model if content == "five" else nan_model)(run_dir / name)
        else:
            (run_dir / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    assert fragment in cli("report", run_dir)


MANIFESTS = {
    "not json": (lambda m: b"{not json", "not a readable manifest"),
    "a list": (lambda m: b"[1, 2, 3]", "not a readable manifest"),
    "no stages": (lambda m: json.dumps({k: v for k, v in m.items() if k != "stages"}).encode(), "not a readable"),
    "no files": (lambda m: json.dumps({k: v for k, v in m.items() if k != "files"}).encode(), "not a readable"),
    "stage lacks keys": (lambda m: json.dumps({**m, "stages": {**m["stages"], "fp32": {}}}).encode(),
                         "stages.fp32 lacks test_accuracy"),
    "files elsewhere": (lambda m: json.dumps({**m, "files": {"pruned": "../x.onnx", "int8": "y"}}).encode(),
                        "not a readable manifest"),
    "missing onnx": (lambda m: json.dumps({**m, "files": {**m["files"], "int8": "gone.onnx"}}).encode(),
                     "gone.onnx does not match the sha256"),
}


@pytest.mark.parametrize("case", [*MANIFESTS, "corrupt onnx"])
def test_compare_on_malformed_manifests_is_one_line(cli, no_training, case, tmp_path):
    folder = tmp_path / "shipped"
    folder.mkdir()
    for name in ("lenet.onnx", "lenet.int8.onnx", "lenet.json"):
        shutil.copyfile(EXPORTED / name, folder / name)
    manifest = json.loads((EXPORTED / "lenet.json").read_text())
    if case == "corrupt onnx":
        (folder / "lenet.int8.onnx").write_bytes(b"\x08\x01garbage")
        fragment = "lenet.int8.onnx does not match the sha256"
    else:
        make, fragment = MANIFESTS[case]
        (folder / "lenet.json").write_bytes(make(manifest))
    assert fragment in cli("compare", "lenet", "--exported", folder, "--out-dir", tmp_path / "out")


def test_bench_reports_are_checked_writable_before_measuring(cli, tmp_path):
    (tmp_path / "afile").write_text("a regular file")
    line = cli("bench", "exported/lenet.int8.onnx", "--out-dir", tmp_path / "out", "--png", tmp_path / "afile" / "b.png")
    assert "afile" in line and list((tmp_path / "out").iterdir()) == []


# --- the dataset cache ---------------------------------------------------------------------------------------

FASHION_CACHE = Path.home() / ".cache" / "edgedigits" / "fashion-mnist.npz"


def damage_header(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    at = raw.index(b"{'descr'", raw.index(b"x_test.npy"))
    raw[at: at + 8] = b"{'descr\x00"
    path.write_bytes(bytes(raw))


def damage_pixels(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def resave_altered(path: Path) -> None:
    from edgedigits.runtime.datasets import sources

    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["y_test"] = (arrays["y_test"] + 1) % 10
    arrays["sha256"] = np.array(sources.content_sha256(arrays))  # a hash that matches the altered arrays
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.skipif(not FASHION_CACHE.is_file() or not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="needs the fashion-mnist cache and Debian's dataset-fashion-mnist (make system)")
@pytest.mark.parametrize("damage", [damage_header, pytest.param(damage_pixels, marks=pytest.mark.slow), resave_altered])
def test_a_damaged_cache_is_rebuilt_with_one_line(damage, tmp_path):
    """In a real process: the warning is a logging record, printed as one line when nothing else handles it."""
    from edgedigits.runtime.datasets import sources

    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(FASHION_CACHE, cache / "fashion-mnist.npz")
    damage(cache / "fashion-mnist.npz")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGEDIGITS_CACHE": str(cache), "EDGEDIGITS_NO_DOWNLOAD": "1"}
    env.pop("EDGEDIGITS_DATA", None)
    fetch = [sys.executable, "-m", "edgedigits", "data", "fetch", "fashion-mnist"]
    proc = subprocess.run(fetch, capture_output=True, text=True, timeout=300, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("edgedigits: dataset cache") and "damaged" in lines[0] and "rebuilding" in lines[0]
    assert "source: Debian dataset-fashion-mnist" in proc.stdout
    again = subprocess.run(fetch, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and again.stderr == "" and "source: cache" in again.stdout  # the rebuilt one is good
    with np.load(cache / "fashion-mnist.npz", allow_pickle=False) as npz:
        assert str(npz["sha256"]) == sources.PUBLISHED_SHA256["fashion-mnist"]


# --- models a command cannot use -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory, training_modules):
    from edgedigits.training.stack import keras

    folder = tmp_path_factory.mktemp("keras")
    five = models.create_model("mlp", 5)
    five.save(str(folder / "five.keras"))
    wide = keras.Sequential([keras.layers.InputLayer(input_shape=(32, 32, 3)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")])
    wide.save(str(folder / "wide.keras"))
    keras.utils.set_random_seed(1)
    models.create_model("mlp", 10).save(str(folder / "mlp.keras"))
    return folder


@pytest.mark.parametrize("model,fragment", [("five.keras", "outputs [N, 5], expected [N, 10]"),
                                            ("wide.keras", "takes input [N, 32, 32, 3], expected [N, 28, 28, 1]"),
                                            ("missing.keras", "Keras model not found")])
@pytest.mark.parametrize("command", ["export", "prune"])
def test_models_that_do_not_fit_are_refused_and_output_is_kept(cli, no_training, keras_models, model, fragment,
                                                              command, tmp_path):
    output = tmp_path / "out.onnx"
    output.write_bytes(b"the previous export")
    if command == "export":
        line = cli("export", keras_models / model, output)
    else:
        line = cli("prune", "lenet", "--model", keras_models / model, "--runs-dir", tmp_path / "runs")
    assert fragment in line and output.read_bytes() == b"the previous export"


def test_a_failed_parity_check_exits_3_and_keeps_the_output(cli, keras_models, tmp_path):
    output = tmp_path / "out.onnx"
    output.write_bytes(b"the previous export")
    recipe = tmp_path / "strict.toml"
    recipe.write_text('model = "mlp"\n[export]\nparity_tolerance = 0.0\nparity_images = 50\n')
    line = cli("export", keras_models / "mlp.keras", output, "--pipeline", recipe, codes=(3,))
    assert "ONNX output differs from Keras" in line
    assert output.read_bytes() == b"the previous export" and list(tmp_path.glob(".out.onnx*")) == []


# --- the runtime API -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    return Classifier(EXPORTED / "lenet.int8.onnx", threads=1)


DTYPES = st.sampled_from([np.uint8, np.int8, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_,
                          np.complex64])


@settings(FUZZ, max_examples=80 * SCALE)
@given(images=hnp.arrays(DTYPES, st.one_of(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=30),
                                           st.tuples(st.integers(0, 3), st.sampled_from([27, 28]),
                                                     st.sampled_from([28, 29]), st.integers(0, 3)))))
def test_any_array_is_classified_or_refused_with_input_error(classifier, images):
    try:
        probabilities = classifier.probabilities(images)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    n = 1 if images.ndim == 2 else images.shape[0]
    assert probabilities.shape == (n, 10) and np.isfinite(probabilities).all()


def test_the_shape_in_the_message_is_the_callers():
    with pytest.raises(InputError, match=r"got \[8, 784\]$"):
        Classifier(EXPORTED / "lenet.int8.onnx").probabilities(np.zeros((8, 784), np.uint8))


NOT_COUNTS = st.one_of(st.integers(max_value=0), st.text(max_size=3), st.floats(), st.booleans(), st.none(),
                       st.just(np.float64(2.0)), st.just([1]))


@settings(FUZZ, max_examples=40 * SCALE)
@given(batch_size=NOT_COUNTS)
def test_bad_batch_sizes_are_input_errors(classifier, batch_size):
    with pytest.raises(InputError, match="batch_size must be an integer >= 1"):
        classifier.probabilities(np.zeros((3, 28, 28), np.uint8), batch_size=batch_size)


@settings(FUZZ, max_examples=40 * SCALE)
@given(threads=st.one_of(st.integers(max_value=-1), st.integers(min_value=limits.MAX_THREADS + 1),
                         st.text(max_size=3), st.floats(), st.booleans(), st.none()))
def test_bad_thread_counts_are_input_errors(threads):
    with pytest.raises(InputError, match=rf"threads must be an integer in \[0, {limits.MAX_THREADS}\]"):
        Classifier(EXPORTED / "lenet.int8.onnx", threads=threads)


@settings(FUZZ, max_examples=20 * SCALE)
@given(n=st.integers(1, 20), m=st.integers(0, 20))
def test_labels_must_be_one_per_image(n, m):
    if n == m:
        return
    with pytest.raises(InputError, match="labels must be one per image"):
        accuracy(EXPORTED / "lenet.int8.onnx", np.zeros((n, 28, 28), np.uint8), np.zeros(m))


@settings(FUZZ, max_examples=20 * SCALE)
@given(threshold=st.one_of(st.floats(max_value=0, exclude_max=True), st.floats(min_value=1, exclude_min=True),
                           st.just(math.nan)))
def test_bad_thresholds_are_input_errors(classifier, threshold):
    with pytest.raises(InputError, match=r"threshold must be in \[0, 1\]"):
        webcam.Reader(classifier, threshold=threshold)


# --- a real process, start to end (slow: imports TensorFlow) -------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("text", ["[train]\nepochs = 0\n", "[train]\nlearning_rate = nan\n", "seed = -1\n",
                                  "[export]\nopset = 99\n", "validation = 70000\n", "[prune.layers]\nconvX = 0.5\n"])
def test_a_real_process_refuses_bad_recipes_before_training(tmp_path, text):
    shutil.copytree(EXPORTED, tmp_path / "exported")
    before = tree_digest(tmp_path / "exported")
    (tmp_path / "bad.toml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "edgedigits", "train-prune-export", "bad.toml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not PROGRESS.search(proc.stdout + proc.stderr) and tree_digest(tmp_path / "exported") == before


# --- hostile folders: journals (tests/hostile.py generates them) -----------------------------------------------------


def everything(folder: Path) -> dict:
    """Every entry under `folder` (links not followed): its kind and, for a file, its bytes' sha256."""
    out = {}
    for path in sorted(folder.rglob("*")):
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "fifo" if path.is_fifo() else "file"
        out[str(path.relative_to(folder))] = (kind, hashlib.sha256(path.read_bytes()).hexdigest()
                                              if kind == "file" else os.readlink(path) if kind == "link" else "")
    return out


@settings(FUZZ, max_examples=150 * SCALE)
@given(case=hostile.journals())
def test_a_planted_journal_never_writes_outside_its_folder(tmp_path_factory, case):
    """Whatever a folder's staging journal says (paths, links, FIFOs, wrong hashes, NaN, no mark), recovering the
    folder (what `bench DIR` and `compare --exported DIR` do first) changes nothing outside it, and inside it only
    moves in the set's own files whose bytes hash to what the journal says."""
    root = tmp_path_factory.mktemp("journal")
    folder, outside = root / "sent", root / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "victim.txt").write_text("mine")
    (folder / "lenet.json").write_text("{}")
    hostile.plant(folder, outside, case)
    before_outside, before = everything(outside), everything(folder)
    artifacts.recover(folder)
    assert everything(outside) == before_outside
    assert not Path("/tmp/edgedigits-victim.txt").exists()
    moved = {name: entry for name, entry in everything(folder).items()
             if not name.startswith(".") and before.get(name) != entry}
    for name, (kind, digest) in moved.items():
        data = case.entries.get(name, ("", "", b""))
        assert kind == "file" and name.startswith("lenet.") and data[0] == "file" and data[1] == "right"
        assert digest == hashlib.sha256(data[2]).hexdigest()


@settings(FUZZ, max_examples=100 * SCALE)
@given(data=st.data())
def test_a_hostile_manifest_lends_nothing_and_fails_in_one_line(tmp_path_factory, data):
    """bench reads a manifest beside a model only for its parameter counts, and only when it describes that very
    file; verify_set (compare --exported) accepts a manifest or refuses it with one InputError, never another
    exception, whatever the manifest holds (NaN, Infinity, paths, any shape)."""
    folder = tmp_path_factory.mktemp("manifest")
    for name in ("lenet.onnx", "lenet.int8.onnx"):
        shutil.copyfile(EXPORTED / name, folder / name)
    (folder / "lenet.json").write_bytes(data.draw(hostile.manifests(json.loads((EXPORTED / "lenet.json").read_text()))))
    info = bench.describe(folder / "lenet.int8.onnx")
    if "parameters" in info:
        stage = json.loads((folder / "lenet.json").read_text())["stages"]["int8"]
        assert stage["sha256"] == hashlib.sha256((folder / "lenet.int8.onnx").read_bytes()).hexdigest()
        assert all(type(info[k]) is int and info[k] >= 0 for k in ("parameters", "nonzero_parameters"))
    try:
        manifest = artifacts.verify_set(folder, "lenet")
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        for stage, file in (("pruned", manifest["files"]["pruned"]), ("int8", manifest["files"]["int8"])):
            assert (folder / file).parent == folder
            assert manifest["stages"][stage]["sha256"] == hashlib.sha256((folder / file).read_bytes()).hexdigest()


# --- hostile models: metadata -----------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=120 * SCALE)
@given(meta=hostile.metadata())
def test_a_models_metadata_is_used_only_when_it_means_what_the_reader_does(tmp_path_factory, meta):
    """Any metadata: the model loads, or it is one InputError. Loaded, its labels are ten short printable distinct
    names, and nothing it says contradicts what the runtime feeds it (uint8 / 255, NHWC float32, white on black);
    a Reader on it reads a blank frame."""
    path = tmp_path_factory.mktemp("meta") / "m.onnx"
    path.write_bytes(hostile.model_bytes(meta))
    try:
        model = Classifier(path, threads=1)
    except InputError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1000
        return
    assert len(model.labels) == 10 and len(set(model.labels)) == 10
    assert all(0 < len(label) <= limits.MAX_LABEL_CHARS and label.isprintable() for label in model.labels)
    assert meta.get("ink", "white-on-black") == "white-on-black" and meta.get("input_dtype", "float32") == "float32"
    if "input_scale" in meta:
        assert math.isclose(float(json.loads(meta["input_scale"])), 1 / 255, rel_tol=1e-6)
    assert webcam.Reader(model).read(np.full((64, 64), 255, np.uint8)) == []


@pytest.mark.parametrize("make,fragment", [
    (lambda: hostile.model_bytes({}), "not a number reader"),  # a classifier
    (lambda: hostile.model_bytes({}, classes=5), "not a number reader"),
    (lambda: hostile.sequence_bytes(classes=6), "output must be float32 [N,T,11]"),  # five digits and a blank
    (lambda: hostile.sequence_bytes(height=28), "input must be float32 [N,32,W,1]"),
    (lambda: hostile.sequence_bytes(meta={"stride": "8"}), "metadata stride '8' is not 4"),
    (lambda: hostile.sequence_bytes(meta={"labels": '["a","b","c","d","e","f","g","h","i","j"]'}), "digits 0-9"),
    (lambda: hostile.sequence_bytes(meta={"ink": "black-on-white"}), "metadata ink"),
])
def test_what_is_not_a_number_reader_is_refused_as_one(cli, make, fragment, tmp_path):
    (tmp_path / "reader.onnx").write_bytes(make())
    assert fragment in cli("predict", "digits.jpg", "--number-model", tmp_path / "reader.onnx")


def test_a_number_reader_shaped_model_is_read_as_one(tmp_path):
    (tmp_path / "reader.onnx").write_bytes(hostile.sequence_bytes())
    reader = webcam.load_reader(EXPORTED / "lenet.int8.onnx", number_model=tmp_path / "reader.onnx")
    assert isinstance(reader.read(cv2.imread(str(IMAGE))), list)


def nan_model(path: Path) -> Path:
    """A classifier whose every score is NaN (log of a negative number)."""
    from onnx import TensorProto, helper, numpy_helper, save

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["z"]),
         helper.make_node("Sub", ["z", "one"], ["negative"]), helper.make_node("Log", ["negative"], ["probabilities"])],
        "nan", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 28, 28, 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(np.zeros((784, 10), np.float32), "w"),
         numpy_helper.from_array(np.array([-1, 784], np.int64), "shape"),
         numpy_helper.from_array(np.ones(10, np.float32), "one")])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("argv", [["predict", "digits.jpg"], ["predict", "--json", "digits.jpg"],
                                  ["webcam", "--source", "digits.jpg", "--headless"]])
def test_a_model_that_gives_nan_is_refused_not_read_as_zeros(cli, argv, tmp_path):
    line = cli(*argv, "--model", nan_model(tmp_path / "nan.onnx"))
    assert "NaN or infinite scores" in line


def test_nan_scores_are_never_an_accuracy_or_a_reading(tmp_path):
    model = Classifier(nan_model(tmp_path / "nan.onnx"))
    assert np.isnan(model.probabilities(np.zeros((2, 28, 28), np.uint8))).all()  # handed on as the model gave them
    for call in (lambda: model.classify(np.zeros((2, 28, 28), np.uint8)),
                 lambda: accuracy(tmp_path / "nan.onnx", np.zeros((2, 28, 28), np.uint8), [0, 1])):
        with pytest.raises(InputError, match="NaN or infinite scores"):
            call()


# --- hostile image files ---------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=150 * SCALE)
@given(data=hostile.image_files())
def test_any_image_file_is_read_within_the_limits_or_refused_before_decoding(tmp_path_factory, monkeypatch, data):
    """Whatever a file holds (any format, transparency, 16 bits, a header claiming 20000x20000 or more, cut short,
    bytes flipped): a BGR uint8 image within the pixel limit, or one InputError; a header past the limit is refused
    without decoding (a JPEG may be decoded reduced)."""
    from edgedigits.runtime.reading import images, imagesize

    path = tmp_path_factory.mktemp("img") / "shot.img"
    path.write_bytes(data)
    decoded = []
    real = images.cv2.imdecode
    monkeypatch.setattr(images.cv2, "imdecode", lambda raw, flag: decoded.append(flag) or real(raw, flag))
    with open(path, "rb") as f:
        header = imagesize.sniff(f)
    try:
        image = images.read_image(path)
    except InputError as exc:
        assert "\n" not in str(exc)
        if header and header.pixels > limits.MAX_IMAGE_PIXELS and header.format != "jpeg":
            assert "pixel limit" in str(exc) and decoded == []
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= limits.MAX_IMAGE_PIXELS


def test_files_past_the_byte_and_pixel_limits_are_refused_before_reading(cli, tmp_path):
    sparse = tmp_path / "big.png"
    with open(sparse, "wb") as f:
        f.truncate(64 * 2**30)  # 64 GiB of nothing on disk
    assert "over the 268,435,456-byte limit" in cli("predict", sparse)
    wide = tmp_path / "wide.png"
    wide.write_bytes(hostile.claim_size(hostile.encode(".png", np.zeros((8, 8), np.uint8)), 20000, 20000))
    assert "20000x20000 pixels, over the 40,000,000-pixel limit" in cli("predict", wide)
    assert "20000x20000 pixels" in cli("webcam", "--source", wide, "--headless")


def test_a_large_jpeg_is_read_at_a_reduced_scale(tmp_path):
    from edgedigits.runtime.reading import images

    photo = cv2.resize(cv2.imread(str(IMAGE)), (9600, 7200), interpolation=cv2.INTER_NEAREST)  # 69 megapixels
    cv2.imwrite(str(tmp_path / "big.jpg"), photo)
    image = images.read_image(tmp_path / "big.jpg")
    assert image.shape == (3600, 4800, 3)  # half of each side
    assert webcam.as_text(webcam.load_reader(EXPORTED / "lenet.int8.onnx").read(image)) == "156 288"


@pytest.mark.parametrize("ink,paper", [((0, 0, 0), 255), ((255, 255, 255), 0), ((40, 30, 200), 255)])
def test_transparent_images_are_read_on_the_paper_their_ink_stands_out_from(tmp_path, ink, paper):
    """Ink drawn on a transparent background (alpha 0 everywhere else, whatever colour is stored there)."""
    from edgedigits.runtime.reading import images

    frame = cv2.imread(str(IMAGE), cv2.IMREAD_GRAYSCALE)
    rgba = np.zeros(frame.shape + (4,), np.uint8)
    rgba[..., :3] = ink
    rgba[..., 3] = cv2.threshold(frame, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)[1]  # the photo's ink, opaque
    for ext in (".png", ".webp"):
        cv2.imwrite(str(tmp_path / f"ink{ext}"), rgba, [cv2.IMWRITE_WEBP_QUALITY, 101])
        image = images.read_image(tmp_path / f"ink{ext}")
        assert (image[rgba[..., 3] == 0] == paper).all()
        reader = webcam.load_reader(EXPORTED / "lenet.int8.onnx")
        assert webcam.as_text(reader.read(image)) == "156 288"


def test_decoder_messages_never_reach_the_terminal(tmp_path):
    """libpng prints its own warnings and errors on stderr: a real process shows only edgedigits' line."""
    good = hostile.encode(".png", np.full((40, 40), 255, np.uint8))
    bad_crc = bytearray(good)
    bad_crc[29] ^= 0xFF  # the IHDR chunk's CRC
    warns = good[:33] + struct.pack(">I", 10) + b"iCCP" + b"x\x00\x00garbage" + struct.pack(
        ">I", zlib.crc32(b"iCCPx\x00\x00garbage")) + good[33:]  # a profile too short: libpng warns
    (tmp_path / "bad.png").write_bytes(bytes(bad_crc))
    (tmp_path / "warns.png").write_bytes(warns)
    proc = subprocess.run([sys.executable, "-m", "edgedigits", "predict", "warns.png", "bad.png"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 4 and proc.stdout == "warns.png: (no digits found)\n"
    assert proc.stderr == "edgedigits: cannot read bad.png as an image (libpng error: IHDR: CRC error)\n"


def test_predict_reads_one_image_at_a_time(cli, monkeypatch, capsys):
    """Each line is printed before the next image is decoded: memory does not grow with the number of images."""
    from edgedigits.runtime.reading import predict

    decoded, printed = [], []
    real = predict.read_image
    monkeypatch.setattr(predict, "read_image", lambda path: decoded.append(len(printed)) or real(path))
    monkeypatch.setattr("click.echo", lambda line, err=False: printed.append(line))
    main(["predict", "digits.jpg", "digits.jpg", "digits.jpg"])
    assert decoded == [0, 1, 2] and printed == ["digits.jpg: 156 288"] * 3


def test_a_page_of_small_digits_says_why_none_were_read(cli, tmp_path, capsys):
    digit = cv2.imread(str(IMAGE), cv2.IMREAD_GRAYSCALE)[150:330, 60:200]  # one number of the example photo
    page = np.tile(cv2.resize(digit, (70, 90)), (25, 20))  # 500 numbers, each 1/25 of the page high
    cv2.imwrite(str(tmp_path / "page.png"), page)
    main(["predict", str(tmp_path / "page.png")])
    out = capsys.readouterr().out
    assert "(no digits found:" in out and "shorter than 5% of the image height" in out


# --- video written to a full disk --------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["full", "dropped"])
def test_a_video_that_is_not_whole_never_replaces_the_target(cli, monkeypatch, tmp_path, failure):
    """OpenCV's writer reports no error: a disk that fills up, or frames that never reach the file, must be one
    line of error and leave `--save`'s target as it was."""
    from edgedigits.runtime.webcam import video

    target = tmp_path / "out.avi"
    target.write_bytes(b"the previous video")
    shots = tmp_path / "shots"
    shots.mkdir()
    for k in range(6):
        shutil.copyfile(IMAGE, shots / f"{k}.jpg")
    if failure == "full":
        monkeypatch.setattr(video.os, "statvfs", lambda path: types.SimpleNamespace(f_bavail=10, f_frsize=4096))
        fragment = "no space left on the device after 0 frames"
    else:
        real = video.cv2.VideoWriter

        class Dropping:  # a writer whose frames after the second are lost, as on a disk that filled up
            def __init__(self, *args):
                self.real, self.n = real(*args), 0

            def write(self, frame):
                self.n += 1
                if self.n <= 2:
                    self.real.write(frame)

            def __getattr__(self, name):
                return getattr(self.real, name)

        monkeypatch.setattr(video.cv2, "VideoWriter", Dropping)
        fragment = "reads back 2 of the 6 frames written"
    line = cli("webcam", "--source", shots, "--headless", "--save", target)
    assert fragment in line and target.read_bytes() == b"the previous video"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_full_disk_while_shipping_leaves_no_staging_folder(tmp_path, monkeypatch):
    out = tmp_path / "exported"
    out.mkdir()
    real = artifacts._write_synced

    def full(path, data):
        if path.name == "lenet.int8.onnx":
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(artifacts, "_write_synced", full)
    with pytest.raises(OSError, match="No space left"):
        artifacts.replace_set(out, "lenet", [("lenet.onnx", b"a"), ("lenet.int8.onnx", b"b"), ("lenet.json", b"{}")])
    assert list(out.iterdir()) == []


# --- every argument of the runtime API ---------------------------------------------------------------------------------

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=8), st.binary(max_size=8), st.lists(st.integers(-5, 300), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                 st.sampled_from([object(), np.zeros((3, 3)), np.zeros((40, 40), np.int64), np.full(2, np.nan),
                                  np.zeros((0, 28, 28), np.uint8), Path("/"), Path("/dev/null"), "0", "*", "",
                                  np.float64("nan"), np.int64(-1), 2**64]))


@pytest.fixture(scope="module")
def api(classifier):
    """Every public call of the runtime, with arguments that work; the test replaces one of them with junk."""
    from edgedigits import runtime

    lenet, frame = EXPORTED / "lenet.int8.onnx", cv2.imread(str(IMAGE))
    reader = webcam.Reader(classifier)
    return {
        "Classifier": (Classifier, {"path": lenet, "threads": 1, "providers": None}),
        "load_reader": (webcam.load_reader, {"model": lenet, "threads": 1, "threshold": 0.5, "ink": "auto",
                                             "touching": "cut", "number_model": None, "finder": None}),
        "load_reader strips": (webcam.load_reader, {"touching": "strips", "finder": None, "number_model": None}),
        "Reader": (webcam.Reader, {"classifier": classifier, "threshold": 0.5, "split": True, "sequence": None}),
        "Reader.read": (reader.read, {"frame": frame}),
        "classify": (classifier.classify, {"images": np.zeros((2, 28, 28), np.uint8)}),
        "probabilities": (classifier.probabilities, {"images": np.zeros((2, 28, 28), np.uint8), "batch_size": 1}),
        "accuracy": (accuracy, {"path": lenet, "images": np.zeros((2, 28, 28), np.uint8), "labels": [0, 1],
                                "threads": 1}),
        "top1": (runtime.top1, {"probabilities": np.eye(2, 10, dtype=np.float32), "labels": [0, 1]}),
        "normalize": (runtime.normalize, {"images": np.zeros((28, 28), np.uint8)}),
        "open_session": (runtime.open_session, {"path": lenet, "threads": 1, "providers": None}),
        "runner": (runtime.runner, {"session": classifier.session}),
        "as_text": (runtime.as_text, {"digits": [], "mark_uncertain": True}),
        "as_record": (runtime.as_record, {"digits": []}),
        "draw": (runtime.draw, {"frame": frame.copy(), "digits": [], "fps": 30.0}),
        "open_source": (webcam.open_source, {"spec": str(IMAGE)}),
    }


@settings(FUZZ, max_examples=300 * SCALE)
@given(data=st.data())
def test_every_api_argument_is_typed_and_bounded(api, data):
    """Any value for any one argument of any public call: it works, or it is one InputError, never another
    exception (TypeError, ValueError, OverflowError, cv2.error) from deep inside."""
    name = data.draw(st.sampled_from(sorted(api)))
    call, kwargs = api[name]
    key = data.draw(st.sampled_from(sorted(kwargs)))
    try:
        call(**{**kwargs, key: data.draw(JUNK)})
    except InputError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1000


# --- the quality gate --------------------------------------------------------------------------------------------------


@settings(FUZZ, max_examples=300 * SCALE)
@given(classes=st.integers(2, limits.MAX_CLASSES), structured=st.booleans(),
       scores=st.lists(st.one_of(st.floats(0, 100), st.just(math.nan)), min_size=1, max_size=4),
       drops=st.lists(st.floats(0, 100), min_size=3, max_size=3))
def test_the_gate_refuses_chance_and_any_stage_that_falls_too_far(classes, structured, scores, drops):
    """After every scored stage: refused if the score is not clearly above chance (a diverged run), or if it lost
    more than its stage's limit against the stage before (pruning as much as quantization); otherwise passed."""
    from edgedigits.errors import AccuracyGateError
    from edgedigits.training import gates
    from edgedigits.training.run import Result

    stages = ["fp32", *(["structured"] if structured else []), "pruned", "int8"][: len(scores)]
    limit = dict(zip(["structured", "pruned", "int8"], drops))
    recipe = types.SimpleNamespace(**{table: types.SimpleNamespace(max_accuracy_drop=limit[stage]) for table, stage in
                                      (("structured", "structured"), ("prune", "pruned"), ("quantize", "int8"))})
    run = types.SimpleNamespace(recipe=recipe, task=types.SimpleNamespace(chance=lambda run: 100.0 / classes),
                                results={})
    run.scored = lambda: {r.stage: r for r in run.results.values()}
    chance, previous = 100.0 / classes, None
    for stage, score in zip(stages, scores):
        result = run.results[stage] = Result(stage, None, {"test_accuracy": score})
        refused = not score >= chance + 0.1 * (100 - chance) or (previous is not None and previous - score > limit[stage])
        if refused:
            with pytest.raises(AccuracyGateError, match="nothing written"):
                gates.check(run, result)
            return
        gates.check(run, result)
        previous = score


def test_quantize_refuses_a_model_of_another_class_count(cli, tmp_path):
    """A 5-class file quantized under a 10-class recipe would be stamped with ten labels: nothing could load it."""
    output = tmp_path / "five.int8.onnx"
    line = cli("quantize", five_class_model(tmp_path / "five.onnx"), output)
    assert "has 5 outputs, but the recipe's dataset mnist has 10 classes" in line and not output.exists()


# --- recipes past their limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,fragment", [
    ("model = " + "[" * 3001 + "]" * 3001 + "\n", "nested deeper than 32 levels"),
    ("model = " + "{a = " * 3001 + "1" + "}" * 3001 + "\n", "nested deeper than 32 levels"),
    ("".join(f"[{'.'.join(['t'] * k)}]\n" for k in range(1, 400)), "nested deeper than 32 levels"),
    ('model = "' + "x" * 10_000_000 + '"\n', "over the 1,048,576-byte limit for a recipe"),
    ('model = "' + "x" * 1_000_000 + '"\n', "unknown model"),
    ('[train]\noptimizer = "' + "y" * 1_000_000 + '"\n', "unknown optimizer"),
])
def test_recipes_past_their_limits_are_one_short_line(cli, no_training, text, fragment):
    line = run_recipe(cli, text, RECIPE_COMMANDS[0])
    assert fragment in line and len(line) <= len("edgedigits: ") + limits.MAX_MESSAGE_CHARS


def test_a_sweep_value_nested_too_deep_is_one_line(cli, no_training):
    assert "nested deeper than 32 levels" in cli("sweep", "grid", "lenet", "--param", "seed=" + "[" * 3000 + "]" * 3000)


def test_an_image_with_thousands_of_marks_is_read_in_bounded_time_and_memory(tmp_path):
    """A page of 9,600 small marks at 24 megapixels: only the tallest marks are compared pairwise (all of them took
    5 GB and 44 s), and the reading says they were too small."""
    from edgedigits.runtime.reading import find

    page = np.full((4000, 6000), 255, np.uint8)
    for k in range(9600):
        cv2.putText(page, str(k % 10), (5 + (k % 120) * 50, 45 + (k // 120) * 50), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 0, 3)
    found = find.find_digits(page)
    assert len(found) == 0 and found.small == 9600
