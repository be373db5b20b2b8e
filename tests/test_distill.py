"""Distillation from exported ONNX teachers in the train and prune stages, and mirror augmentation."""

import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgedigits.errors import InputError
from edgedigits.training import config, distill, models, pipeline, train
from edgedigits.training.config import Augment
from edgedigits.training.split import Split
from tests.conftest import tiny_recipe

ROOT = Path(__file__).resolve().parent.parent


def constant_teacher(path, favourite: int, classes: int = 10):
    """An ONNX classifier that ignores its input and puts ~all probability on class `favourite`."""
    logits = np.zeros(classes, np.float32)
    logits[favourite] = 12.0
    inits = [numpy_helper.from_array(np.zeros((784, classes), np.float32), "w"), numpy_helper.from_array(logits, "b"),
             numpy_helper.from_array(np.array([-1, 784], np.int64), "shape")]
    nodes = [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("Gemm", ["flat", "w", "b"], ["z"]),
             helper.make_node("Softmax", ["z"], ["probabilities"], axis=-1)]
    graph = helper.make_graph(nodes, "teacher", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 28, 28, 1])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_a_student_taught_only_by_its_teacher_says_what_the_teacher_says(tmp_path, mnist):
    """distill = 1: the labels have no weight, so a teacher that always says 3 makes a student that says 3."""
    teacher = constant_teacher(tmp_path / "three.onnx", 3)
    cfg = config.Train(epochs=2, teachers=[str(teacher)], distill=1.0, temperature=1.0, learning_rate=3e-3)
    split = Split.from_dataset(mnist, 500, 0, 2000)
    model = train.train(lambda: models.create_model("lenet"), split, cfg, 0, tmp_path / "run",
                        distill.OnnxTeachers(cfg.teachers, mnist))
    said = model.predict(split.x_val, verbose=0).argmax(1)
    assert np.mean(said == 3) > 0.95 and np.mean(said == split.y_val) < 0.2
    assert (tmp_path / "run" / "best.keras").is_file()  # the student is checkpointed, not the wrapper


def test_the_pipeline_distills_in_train_and_prune_and_records_its_teachers(tmp_path, mnist):
    """A shipped classifier teaches both stages, named relative to the recipe's folder as a recipe names it."""
    teacher = tmp_path / "teacher.onnx"
    shutil.copyfile(ROOT / "exported" / "lenet.onnx", teacher)
    recipe = tiny_recipe(tmp_path, train={"teachers": ["teacher.onnx"], "distill": 0.5},
                         prune={"teachers": ["teacher.onnx"], "distill": 0.3})
    manifest = pipeline.run(recipe, tmp_path / "exported", tmp_path / "runs")
    digest = hashlib.sha256(teacher.read_bytes()).hexdigest()
    assert manifest["distilled_from"] == [{"file": "teacher.onnx", "sha256": digest}]
    assert manifest["prune_distilled_from"] == [{"file": "teacher.onnx", "sha256": digest}]
    assert manifest["pipeline"]["train"]["distill"] == 0.5 and manifest["pipeline"]["prune"]["teachers"] == ["teacher.onnx"]


@pytest.mark.parametrize("table,message", [
    ({"train": {"distill": 0.5}}, "train.distill > 0 and train.teachers"),
    ({"prune": {"teachers": ["exported/lenet.onnx"]}}, "prune.distill > 0 and prune.teachers"),
    ({"train": {"distill": 1.5, "teachers": ["x.onnx"]}}, r"train.distill must be a number in \[0, 1\]"),
    ({"train": {"temperature": 0, "teachers": ["x.onnx"], "distill": 0.5}}, "train.temperature must be"),
])
def test_bad_distillation_settings_are_one_clear_error(table, message):
    with pytest.raises(InputError, match=message):
        config.from_dict(config.Pipeline, table)


def test_a_missing_or_misfit_teacher_is_one_clear_error(tmp_path):
    five = SimpleNamespace(name="five", num_classes=5, input_shape=(28, 28, 1))
    with pytest.raises(InputError, match="teacher model not found: nowhere.onnx"):
        distill.OnnxTeachers(["nowhere.onnx"], five, tmp_path)
    constant_teacher(tmp_path / "t.onnx", 1)
    with pytest.raises(InputError, match="t.onnx takes 28x28x1 images to 10 outputs, the dataset five has 28x28x1 "
                                         "images of 5 classes"):
        distill.OnnxTeachers(["t.onnx"], five, tmp_path)  # named relative to the recipe's folder


def test_mirror_augmentation_flips_about_half_of_the_images_left_right():
    x = np.zeros((400, 28, 28, 1), np.float32)
    x[:, :, :5] = 1.0  # ink on the left only
    batches = train.Batches(x, np.zeros(400, np.int64), 50, Augment(flip=True), seed=0)
    left = batches.epoch_x[:, :, :5].sum(axis=(1, 2, 3)) > 0
    right = batches.epoch_x[:, :, -5:].sum(axis=(1, 2, 3)) > 0
    assert np.all(left != right) and 150 < right.sum() < 250
    assert x[:, :, -5:].sum() == 0  # the training images themselves are left alone
    plain = train.Batches(x, np.zeros(400, np.int64), 50, Augment(), seed=0)
    assert plain.epoch_x is x


def test_random_erasing_covers_part_of_about_the_asked_share_of_images_with_noise():
    x = np.ones((400, 28, 28, 1), np.float32)
    batches = train.Batches(x, np.zeros(400, np.int64), 50, Augment(erase=0.5), seed=0)
    changed = (batches.epoch_x != 1.0).reshape(400, -1)
    erased = changed.any(axis=1)
    assert 150 < erased.sum() < 250  # each image erased with probability 1/2
    share = changed[erased].mean(axis=1)
    assert share.max() < 0.45 and share.mean() > 0.05  # one rectangle of 2-40% of the image
    assert 0.0 <= batches.epoch_x.min() and batches.epoch_x.max() <= 1.0  # noise in the data's own range
    assert np.all(x == 1.0)  # the training images themselves are left alone
    batches.on_epoch_end()
    assert not np.array_equal(changed, (batches.epoch_x != 1.0).reshape(400, -1))  # new rectangles every epoch
