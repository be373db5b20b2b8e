import subprocess
import sys

import numpy as np
import pytest

from edgedigits import runtime
from edgedigits.errors import InputError


def test_runtime_half_never_imports_tensorflow():
    code = "import sys, edgedigits.runtime, edgedigits.cli; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("shape", [(28, 28), (3, 28, 28), (3, 28, 28, 1)])
def test_normalize_accepts_one_or_many(shape):
    x = runtime.normalize(np.full(shape, 255, np.uint8))
    assert x.dtype == np.float32 and x.shape[1:] == (28, 28, 1) and x.max() == 1.0


@pytest.mark.parametrize("bad", [np.zeros((2, 32, 32), np.uint8), np.zeros((28,), np.uint8), np.zeros((1, 28, 28), np.complex64)])
def test_normalize_refuses_wrong_shape_or_dtype(bad):
    with pytest.raises(InputError):
        runtime.normalize(bad)


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match="cannot load .* as an ONNX model"):
        runtime.Classifier(bad)
    with pytest.raises(InputError, match="model not found"):
        runtime.Classifier(tmp_path / "missing.onnx")
