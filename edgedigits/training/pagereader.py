"""`edgedigits train-page-reader`: the number finder and the strip reader, trained on synthetic pages, checked,
quantized and shipped together as exported/page-reader/.

Steps: render finder tiles (pages drawn with MNIST training digits and the training fonts; validation tiles from the
held-out validation split and the validation fonts), train the finder, export it; render strips along the true
centre lines and along the lines this finder finds, train the strip reader, export it; quantize both to INT8 and keep
each INT8 file only within its gate; read held-out validation pages end to end; ship the four files and a manifest.
Everything is cached per setting under runs/page-reader, so a second run re-renders nothing.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from edgedigits.runtime.reading import page as runtime_page
from edgedigits.runtime.reading import strips
from edgedigits.synth import glyphs, sets
from edgedigits.training import finderdata, stripdata

log = logging.getLogger(__name__)
NAME = runtime_page.SET
FILES = {"finder": {"fp32": f"{NAME}.finder.onnx", "int8": runtime_page.FINDER_INT8},  # NAME.*: one shipped set
         "reader": {"fp32": f"{NAME}.reader.onnx", "int8": runtime_page.READER_INT8}}
VAL_SEED = 7  # validation pages are drawn from this seed (and the next for strips along found lines)
MAX_INT8_DROP = 0.5  # points of validation strips read exactly right (reader) / of pages read right (finder)
VALIDATION_SETS = {"photos": 60, "pages": 40, "cheque": 200, "register": 200, "digits": 300, "usps": 300}


def cached(path: Path, make) -> dict:
    """The arrays stored at `path`, or `make()`'s, stored there first (atomically)."""
    from edgedigits.runtime.model.artifacts import atomic_path

    if path.is_file():
        try:
            with np.load(path) as stored:
                log.info(f"using {path}")
                return dict(stored)
        except (OSError, ValueError, EOFError):
            log.info(f"re-rendering: {path} does not read back")
    arrays = make()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, 0) if not arrays else np.savez(f, **arrays)
    return arrays


def render_tiles(split: dict, tiles: int, val_tiles: int, seed: int, workers: int, cache: Path) -> dict:
    def make():
        began = time.time()
        x, y = finderdata.make(split["x_tr"], split["y_tr"], glyphs.TRAIN_FONTS, tiles, seed, workers)
        xv, yv = finderdata.make(split["x_val"], split["y_val"], glyphs.VALIDATION_FONTS, val_tiles, VAL_SEED,
                                 workers)
        log.info(f"rendered {tiles:,} + {val_tiles:,} finder tiles ({time.time() - began:.0f} s)")
        return {"x": x, "y": y, "x_val": xv, "y_val": yv}
    return cached(cache, make)


def render_strips(split: dict, count: int, val_count: int, seed: int, val_seed: int, workers: int,
                  finder_path: Path | None, cache: Path) -> dict:
    """Strips along the true lines (jittered) and, with `finder_path`, along the lines that finder finds."""
    def make():
        began = time.time()
        d = stripdata.make(split["x_tr"], split["y_tr"], glyphs.TRAIN_FONTS, count, seed, workers, finder_path)
        v = stripdata.make(split["x_val"], split["y_val"], glyphs.VALIDATION_FONTS, val_count, val_seed, workers,
                           finder_path)
        log.info(f"rendered {count:,} + {val_count:,} strips ({time.time() - began:.0f} s)")
        return {**d, **{f"val_{k}": a for k, a in v.items()}}
    return cached(cache, make)


