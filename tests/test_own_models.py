"""Your own data and model through train-prune-export: an image folder of RGB images of mixed sizes (32x32x3, with
structured pruning), a Keras .npz, a .keras model saved by plain tf_keras code (the pipeline starts at pruning),
and a builder file; each ships ONNX files whose metadata names the user's classes. Bad data and bad model files
are one line and exit 2 with nothing written. The Kaggle-style CSV pair with a builder file is the worked example
of docs/own-data.md (tests/test_own_data_docs.py)."""

import json

import cv2
import numpy as np
import onnx
import pytest

from edgedigits import runtime
from edgedigits.training import config, pipeline
from edgedigits.training.stack import keras
from tests.test_own_files import BAD, bad_recipe

FAST = {  # a few epochs on a few hundred images; the gates are opened: these runs check the plumbing, not accuracy
    "train": {"epochs": 2},
    "prune": {"epochs": 2, "ramp_epochs": 1, "frequency": 2, "target_sparsity": 0.6, "max_accuracy_drop": 50.0},
    "export": {"parity_images": 10},
    "quantize": {"calibration_images": 50, "max_accuracy_drop": 50.0, "variants": ["u8s8"], "timing_runs": 20,
                 "throughput_seconds": 0.02},
}


def recipe_file(path, text: str):
    """A recipe of the user's own: their lines, then the FAST tables."""
    tables = "\n".join(f"[{name}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
                       for name, table in FAST.items())
    path.write_text(text.strip() + "\n" + tables + "\n")
    return config.load(str(path))


def metadata(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def digits_in_colour(mnist, folder, per_class=40, seed=0):
    """MNIST digits 0, 1, 2 as RGB photos of mixed sizes (PNG and JPEG), one subfolder per class."""
    rng = np.random.default_rng(seed)
    for digit, name in enumerate(("zero", "one", "two")):
        (folder / name).mkdir(parents=True)
        for i, image in enumerate(mnist.x_train[mnist.y_train == digit][:per_class]):
            ink, paper = rng.integers(120, 256, 3), rng.integers(0, 60, 3)
            photo = (paper + (ink - paper) * (image[..., None] / 255.0)).astype(np.uint8)
            size = (int(rng.integers(24, 64)), int(rng.integers(24, 64)))
            cv2.imwrite(str(folder / name / f"{i}.{'png' if i % 3 else 'jpg'}"), cv2.resize(photo, size))


def test_an_image_folder_of_rgb_photos_through_every_stage(tmp_path, mnist, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)  # where a user runs it: the models' metadata names the data relative to here
    digits_in_colour(mnist, tmp_path / "photos")
    recipe = recipe_file(tmp_path / "photos.toml", """
model = "lenet"
validation = 0.1
[dataset]
path = "photos"
shape = [32, 32, 3]
[structured]
enabled = true
widths = {conv1 = 4, dense1 = 60}
steps = 1
epochs = 1
max_accuracy_drop = 50.0
""")
    manifest = pipeline.run(recipe, "exported", "runs")
    assert list(manifest["stages"]) == ["fp32", "structured", "pruned", "int8"]
    assert manifest["labels"] == ["one", "two", "zero"] and manifest["dataset"] == "photos"
    assert manifest["input"]["shape"] == ["N", 32, 32, 3] and manifest["test_images"] == 12
    assert manifest["structured"]["widths"]["conv1"] == {"before": 6, "after": 4}
    assert "held out of photos" in manifest["test_split"]
    for name in ("photos.onnx", "photos.int8.onnx"):
        meta = metadata(tmp_path / "exported" / name)
        assert json.loads(meta["labels"]) == ["one", "two", "zero"] and json.loads(meta["input_shape"]) == ["N", 32, 32, 3]
        assert "RGB" in meta["normalization"] and "ink" not in meta
        model = runtime.Classifier(tmp_path / "exported" / name)
        assert model.input_shape == (32, 32, 3)
    assert manifest["stages"]["int8"]["test_accuracy"] > 40  # three classes: chance is 33%
    code, _, _ = run_cli("bench", "exported/photos.int8.onnx", "--runs", "5", "--warmup", "1", "--seconds", "0",
                         "--target", "ort-cpu", "--out-dir", "bench")
    row = json.loads((tmp_path / "bench" / "bench.json").read_text())["rows"][0]
    assert code == 0 and row["accuracy"] == pytest.approx(manifest["stages"]["int8"]["test_accuracy"])


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory, mnist):
    """Four MNIST classes in Keras' .npz layout (labels [N, 1], as CIFAR's), and a model a notebook trained on it."""
    folder = tmp_path_factory.mktemp("npz")
    train, test = np.flatnonzero(mnist.y_train < 4)[:600], np.flatnonzero(mnist.y_test < 4)[:200]
    arrays = {"x_train": mnist.x_train[train], "y_train": mnist.y_train[train][:, None].astype(np.int64),
              "x_test": mnist.x_test[test], "y_test": mnist.y_test[test]}
    np.savez(folder / "digits.npz", **arrays)
    keras.utils.set_random_seed(1)  # plain tf_keras, as a notebook has it
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(arrays["x_train"][..., None] / 255.0, arrays["y_train"], epochs=2, verbose=0)
    model.save(str(folder / "notebook.keras"))
    return folder, arrays, model


