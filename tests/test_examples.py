"""The apps in examples/ run as a user would run them, with the shipped model, and without TensorFlow."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgedigits.runtime import scenes

pytestmark = pytest.mark.runtime  # runs on the core install too (no training extra)

ROOT = Path(__file__).resolve().parent.parent
# The shipped INT8 lenet (committed in exported/).
MODEL = ROOT / "exported/lenet.int8.onnx"


def run_example(name, *args) -> str:
    """Run examples/NAME as __main__ in a fresh interpreter; fail if it imported TensorFlow."""
    code = ("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__'); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "examples" / name), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_onnxruntime_only_app_classifies_mnist_test_digits(mnist, tmp_path):
    paths = []
    for i in range(10):
        paths.append(tmp_path / f"digit{i}.png")
        cv2.imwrite(str(paths[-1]), mnist.x_test[i])
    lines = run_example("embed_onnxruntime.py", MODEL, *paths).splitlines()
    assert len(lines) == 10
    got = [line.split(": ")[1].split(" ")[0] for line in lines]
    assert got == [str(label) for label in mnist.y_test[:10]]
    assert all(0.0 <= float(line.rsplit("(", 1)[1].rstrip(")")) <= 1.0 for line in lines)


def test_runtime_api_app_reads_the_digits_of_a_photo(mnist, tmp_path):
    rng = np.random.default_rng(12)
    paths, texts = [], []
    for i in range(3):
        scene = scenes.render(mnist.x_test, mnist.y_test, rng, digits=4)
        paths.append(tmp_path / f"photo{i}.png")
        cv2.imwrite(str(paths[-1]), scene.frame)
        texts.append(scene.text)
    lines = run_example("read_digits.py", MODEL, *paths).splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(p) for p in paths]
    read = [line.split(": ")[1].split()[0] for line in lines]
    assert sum(r == t for r, t in zip(read, texts)) >= 2 and all(len(r) == 4 for r in read)