def quantize(fp32_path: Path, int8_path: Path, feeds: list[dict]) -> None:
    """Static INT8 (QDQ, per-channel, reduce-range: reads the same on AVX2 and AVX-512 VNNI kernels), calibrated on
    `feeds` (training inputs) by onnxruntime.quantization."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Feeds(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    prepared = int8_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(int8_path), Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                    reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    prepared.unlink()


def end_to_end(reader, source: glyphs.Glyphs, seed: int, scale: float = 1.0) -> dict[str, float]:
    """Per validation set, the share of images whose digits are read exactly (spaces aside), by a webcam.Reader."""
    from edgedigits.runtime import webcam

    out = {}
    for k, (name, count) in enumerate(VALIDATION_SETS.items()):
        items = sets.make_set(name, source, max(1, round(count * scale)), seed + k)
        right = [webcam.as_text(reader.read(im), mark_uncertain=False).replace(" ", "") == t for im, t in items]
        out[name] = round(100.0 * float(np.mean(right)), 2)
    return out


def strip_feeds(d: dict, count: int, seed: int) -> list[dict]:
    pick = np.random.default_rng(seed).permutation(len(d["images"]))[:count]
    out = []
    for i in range(0, len(pick), 32):
        idx = pick[i : i + 32]
        x, _ = strips.batch([strips.normalize(d["images"][j, :, : d["widths"][j]]) for j in idx])
        out.append({"image": x})
    return out


def manifest_json(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2) + "\n").encode()


def band_iou(maps_of, x: np.ndarray, y: np.ndarray, batch: int = 32) -> float:
    """Intersection over union (%) of the band the finder marks (probability >= the runtime's threshold) and the
    true band, over the weighted cells of the tiles; `maps_of` maps a float32 [N, H, W, 1] batch to its maps."""
    from edgedigits.runtime.reading import finder

    inter = union = 0.0
    for i in range(0, len(x), batch):
        maps = maps_of(x[i : i + batch, ..., None].astype(np.float32) / np.float32(255.0))
        target = y[i : i + batch].astype(np.float32)
        found, true, weight = maps[..., 0] >= finder.THRESHOLD, target[..., 0] > 0.5, target[..., 2] > 0
        inter += float((found & true & weight).sum())
        union += float(((found | true) & weight).sum())
    return 100.0 * inter / max(union, 1.0)


def split_data(data_dir, seed: int) -> dict:
    from edgedigits.runtime import datasets as data

    ds = data.load("mnist", data_dir)
    x_tr, y_tr, x_val, y_val = data.split_validation(ds.x_train, ds.y_train, 5000, seed)
    return {"x_tr": x_tr, "y_tr": y_tr, "x_val": x_val, "y_val": y_val, "x_test": ds.x_test, "y_test": ds.y_test}


def run(out_dir="exported/page-reader", runs_dir="runs", tiles: int = 6000, strips_count: int = 48000,
        finder_epochs: int = 8, reader_epochs: int = 10, tune_epochs: int = 4, seed: int = 42, workers: int = 0,
        data_dir=None) -> dict:
    """Train, check, quantize and ship the number finder and the strip reader (module docstring). Returns the
    manifest."""
    import onnx

    from edgedigits.errors import GateError
    from edgedigits.runtime import Classifier, default_model, webcam
    from edgedigits.runtime.bench import timing
    from edgedigits.runtime.model.artifacts import ensure_writable_dir, file_stats, private_tempdir, replace_set
    from edgedigits.runtime.reading import finder as runtime_finder
    from edgedigits.training import finder, graphstats, stripreader
    from edgedigits.training import metadata as meta_mod

    out = ensure_writable_dir(out_dir)
    run_dir = ensure_writable_dir(Path(runs_dir) / NAME)
    split = split_data(data_dir, seed)
    began = time.time()
    tmp = Path(private_tempdir()) / NAME
    tmp.mkdir(parents=True, exist_ok=True)
    paths = {model: {stage: tmp / f for stage, f in files.items()} for model, files in FILES.items()}

    t = render_tiles(split, tiles, max(200, tiles // 12), seed, workers, run_dir / f"tiles-{tiles}.npz")
    finder_key = f"{tiles}-{finder_epochs}-{seed}"  # names what the finder was trained on (exports differ in bytes)
    finder_model, finder_history = trained(run_dir / f"number-finder-{finder_key}.keras",
                                           lambda: finder.train(t["x"], t["y"], t["x_val"], t["y_val"], finder_epochs,
                                                                seed=seed))
    onnx.save(finder.export(finder_model), str(paths["finder"]["fp32"]))
    fp32_finder = runtime_finder.Finder(paths["finder"]["fp32"])
    run_maps = lambda f: (lambda x: f.session.run(None, {f.input: x})[0])  # noqa: E731
    x = t["x_val"][:16, ..., None].astype(np.float32) / 255
    diff = float(np.abs(finder_model(x, training=False).numpy() - run_maps(fp32_finder)(x)).max())
    if diff > 1e-3:
        raise GateError(f"the ONNX number finder differs from Keras by {diff:.3g} (> 1e-3) on 16 validation tiles")
    calibration = [{"image": t["x"][i : i + 8, ..., None].astype(np.float32) / 255} for i in range(0, 256, 8)]
    quantize(paths["finder"]["fp32"], paths["finder"]["int8"], calibration)
    iou = {stage: round(band_iou(run_maps(runtime_finder.Finder(p)), t["x_val"], t["y_val"]), 2)
           for stage, p in paths["finder"].items()}
    log.info(f"finder band IoU on validation tiles: fp32 {iou['fp32']:.2f}%, INT8 {iou['int8']:.2f}%")

    # the reader: first on strips along the true lines, then also on strips along the lines this finder finds
    g = render_strips(split, strips_count, max(1000, strips_count // 16), seed, VAL_SEED, workers, None,
                      run_dir / f"strips-true-{strips_count}.npz")
    reader_model, reader_history = trained(run_dir / f"strip-reader-{strips_count}-{reader_epochs}-{seed}.keras",
                                           lambda: stripreader.train(g, reader_epochs, seed=seed))
    s = g
    if tune_epochs:
        found = render_strips(split, strips_count // 3, max(1000, strips_count // 48), seed + 1, VAL_SEED + 1,
                              workers, paths["finder"]["fp32"],
                              run_dir / f"strips-found-{strips_count // 3}-{finder_key}.npz")
        s = {k: np.concatenate([g[k], found[k]]) for k in g}
        reader_model, tuned_history = trained(
            run_dir / f"strip-reader-tuned-{strips_count}-{reader_epochs}-{tune_epochs}-{finder_key}.keras",
            lambda: stripreader.train(s, tune_epochs, learning_rate=5e-4, seed=seed, model=reader_model))
        reader_history = reader_history + tuned_history
    onnx.save(stripreader.export(reader_model), str(paths["reader"]["fp32"]))
    fp32_reader = strips.StripReader(paths["reader"]["fp32"])
    xb, _ = strips.batch([strips.normalize(s["val_images"][i, :, : s["val_widths"][i]]) for i in range(64)])
    diff = float(np.abs(stripreader.with_softmax(reader_model)(xb, training=False).numpy() - fp32_reader.run(xb)).max())
    if diff > 1e-4:
        raise GateError(f"the ONNX strip reader differs from Keras by {diff:.3g} (> 1e-4) on 64 validation strips")
    quantize(paths["reader"]["fp32"], paths["reader"]["int8"], strip_feeds(s, 512, seed))
    val = (s["val_images"], s["val_widths"].astype(int), s["val_labels"])
    exact = {stage: round(stripreader.accuracy(strips.StripReader(p).run, *val)[1], 2)
             for stage, p in paths["reader"].items()}
    log.info(f"validation strips read exactly right: fp32 {exact['fp32']:.2f}%, INT8 {exact['int8']:.2f}%")
    done = time.time()

    speed = {"finder": {stage: latency_ms(p, (1, 544, 704, 1)) for stage, p in paths["finder"].items()},
             "reader": {stage: latency_ms(p, (6, strips.STRIP_ROWS, 128, 1)) for stage, p in paths["reader"].items()}}
    log.info(f"ms per call (one thread; finder 704x544, reader 6 strips 128 wide): {speed}")
    kept = {"finder": iou["fp32"] - iou["int8"] <= MAX_INT8_DROP,
            "reader": exact["fp32"] - exact["int8"] <= MAX_INT8_DROP}
    default = {model: "int8" if kept[model] and speed[model]["int8"] < speed[model]["fp32"] else "fp32"
               for model in FILES}
    classifier = Classifier(default_model(), threads=1)
    source = glyphs.Glyphs(split["x_val"], split["y_val"], glyphs.find_fonts(glyphs.VALIDATION_FONTS))
    pages_right = {}
    for stage in ("fp32", "int8"):
        reader = webcam.Reader(classifier, pages=runtime_page.PageReader(paths["finder"][stage],
                                                                        paths["reader"][stage]))
        pages_right[stage] = end_to_end(reader, source, seed + 100)
        log.info(f"validation images read right, {stage}: {pages_right[stage]}")
    machine = timing.machine_info()
    blobs, stages = {}, {}
    for model, files in FILES.items():
        for stage, name in files.items():
            proto = onnx.load(str(paths[model][stage]))
            meta = {"pipeline": "number-finder" if model == "finder" else "strip-reader", "stage": stage,
                    "producer": "edgedigits", "input_name": "image", "measured_on": machine["features"]}
            meta_mod.finalize(proto, DESCRIPTIONS[model].format(stage=stage), **meta)
            onnx.save(proto, str(paths[model][stage]))
            blobs[name] = paths[model][stage].read_bytes()
            stages[f"{model}-{stage}"] = {**file_stats(paths[model][stage]),
                                          **graphstats.parameter_stats(paths[model][stage])}
    manifest = {
        "name": NAME, "kind": "page-reader", "files": FILES, "default": default, "stages": stages,
        "finder": {"keras_parameters": int(finder_model.count_params()), "validation_band_iou": iou,
                   "history": finder_history},
        "reader": {"keras_parameters": int(reader_model.count_params()), "validation_strips_exact": exact,
                   "history": reader_history},
        "validation_images_read_right": pages_right,
        "ms_per_call": speed,
        "default_note": "each model's INT8 file is the default only if it keeps its accuracy gate and runs faster",
        "validation_note": "held-out synthetic images (sets shaped like photos, pages, cheque amounts, register rows, "
        "digit crops and 16x16 digits) drawn from the MNIST training digits held out for validation, the validation "
        "fonts and pen-stroke digits; never MNIST test digits",
        "training": {"tiles": tiles, "strips": strips_count, "found_strips": strips_count // 3,
                     "finder_epochs": finder_epochs, "reader_epochs": reader_epochs, "tune_epochs": tune_epochs,
                     "seed": seed, "seconds": round(done - began)},
        "machine": {"cpu": machine["cpu"], "features": machine["features"]},
        "onnxruntime": __import__("onnxruntime").__version__,
    }
    replace_set(out, NAME, [*blobs.items(), (f"{NAME}.json", manifest_json(manifest))])
    return manifest


def latency_ms(path: Path, shape: tuple[int, ...], runs: int = 30) -> float:
    """Fastest ms per onnxruntime call of `runs` on one thread (after a warm-up): what the file costs, for choosing
    the faster one on a machine other programs share."""
    from edgedigits.runtime.model.session import open_session

    session = open_session(path, 1)
    feed = {session.get_inputs()[0].name: np.random.default_rng(0).random(shape, np.float32)}
    for _ in range(5):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return round(1e3 * min(times), 3)


def trained(path: Path, train):
    """The Keras model stored at `path` with its history (path.json), or `train()`'s, stored there first."""
    from edgedigits.training.stack import keras

    history_path = path.with_suffix(".json")
    if path.exists() and history_path.is_file():
        log.info(f"using the model trained earlier: {path}")
        return keras.models.load_model(path, compile=False), json.loads(history_path.read_text())
    model, history = train()
    model.save(path)
    history_path.write_text(json.dumps(history, indent=1) + "\n")
    return model, history


DESCRIPTIONS = {
    "finder": ("Number finder ({stage}), made by edgedigits: a fully convolutional network that marks handwritten "
               "numbers in a grey image. Input 'image': float32 [N,H,W,1] = grey uint8 / 255, H and W multiples of "
               "32 (edgedigits.runtime.reading.finder.working_image). Output 'maps': [N,H/4,W/4,2], per 4x4 cell the "
               "probability that it lies on a number's centre band and log(digit height / 16 px); read by "
               "edgedigits.runtime.reading.finder.lines_from_maps."),
    "reader": ("Strip reader ({stage}), made by edgedigits: a fully convolutional CRNN with a CTC head that reads "
               "the digits of a number cut out as a level grey strip, and reads separators, lines and texture as "
               "nothing. Input 'image': float32 [N,32,W,1], paper 0 and ink 1 (edgedigits.runtime.reading.strips."
               "normalize), digits 20 rows tall, W a multiple of 4. Output 'probabilities': [N,W/4,11], per 4 columns "
               "the probability of digits 0-9 and of the CTC blank (10), read by best-path decoding."),
}
