import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgedigits import runtime
from edgedigits.errors import InputError
from edgedigits.runtime.model import session as session_module

pytestmark = pytest.mark.runtime  # runs on the core install too (no training extra)


FORBIDDEN = ("edgedigits.training", "edgedigits.experiments", "tensorflow", "tf_keras", "tensorflow_model_optimization",
             "tf2onnx", "onnx", "sklearn")


def test_no_runtime_module_imports_the_training_half():
    """Read from the source of every module in edgedigits/runtime/: the layout's one rule, enforced."""
    for path in Path(runtime.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), f"{path.name} imports {name}"


def test_runtime_half_never_imports_tensorflow():
    code = ("import sys, edgedigits.runtime, edgedigits.runtime.reading.find, edgedigits.runtime.webcam, edgedigits.runtime.bench, edgedigits.cli; "
            "assert not {'tensorflow', 'tf_keras', 'keras'} & set(sys.modules), 'training stack imported'")
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


# --- the embedding API: Classifier on a real exported model ------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
# The shipped INT8 lenet (committed in exported/).
MODEL = ROOT / "exported/lenet.int8.onnx"


def test_classifier_reads_its_contract_from_metadata(mnist):
    model = runtime.Classifier(MODEL, threads=1)
    assert model.labels == [str(d) for d in range(10)]
    assert model.input_name == model.metadata["input_name"] and model.output_name == model.metadata["output_name"]
    assert model.normalization == runtime.NORMALIZATION
    assert model.providers == ["CPUExecutionProvider"]
    assert model.session.get_session_options().intra_op_num_threads == 1
    result = model.classify(mnist.x_test[:500])
    assert result.probabilities.shape == (500, 10) and result.probabilities.dtype == np.float32
    assert np.allclose(result.probabilities.sum(axis=1), 1.0, atol=0.05)
    assert np.mean(result.indices == mnist.y_test[:500]) > 0.97
    assert result.labels[:3] == [str(i) for i in result.indices[:3]]
    assert np.array_equal(result.confidences, result.probabilities.max(axis=1))


def test_one_image_float_images_and_batches_agree(mnist):
    model = runtime.Classifier(MODEL, threads=1)
    images = mnist.x_test[:7]
    whole = model.probabilities(images)
    assert model.probabilities(images[0]).shape == (1, 10)  # one [28,28] image
    assert np.allclose(model.probabilities(images[0]), whole[:1])
    assert np.allclose(model.probabilities(images, batch_size=3), whole)  # chunked path == one-run path
    assert np.allclose(model.probabilities(images.astype(np.float32) / 255), whole)
    assert model.probabilities(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)


@pytest.mark.parametrize("name", ["lenet.onnx", "lenet.int8.onnx"])
def test_batch_one_path_equals_a_bare_session_run(mnist, name):
    """The bound batch-1 path (pre-allocated input and output, reused) gives exactly what session.run gives."""
    model = runtime.Classifier(ROOT / "exported" / name, threads=1)
    session = runtime.open_session(ROOT / "exported" / name, 1)
    first = None
    for image in mnist.x_test[:20]:
        bare = session.run(None, {"input": (image.astype(np.float32) / np.float32(255))[None, ..., None]})[0]
        for got in (model.probabilities(image), model.probabilities(image[None]), model.classify(image).probabilities,
                    model.probabilities(image.astype(np.float32) / 255)):
            assert got.shape == (1, 10) and np.array_equal(got, bare)
        first = model.probabilities(image) if first is None else first
    # results are copies: the next call does not overwrite what an earlier call returned
    assert np.array_equal(first, session.run(None, {"input": runtime.normalize(mnist.x_test[0])})[0])


def test_classifier_shared_across_threads(mnist):
    from concurrent.futures import ThreadPoolExecutor

    model = runtime.Classifier(MODEL, threads=1)
    expected = [model.probabilities(image)[0] for image in mnist.x_test[:64]]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: model.probabilities(mnist.x_test[i])[0], [i % 64 for i in range(400)]))
    assert all(np.allclose(g, expected[i % 64], atol=0) for i, g in enumerate(got))


def test_unavailable_provider_and_bad_threads_are_refused():
    with pytest.raises(InputError, match="NoSuchExecutionProvider not available"):
        runtime.Classifier(MODEL, providers=["NoSuchExecutionProvider"])
    with pytest.raises(InputError, match="threads"):
        runtime.Classifier(MODEL, threads=-1)


