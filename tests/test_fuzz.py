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
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgedigits import limits
from edgedigits.cli import main
from edgedigits.errors import InputError
from edgedigits.runtime import Classifier, accuracy, webcam
from edgedigits.training import checks, config, models

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
}


@pytest.mark.parametrize("case", list(RUN_DIRS))
def test_report_on_malformed_run_dirs_is_one_line(cli, case, tmp_path):
    files, fragment = RUN_DIRS[case]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    files = {"run.json": '{"name": "x", "dataset": "mnist"}', **files}
    for name, content in files.items():
        if content == "five":
            five_class_model(run_dir / name)
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