def test_an_npz_with_class_names(tmp_path, digits_npz):
    folder, arrays, _ = digits_npz
    recipe = recipe_file(tmp_path / "npz.toml", f"""
model = "mlp"
validation = 100
[dataset]
path = "{folder / 'digits.npz'}"
classes = ["nought", "one", "two", "three"]
""")
    manifest = pipeline.run(recipe, tmp_path / "exported", tmp_path / "runs")
    assert manifest["test_images"] == 200 and manifest["labels"] == ["nought", "one", "two", "three"]
    assert manifest["test_split"] == "the dataset's own test set" and manifest["dataset"] == "digits"
    int8 = runtime.Classifier(tmp_path / "exported" / "npz.int8.onnx")
    assert int8.labels == ["nought", "one", "two", "three"]
    assert runtime.accuracy(tmp_path / "exported" / "npz.int8.onnx", arrays["x_test"], arrays["y_test"]) == \
        pytest.approx(manifest["stages"]["int8"]["test_accuracy"])


def test_a_saved_keras_model_starts_at_pruning(tmp_path, digits_npz):
    folder, arrays, model = digits_npz
    recipe = recipe_file(tmp_path / "saved.toml", f"""
model = "{folder / 'notebook.keras'}"
validation = 100
[dataset]
path = "{folder / 'digits.npz'}"
""")
    manifest = pipeline.run(recipe, tmp_path / "exported", tmp_path / "runs")
    assert list(manifest["stages"]) == ["fp32", "pruned", "int8"] and "train" not in manifest["times_s"]
    fp32 = manifest["stages"]["fp32"]
    assert fp32["time_s"] == 0.0 and fp32["parameters"] == model.count_params()
    keras_accuracy = 100 * np.mean(model.predict(arrays["x_test"][..., None] / 255.0, verbose=0).argmax(1) ==
                                   arrays["y_test"])
    assert fp32["test_accuracy"] == pytest.approx(keras_accuracy)  # the notebook's own model, scored as it is
    assert manifest["stages"]["pruned"]["kernel_sparsity"] >= 0.59
    assert "a Keras model saved as notebook.keras" in onnx.load(str(tmp_path / "exported/saved.onnx")).doc_string
    trained = recipe_file(tmp_path / "again.toml", f"""
model = "{folder / 'notebook.keras'}"
start = "train"
validation = 100
dataset = "{folder / 'digits.npz'}"
""")
    from edgedigits.training import stages

    assert stages.enabled(trained)[:2] == ["train", "prune"] and stages.enabled(recipe)[:2] == ["saved", "prune"]


BUILDER = """
import tf_keras as keras


def build(input_shape, num_classes):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(num_classes, activation="softmax", name="output")])


def broken(input_shape, num_classes):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(num_classes / 0)])


def not_a_model(input_shape, num_classes):
    return "a model"


def wrong_output(input_shape, num_classes):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(3)])
"""


@pytest.mark.parametrize("function, words", [
    ("broken", "models.py line 11: broken() raised ZeroDivisionError: division by zero"),
    ("not_a_model", "not_a_model() in {folder}/models.py returned builtins.str, not a tf_keras model"),
    ("wrong_output", "outputs [N, 3], expected [N, 4]"),
    ("missing", "has no function missing() (it has: broken, build, not_a_model, wrong_output)"),
])
def test_a_builder_that_fails_is_one_line_and_exit_2(tmp_path, digits_npz, run_cli, function, words):
    folder, _, _ = digits_npz
    (tmp_path / "models.py").write_text(BUILDER)
    recipe_file(tmp_path / "bad.toml", f'model = "models.py:{function}"\nvalidation = 100\ndataset = '
                                       f'"{folder / "digits.npz"}"\n')
    code, out, err = run_cli("train-prune-export", str(tmp_path / "bad.toml"), "--out-dir", str(tmp_path / "out"),
                             "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and err.count("\n") == 1 and words.format(folder=tmp_path) in err, err
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != tmp_path]  # nothing written


def test_a_builder_model_is_trained_from_the_users_file(tmp_path, digits_npz):
    folder, _, _ = digits_npz
    (tmp_path / "models.py").write_text(BUILDER)
    recipe = recipe_file(tmp_path / "built.toml", f"""
model = "models.py:build"
validation = 100
dataset = "{folder / 'digits.npz'}"
""")
    manifest = pipeline.run(recipe, tmp_path / "exported", tmp_path / "runs")
    assert manifest["stages"]["fp32"]["parameters"] == 28 * 28 * 4 + 4 and manifest["model"] == "models.py:build"
    assert json.loads(metadata(tmp_path / "exported" / "built.int8.onnx")["labels"]) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("case", BAD)
def test_bad_data_stops_train_prune_export_with_one_line_and_nothing_written(tmp_path, run_cli, case):
    recipe, _, words = bad_recipe(tmp_path, case)
    out, runs = tmp_path / "out", tmp_path / "runs"
    code, stdout, err = run_cli("train-prune-export", str(recipe), "--out-dir", str(out), "--runs-dir", str(runs))
    assert code == 2 and stdout == "" and err.count("\n") == 1 and words in err, err
    assert not [p for p in (*out.rglob("*"), *runs.rglob("*")) if p.is_file()]