def test_float_images_outside_0_1_are_refused():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        runtime.normalize(np.full((1, 28, 28), 255.0, np.float32))  # forgot to divide by 255
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        runtime.normalize(np.full((28, 28), np.nan, np.float32))


def _tiny_model(path, shape=("N", 28, 28, 1), elem=TensorProto.FLOAT, meta=None):
    """An ONNX model that flattens its input and softmaxes the first 10 values: enough to test the contract checks."""
    inp = helper.make_tensor_value_info("input", elem, list(shape))
    out = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])
    starts, ends, axes = (helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in
                          (("starts", 0), ("ends", 10), ("axes", 1)))
    nodes = [helper.make_node("Cast", ["input"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("Flatten", ["x"], ["flat"]),
             helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["ten"]),
             helper.make_node("Softmax", ["ten"], ["probabilities"])]
    graph = helper.make_graph(nodes, "tiny", [inp], [out], initializer=[starts, ends, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in (meta or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def test_tiny_model_with_a_good_contract_loads(tmp_path):
    model = runtime.Classifier(_tiny_model(tmp_path / "ok.onnx", meta={"labels": json.dumps(list("abcdefghij"))}))
    assert model.labels == list("abcdefghij") and model.classify(np.zeros((2, 28, 28), np.uint8)).labels[0] in "abcdefghij"


@pytest.mark.parametrize("kwargs, message", [
    ({"shape": ("N", 784)}, r"input must be an image batch \[N,H,W,C\]"),
    ({"elem": TensorProto.UINT8}, "input must be float32"),
    ({"meta": {"labels": '["a", "b"]'}}, "2 labels in metadata"),
    ({"meta": {"labels": "not json"}}, "labels must be a JSON list of class names"),
    ({"meta": {"labels": "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"}}, "labels must be a JSON list of class names"),
    ({"meta": {"labels": "null"}}, "labels must be a JSON list of class names"),
    ({"meta": {"input_name": "image"}}, "metadata input_name 'image' is not the graph's 'input'"),
])
def test_models_breaking_the_contract_are_refused(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        runtime.Classifier(_tiny_model(tmp_path / "bad.onnx", **kwargs))


def test_a_classifier_takes_any_image_size_but_the_digit_reader_only_28x28(tmp_path):
    model = runtime.Classifier(_tiny_model(tmp_path / "wide.onnx", shape=("N", 32, 32, 1)))
    assert model.input_shape == (32, 32, 1) and model.probabilities(np.zeros((3, 32, 32), np.uint8)).shape == (3, 10)
    with pytest.raises(InputError, match=r"expected images of shape \[N,32,32\], \[32,32\] or \[N,32,32,1\]"):
        model.probabilities(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(InputError, match="the digit reader needs a model of 28x28x1 digits, this one takes 32x32x1"):
        runtime.Reader(model)


@pytest.mark.parametrize("name", ["lenet.onnx", "lenet-fast.onnx"])
def test_bound_one_calls_the_native_binding_and_matches_session_run(mnist, name):
    """BoundOne runs through onnxruntime's C++ extension (a partial of its run_with_iobinding with one RunOptions),
    and a session whose extension objects are hidden takes the public call: both give exactly session.run's result."""
    session = runtime.open_session(ROOT / "exported" / name, 1)
    native = session_module.BoundOne(session)
    assert native.run.func == session._sess.run_with_iobinding and len(native.run.args) == 2

    class Public:  # the public API only, as another onnxruntime build might offer
        def __init__(self, s):
            self.get_inputs, self.get_outputs = s.get_inputs, s.get_outputs
            self.io_binding, self.run_with_iobinding = s.io_binding, s.run_with_iobinding

    public = session_module.BoundOne(Public(session))
    assert public.run.func == session.run_with_iobinding
    for image in mnist.x_test[:10]:
        x = runtime.normalize(image)
        expected = session.run(None, {"input": x})[0]
        for one in (native, public):
            one.x[...] = x
            one.run()
            assert np.array_equal(one.y, expected)


def test_bound_one_refuses_a_graph_it_cannot_bind(tmp_path):
    path = tmp_path / "dynamic.onnx"
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["out"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 28, 28, 1])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", "K"])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    session = runtime.open_session(path, 1)
    assert not session_module.BoundOne.fits(session)
    with pytest.raises(InputError, match="batch-1 binding"):
        session_module.BoundOne(session)
