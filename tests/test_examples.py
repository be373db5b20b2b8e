"""The apps in examples/ run as a user would run them, with the shipped model, and without TensorFlow."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgedigits.synth import scenes

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
    read = [line.split(": ", 1)[1].replace(" ", "").replace("?", "") for line in lines]  # lines joined by a space
    assert sum(r == t for r, t in zip(read, texts)) >= 2 and all(len(r) == 4 for r in read)


def test_runtime_api_app_prints_what_predict_prints(tmp_path):
    photo = ROOT / "examples" / "digits.jpg"
    cli = subprocess.run([sys.executable, "-m", "edgedigits", "predict", "--model", str(MODEL), str(photo)],
                         capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 0, cli.stderr
    assert run_example("read_digits.py", MODEL, photo) == cli.stdout
    assert " " in cli.stdout.split(": ", 1)[1]  # two lines of digits, separated by a space as the CLI does


def test_runtime_api_app_answers_no_arguments_with_its_usage():
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "read_digits.py")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("usage: ") and "Traceback" not in done.stderr


def digit_images(mnist, tmp_path, n=12) -> list[Path]:
    """MNIST test digits as 28x28 PGM files, half of them blends of two digits so probabilities are not all 1.00."""
    paths = []
    for i in range(n):
        image = mnist.x_test[i] if i % 2 == 0 else (mnist.x_test[i] // 2 + mnist.x_test[i + 20] // 2)
        paths.append(tmp_path / f"digit{i}.pgm")
        cv2.imwrite(str(paths[-1]), image.astype(np.uint8))
    return paths


def python_answers(model, paths) -> str:
    out = run_example("embed_onnxruntime.py", model, *paths)
    assert len(out.splitlines()) == len(paths) and len({line.rsplit("(", 1)[1] for line in out.splitlines()}) > 1
    return out


def assert_same_answers(got: str, expected: str):
    """Same lines 'PATH: DIGIT (P)': path and digit exactly; P to its last printed digit, because the other app may
    link another onnxruntime release whose kernels round differently in the last bits."""
    parse = lambda text: [(line.rsplit(" (", 1)[0], float(line.rsplit("(", 1)[1].rstrip(")"))) for line in text.splitlines()]
    assert [a for a, _ in parse(got)] == [a for a, _ in parse(expected)]
    assert all(abs(p - q) <= 0.0100001 for (_, p), (_, q) in zip(parse(got), parse(expected)))


def test_node_app_agrees_with_python(mnist, tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip(f"node example not run: {'node' if not node else 'npm'} not found")
    # installed once into build/ (not committed); the install script only fetches optional GPU binaries: skipped
    app = ROOT / "build" / "examples-node"
    app.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "read_digit.js"):
        shutil.copy(ROOT / "examples" / "node" / name, app / name)
    if not (app / "node_modules" / "onnxruntime-node").is_dir():
        done = subprocess.run([npm, "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=app,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"node example not run: npm install failed: {done.stderr.strip().splitlines()[-1:]}")
    paths = digit_images(mnist, tmp_path)
    for model in (MODEL, ROOT / "exported" / "lenet.onnx"):
        done = subprocess.run([node, str(app / "read_digit.js"), str(model), *map(str, paths)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert_same_answers(done.stdout, python_answers(model, paths))
    done = subprocess.run([node, str(app / "read_digit.js")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("usage: ")


def onnxruntime_for_cpp() -> tuple[Path, Path] | str:
    """(include dir, library) for the C++ example, or why there are none where that is no fault of the project.
    Headers: an onnxruntime release archive in ONNXRUNTIME_ROOT, else Debian's libonnxruntime-dev unpacked into build/
    by `make onnxruntime-headers` (run here if needed: wherever apt-get is, a failed fetch fails the test). Library: the
    archive's, else the onnxruntime wheel this Python uses."""
    import onnxruntime
    root = os.environ.get("ONNXRUNTIME_ROOT")
    if root:
        headers = [p.parent for p in Path(root).glob("include/**/onnxruntime_cxx_api.h")]
        assert headers, f"ONNXRUNTIME_ROOT={root} has no include/**/onnxruntime_cxx_api.h"
        include = headers[0]
    else:
        include = ROOT / "build/onnxruntime-dev/usr/include/onnxruntime"
        if not (include / "onnxruntime_cxx_api.h").is_file():
            if not shutil.which("apt-get") or not shutil.which("make"):
                return "no onnxruntime headers: neither ONNXRUNTIME_ROOT nor apt-get to fetch Debian's"
            done = subprocess.run(["make", "-s", "-C", str(ROOT), "onnxruntime-headers"], capture_output=True,
                                  text=True, timeout=600)
            assert done.returncode == 0 and (include / "onnxruntime_cxx_api.h").is_file(), done.stdout + done.stderr
    libraries = (sorted(Path(root).glob("lib/libonnxruntime.so*")) if root else []) or sorted(
        (Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))
    assert libraries, "no libonnxruntime.so in the onnxruntime wheel"
    return include, libraries[0]


# Two MNIST models in both forms and a Fashion-MNIST one, whose labels ("T-shirt/top", "Ankle boot") have slashes
# and spaces.
CPP_MODELS = ["lenet.int8.onnx", "lenet.onnx", "gapnet-2k.int8.onnx", "fashion-gapnet.int8.onnx"]


def test_cpp_app_agrees_with_python(mnist, tmp_path):
    missing = [tool for tool in ("cmake", "c++") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"C++ example not built: {', '.join(missing)} not found (`make system` installs them)")
    found = onnxruntime_for_cpp()
    if isinstance(found, str):
        pytest.skip(f"C++ example not built: {found}")
    include, library = found
    build = tmp_path / "build"  # the wheel names its library libonnxruntime.so.1.VERSION: CMake links the SONAME here
    for cmd in (["cmake", "-S", str(ROOT / "examples" / "cpp"), "-B", str(build), f"-DONNXRUNTIME_INCLUDE_DIR={include}",
                 f"-DONNXRUNTIME_LIBRARY={library}"], ["cmake", "--build", str(build)]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    paths = digit_images(mnist, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}  # found through the program's own RUNPATH
    for model in CPP_MODELS:
        done = subprocess.run([str(build / "read_digit"), str(ROOT / "exported" / model), *map(str, paths)],
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        expected = python_answers(ROOT / "exported" / model, paths)
        if os.environ.get("ONNXRUNTIME_ROOT"):
            assert_same_answers(done.stdout, expected)
        else:  # the same onnxruntime library as Python's: the same lines, byte for byte
            assert done.stdout == expected
    done = subprocess.run([str(build / "read_digit")], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stderr.startswith("usage: ")
    done = subprocess.run([str(build / "read_digit"), str(MODEL), str(ROOT / "examples" / "digits.jpg")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "expected a 28x28 8-bit binary PGM" in done.stderr
