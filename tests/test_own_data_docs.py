"""docs/own-data.md's worked example, run as a user runs it: its shell commands in a fresh folder (Kaggle-style CSV
files of 5 Fashion-MNIST classes, a CNN in the user's own file, train-prune-export, classify on the unlabelled
file, bench on the model's own held-out test set), and the files it shows equal to those in examples/own-data."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from edgedigits.training import pins

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "own-data.md"
EXAMPLE = ROOT / "examples" / "own-data"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


def test_the_page_shows_the_example_files_as_they_are():
    code = (EXAMPLE / "cnn.py").read_text()
    assert blocks("python")[0] in code  # the builder, without the file's docstring
    recipe = (EXAMPLE / "fashion5.toml").read_text()
    assert blocks("toml")[0] == "".join(line + "\n" for line in recipe.splitlines() if not line.startswith("#"))


@pytest.fixture(scope="module")
def worked(tmp_path_factory):
    """The page's first shell block, line by line, in a fresh folder; each command's output."""
    folder = tmp_path_factory.mktemp("user")
    bin_dir = str(Path(sys.executable).parent)  # this environment's python and edgedigits
    # a fresh shell: not the training pins (ONEDNN_MAX_CPU_ISA, ...) that tests training in this process have set
    env = {**{k: v for k, v in os.environ.items() if k not in pins.VARIABLES},
           "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    cwd, outputs = folder, []
    for line in blocks("sh")[0].splitlines():
        command = line.split("#")[0].strip().replace("examples/own-data", str(EXAMPLE))
        for part in command.split(" && "):
            if part.startswith("cd "):
                cwd = cwd / part[3:]
                continue
            done = subprocess.run(part, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"{part}: {done.stderr[-2000:]}"
            outputs.append(done)
    return cwd, outputs


def test_the_worked_example_ships_models_that_name_the_users_classes(worked):
    cwd, outputs = worked
    assert "fashion5: 4,500 train / 500 test images of 28x28x1, 5 classes" in outputs[2].stdout
    manifest = json.loads((cwd / "exported/fashion5.json").read_text())
    assert manifest["labels"] == CLASSES and manifest["model"] == "cnn.py:build" and manifest["test_images"] == 500
    assert "held out of train.csv" in manifest["test_split"] and manifest["dataset"] == "fashion5"
    for name in ("fashion5.onnx", "fashion5.int8.onnx"):
        meta = {p.key: p.value for p in onnx.load(str(cwd / "exported" / name)).metadata_props}
        assert json.loads(meta["labels"]) == CLASSES and json.loads(meta["dataset_files"])["path"] == "train.csv"
    assert manifest["stages"]["int8"]["test_accuracy"] > 80  # 5 classes: chance is 20%
    stages = manifest["stages"]
    assert stages["pruned"]["nonzero_parameters"] < 0.35 * stages["fp32"]["parameters"]


def test_classify_labels_every_row_of_the_unlabelled_file(worked):
    cwd, _ = worked
    rows = list(csv.reader(open(cwd / "predictions.csv")))
    assert rows[0] == ["image", "class", "probability"] and len(rows) == 1 + 833
    assert {r[1] for r in rows[1:]} <= set(CLASSES) and len({r[1] for r in rows[1:]}) == 5
    assert [r[0] for r in rows[1:4]] == ["2", "3", "4"]  # no id column: the line numbers


def test_bench_scores_the_model_on_its_own_held_out_test_set(worked):
    cwd, outputs = worked
    manifest = json.loads((cwd / "exported/fashion5.json").read_text())
    row = next(line for line in outputs[-1].stdout.splitlines() if line.startswith("fashion5 "))
    assert f"{manifest['stages']['int8']['test_accuracy']:.2f}" in row.split()
