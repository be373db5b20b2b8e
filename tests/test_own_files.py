"""Your own data in files, read by the runtime alone: labelled CSVs (Kaggle's layout), image folders (one subfolder
per class), Keras .npz files; the held-out test split; every kind of bad data as one line and exit 2; and a batch
of images classified, from a CSV of pixels or a folder, by a model of any input shape."""

import csv
import json

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgedigits import runtime
from edgedigits.errors import InputError
from edgedigits.runtime import datasets
from edgedigits.runtime.datasets import files

pytestmark = pytest.mark.runtime


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def pixel_csv(path, labels, side=4, channels=1, seed=0, label="Label", ids=False):
    """A CSV of random images of side x side x channels, one row each: [id,] label, pixels (row-major, channels
    last); returns the path and the images."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (len(labels), side, side, channels), dtype=np.uint8)
    header = ([] if not ids else ["Id"]) + [label] + [f"pixel{i}" for i in range(side * side * channels)]
    rows = [([f"r{i}"] if ids else []) + [lab, *img.ravel().tolist()] for i, (lab, img) in enumerate(zip(labels, x))]
    return write_csv(path, header, rows), x


def test_a_labelled_csv_with_class_names_gets_a_stratified_held_out_test_split(tmp_path):
    labels = ["cat", "dog", "bird"] * 20
    path, x = pixel_csv(tmp_path / "train.csv", labels, side=4)
    ds = datasets.load(datasets.FileSource(path=str(path), label="label"))  # the column matches in any case
    assert ds.labels == ("bird", "cat", "dog") and ds.input_shape == (4, 4, 1) and ds.x_train.shape[1:] == (4, 4)
    assert len(ds.y_test) == 6 and np.bincount(ds.y_test).tolist() == [2, 2, 2]  # a tenth of each class
    assert len(ds.y_train) == 54 and ds.name == files.default_name(path, "csv") == tmp_path.name[:60]  # train.csv
    assert "held out of train.csv" in ds.test_split and ds.origin == "user-supplied csv train.csv"
    again = datasets.load(datasets.FileSource(path=str(path)))
    assert again.sha256 == ds.sha256 and np.array_equal(again.x_test, ds.x_test)  # the same split every time
    every = {img.tobytes(): lab for img, lab in zip(x[..., 0], labels)}  # pixels and labels stay together
    for images, ys in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert all(every[img.tobytes()] == ds.labels[y] for img, y in zip(images, ys))


def test_integer_labels_index_the_classes_given_and_rgb_rows_are_channels_last(tmp_path):
    path, x = pixel_csv(tmp_path / "rgb.csv", [0, 1, 2, 1] * 6, side=32, channels=3)  # 3,072 pixel columns
    test, x_test = pixel_csv(tmp_path / "rgb-test.csv", ["b", 2, "a"], side=32, channels=3, seed=1)
    ds = datasets.load(datasets.FileSource(path=str(path), test=str(test), classes=["a", "b", "c"], name="rgb"))
    assert ds.input_shape == (32, 32, 3) and np.array_equal(ds.x_train, x) and ds.y_train[:4].tolist() == [0, 1, 2, 1]
    assert ds.test_split == "" and ds.y_test.tolist() == [1, 2, 0] and np.array_equal(ds.x_test, x_test)
    assert ds.labels == ("a", "b", "c") and ds.name == "rgb"


def test_an_image_folder_of_mixed_sizes_is_resized_and_its_classes_are_its_folders(tmp_path):
    rng = np.random.default_rng(3)
    for name, colour in (("red", (0, 0, 255)), ("green", (0, 255, 0))):  # OpenCV writes BGR
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(5):
            image = np.full((int(rng.integers(8, 40)), int(rng.integers(8, 40)), 3), colour, np.uint8)
            cv2.imwrite(str(tmp_path / "photos" / name / f"{i}.{'png' if i % 2 else 'jpg'}"), image)
    (tmp_path / "photos" / "red" / "notes.txt").write_text("not an image")  # skipped, as Keras skips it
    (tmp_path / "photos" / ".cache").mkdir()  # hidden: not a class
    ds = datasets.load(datasets.FileSource(path=str(tmp_path / "photos"), shape=[16, 12, 3]))
    assert ds.labels == ("green", "red") and ds.input_shape == (16, 12, 3) and len(ds.y_test) == 2
    pixels = np.concatenate([ds.x_train, ds.x_test]).reshape(-1, 3)
    assert set(map(tuple, pixels.tolist())) <= {(255, 0, 0), (0, 255, 0), (254, 0, 0), (0, 255, 1), (0, 254, 0),
                                                 (1, 255, 0)}  # RGB order; JPEG may move a value by one


def test_an_npz_in_keras_layout(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (40, 10, 10, 1), dtype=np.uint8), "y_train": (np.arange(40) % 4)[:, None],
              "x_test": rng.integers(0, 256, (8, 10, 10, 1), dtype=np.uint8), "y_test": np.arange(8) % 4}
    np.savez(tmp_path / "mine.npz", **arrays)
    ds = datasets.load(str(tmp_path / "mine.npz"))
    assert ds.labels == ("0", "1", "2", "3") and ds.input_shape == (10, 10, 1) and ds.test_split == ""
    assert np.array_equal(ds.x_test, arrays["x_test"][..., 0]) and ds.y_train.tolist() == (np.arange(40) % 4).tolist()
    resized = datasets.load(datasets.FileSource(path=str(tmp_path / "mine.npz"), shape=[20, 20, 3]))
    assert resized.input_shape == (20, 20, 3)


def edit(path, line: int, change) -> None:
    """Change the cells of one line (0 = the header) of a CSV file."""
    lines = path.read_text().splitlines()
    lines[line] = ",".join(change(lines[line].split(",")))
    path.write_text("\n".join(lines) + "\n")


def bad_data(tmp_path) -> dict:
    """Each kind of bad data, as a dataset path (and its CSV label column), with words its one line must hold."""
    cases = {}
    path, _ = pixel_csv(tmp_path / "ragged.csv", [0, 1] * 5)
    edit(path, 4, lambda cells: cells[:-1])
    cases["ragged"] = (path, "line 5: 16 values, but the header names 17 columns")
    path, _ = pixel_csv(tmp_path / "text.csv", [0, 1] * 5)
    edit(path, 3, lambda cells: [*cells[:5], "dark", *cells[6:]])
    cases["non-numeric"] = (path, "line 4: pixel pixel4 is 'dark', not a number")
    path, _ = pixel_csv(tmp_path / "range.csv", [0, 1] * 5)
    edit(path, 1, lambda cells: [cells[0], "300", *cells[2:]])
    cases["out of range"] = (path, "line 2: pixel pixel0 is 300, expected an integer 0..255")
    path, _ = pixel_csv(tmp_path / "unknown.csv", ["0", "1", "cat"] * 4)
    cases["unknown label"] = ({"path": path, "classes": ["0", "1"]}, "unknown label 'cat' (line 4")
    path, _ = pixel_csv(tmp_path / "few.csv", [0] * 20 + [1] * 2)
    cases["too few to split"] = (path, "class '1' has 2 images, too few to split")
    path, _ = pixel_csv(tmp_path / "nolabel.csv", [0, 1] * 5, label="Target")
    cases["no label column"] = (path, "no label column 'label' (columns: Target, pixel0")
    folder = tmp_path / "folders"
    for name in ("a", "b", "empty"):
        (folder / name).mkdir(parents=True)
    for name in ("a", "b"):
        for i in range(4):
            cv2.imwrite(str(folder / name / f"{i}.png"), np.full((8, 8), 40 * i, np.uint8))
    cases["empty class folder"] = (folder, "empty: empty class folder")
    folder = tmp_path / "broken"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(str(folder / name / f"{i}.png"), np.full((8, 8), 40 * i, np.uint8))
    (folder / "b" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    cases["unreadable image"] = (folder, "2.png as an image")
    folder = tmp_path / "sizes"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(str(folder / name / f"{i}.png"), np.full((8, 8 + (name == "b" and i == 3)), 9, np.uint8))
    cases["mixed sizes"] = (folder, "images of different sizes (8x8")
    return cases


BAD = ["ragged", "non-numeric", "out of range", "unknown label", "too few to split", "no label column",
       "empty class folder", "unreadable image", "mixed sizes"]


def bad_recipe(tmp_path, case: str):
    """A recipe whose [dataset] is bad data of kind `case`, and the words its one line of error must hold."""
    source, words = bad_data(tmp_path)[case]
    source = source if isinstance(source, dict) else {"path": source}
    table = "\n".join(f"{key} = {json.dumps(str(v) if key == 'path' else v)}" for key, v in source.items())
    recipe = tmp_path / "bad.toml"
    recipe.write_text(f'model = "mlp"\nvalidation = 0.1\n[dataset]\n{table}\n')
    return recipe, source, words


@pytest.mark.parametrize("case", BAD)
def test_bad_data_is_one_line_and_exit_2(tmp_path, run_cli, case):
    recipe, source, words = bad_recipe(tmp_path, case)
    with pytest.raises(InputError) as info:
        datasets.load(datasets.FileSource(**{**source, "path": str(source["path"])}))
    assert words in str(info.value) and "\n" not in str(info.value)
    code, out, err = run_cli("data", "check", str(recipe))
    assert code == 2 and out == "" and err.startswith("edgedigits: ") and err.count("\n") == 1 and words in err


def test_a_check_of_good_data_says_what_it_holds(tmp_path, run_cli):
    path, _ = pixel_csv(tmp_path / "train.csv", ["x", "y"] * 10, ids=True)
    code, out, _ = run_cli("data", "check", str(path))
    assert code == 0 and "18 train / 2 test images of 4x4x1, 2 classes" in out and "x 9, y 9" in out


def test_names_that_are_not_datasets(tmp_path):
    with pytest.raises(InputError, match="unknown dataset 'fashion_mnist' .*built in: fashion-mnist, mnist"):
        datasets.load("fashion_mnist")
    with pytest.raises(InputError, match="dataset not found"):
        datasets.load(str(tmp_path / "nothing.csv"))
    with pytest.raises(InputError, match="not a built-in dataset's name"):
        files.FileSource(path="x.csv", name="mnist")
    assert files.default_name(tmp_path / "mnist.csv", "csv") == "mnist-csv"  # never taken for the built-in one
    assert files.default_name(tmp_path / "kaggle" / "train.csv", "csv") == "kaggle"


# --- a model of any input shape ---------------------------------------------------------------------------------


def colour_model(path, side=6, labels=("red", "green", "blue"), extra=None):
    """An RGB classifier: probabilities = softmax(mean of each channel * 50), so a red image is "red"."""
    weights = np.zeros((side * side * 3, 3), np.float32)
    for c in range(3):
        weights[c::3, c] = 50.0 / (side * side)
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["z"]),
         helper.make_node("Softmax", ["z"], ["probabilities"], axis=-1)],
        "colours", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", side, side, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array([-1, side * side * 3]), "shape")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in {"labels": json.dumps(list(labels)), "dataset": "colours", **(extra or {})}.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def colours(n, side=6, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.integers(0, 60, (n, side, side, 3), dtype=np.uint8)
    x[np.arange(n), :, :, y] = 200
    return x, y


def test_a_classifier_of_rgb_images_runs_one_image_and_batches_alike(tmp_path):
    model = runtime.Classifier(colour_model(tmp_path / "c.onnx"))
    x, y = colours(9)
    assert model.input_shape == (6, 6, 3) and model.classify(x).labels == [["red", "green", "blue"][i] for i in y]
    one = model.probabilities(x[4])  # one [H,W,3] image: the batch-1 path
    assert np.allclose(one, model.probabilities(x)[4:5], atol=1e-6)
    with pytest.raises(InputError, match=r"expected images of shape \[N,6,6,3\] or \[6,6,3\], got \[9, 6, 6\]"):
        model.probabilities(x[..., 0])
    with pytest.raises(InputError, match="the digit reader needs a model of 28x28x1 digits, this one takes 6x6x3"):
        runtime.Reader(model)


def test_classify_writes_one_row_per_csv_row_or_image(tmp_path, run_cli):
    model = colour_model(tmp_path / "c.onnx")
    x, y = colours(12)
    write_csv(tmp_path / "testX.csv", ["id", *[f"p{i}" for i in range(108)]],
              [[f"img{i}", *img.ravel().tolist()] for i, img in enumerate(x)])
    code, _, err = run_cli("classify", str(model), str(tmp_path / "testX.csv"), "--out", str(tmp_path / "p.csv"))
    rows = list(csv.reader(open(tmp_path / "p.csv")))
    assert code == 0 and rows[0] == ["image", "class", "probability"] and len(rows) == 13
    assert [r[0] for r in rows[1:]] == [f"img{i}" for i in range(12)]
    assert [r[1] for r in rows[1:]] == [["red", "green", "blue"][i] for i in y]
    assert all(0.5 < float(r[2]) <= 1 for r in rows[1:]) and "classified 12 images" in err
    labelled = ["blue", "red", "green"] + [["red", "green", "blue"][i] for i in y[3:]]  # 9 of 12 right
    write_csv(tmp_path / "labelled.csv", ["Label", *[f"p{i}" for i in range(108)]],
              [[lab, *img.ravel().tolist()] for lab, img in zip(labelled, x)])
    code, out, err = run_cli("classify", str(model), str(tmp_path / "labelled.csv"))
    assert code == 0 and out.count("\n") == 13 and "accuracy 75.00% against column 'label'" in err
    for i, img in enumerate(x[:4]):  # a folder: each image resized to the model's 6x6
        (tmp_path / "shots" / "sub").mkdir(parents=True, exist_ok=True)
        big = cv2.resize(img, (20 + i, 18), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(tmp_path / "shots" / ("sub" if i % 2 else "") / f"s{i}.png"), big[..., ::-1])  # BGR
    code, out, _ = run_cli("classify", str(model), str(tmp_path / "shots"))
    got = dict(line.split(",")[:2] for line in out.splitlines()[1:])
    assert code == 0 and got == {"s0.png": "red", "sub/s1.png": "green", "s2.png": "blue", "sub/s3.png": "red"}


def test_classify_refuses_rows_that_do_not_fit_the_model(tmp_path, run_cli):
    model = colour_model(tmp_path / "c.onnx")
    write_csv(tmp_path / "small.csv", [f"p{i}" for i in range(16)], [[0] * 16])
    code, out, err = run_cli("classify", str(model), str(tmp_path / "small.csv"), "--out", str(tmp_path / "p.csv"))
    assert code == 2 and err.count("\n") == 1 and "16 pixel columns, but dataset.shape [6, 6, 3] has 108" in err
    assert not (tmp_path / "p.csv").exists()


def test_bench_scores_a_model_on_the_dataset_in_files_it_names(tmp_path, run_cli, monkeypatch):
    x, y = colours(60, seed=2)
    names = ["red", "green", "blue"]
    write_csv(tmp_path / "colours.csv", ["label", *[f"p{i}" for i in range(108)]],
              [[names[c], *img.ravel().tolist()] for c, img in zip(y, x)])
    files_meta = json.dumps({"path": "colours.csv", "test": "", "label": "label", "test_fraction": 0.1})
    model = colour_model(tmp_path / "colours.onnx", extra={"dataset_files": files_meta})
    monkeypatch.chdir(tmp_path)  # the metadata's path is relative to where the model was made
    args = ["bench", str(model), "--runs", "5", "--warmup", "1", "--seconds", "0", "--target", "ort-cpu", "--out-dir",
            str(tmp_path / "out")]
    code, out, _ = run_cli(*args)
    row = json.loads((tmp_path / "out" / "bench.json").read_text())["rows"][0]
    assert code == 0 and row["dataset"] == "colours" and row["accuracy"] == 100.0  # its 6 held-out images
    flipped = [[names[(c + 1) % 3], *img.ravel().tolist()] for c, img in zip(y, x)]  # every label wrong
    write_csv(tmp_path / "other.csv", ["label", *[f"p{i}" for i in range(108)]], flipped)
    code, _, _ = run_cli(*args, "--dataset", "other.csv")
    assert code == 0 and json.loads((tmp_path / "out" / "bench.json").read_text())["rows"][0]["accuracy"] == 0.0
    (tmp_path / "colours.csv").unlink()
    code, _, err = run_cli(*args)
    assert code == 2 and "was scored on colours read from colours.csv: dataset not found" in err
