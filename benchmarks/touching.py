"""How well the webcam reader reads numbers written close together: touching and overlapping digits.

    python benchmarks/touching.py [--model exported/lenet.int8.onnx] [--numbers 200] [--seed 0] [--json out.json]
                                  [--md out.md] [--picture docs/touching-frame.png]

Frames are webcam-like scenes of one number each (`edgedigits.runtime.numbers`: 2-5 MNIST *test* digits in ink on
ruled paper, slant, perspective, uneven light, blur, noise, JPEG), in five ranges of the advance from one digit's
centre to the next (a fraction of the digit height). For each range: the share of digits read right (1 - edit
distance / digits, in reading order) and of numbers read exactly right, for the reader that reads each blob as one
digit and for the one that splits blobs (webcam.Reader(split=False) and the default). Speed is the webcam benchmark's
business (benchmarks/webcam_fps.py); the ms per frame here is only a guide, printed with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime import data, numbers, scenes, timing, webcam  # noqa: E402

RANGES = [((0.85, 1.3), "digits apart"), ((0.75, 0.95), "close"), ((0.6, 0.8), "some touch"),
          ((0.5, 0.75), "as many people write"), ((0.45, 0.6), "cramped, overlapping")]


def read_all(reader: webcam.Reader, frames: list[scenes.Scene]) -> tuple[list[str], float]:
    """Each frame's digits as one string, and the mean ms per frame."""
    start = time.perf_counter()
    texts = [webcam.as_text(reader.read(s.frame), mark_uncertain=False).replace(" ", "") for s in frames]
    return texts, 1e3 * (time.perf_counter() - start) / len(frames)


def picture(reader: webcam.Reader, ds, path: Path, seed: int) -> None:
    """An annotated frame for the docs: the first number of five digits at advance 0.5-0.7 that the one-blob reader
    gets wrong and the splitting reader reads exactly right."""
    old = webcam.Reader(reader.classifier, reader.threshold, split=False)
    rng = np.random.default_rng(seed)
    for _ in range(500):
        scene = numbers.render_number(ds.x_test, ds.y_test, rng, (0.5, 0.7), 5)
        digits = reader.read(scene.frame)
        text = webcam.as_text(digits, mark_uncertain=False)
        if text == scene.text and webcam.as_text(old.read(scene.frame), mark_uncertain=False) != text:
            frame = webcam.draw(scene.frame.copy(), digits)
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            print(f"wrote {path} ({scene.text})")
            return
    print("no frame found for the picture", file=sys.stderr)


def markdown(info: dict, rows: list[dict]) -> str:
    lines = [f"# Touching digits: {info['numbers']} numbers per range, MNIST test digits",
             "",
             f"CPU: {info['cpu']} ({info['cores']} cores, {' '.join(info['features'])}); load average (1, 5, 15 min) "
             f"{info['load_average']}. Model: {info['model']}. Re-measure: `python benchmarks/touching.py --json "
             "benchmarks/results/touching.json --md benchmarks/results/touching.md`.",
             "",
             "| advance per digit | what it looks like | digits | one blob, one digit: digits read right | numbers "
             "exactly right | split blobs: digits read right | numbers exactly right |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['advance'][0]}-{r['advance'][1]} | {r['looks']} | {r['digits']} | "
                     f"{r['blob_digit_accuracy']:.1f}% | {r['blob_exact']}/{r['numbers']} | "
                     f"{r['split_digit_accuracy']:.1f}% | {r['split_exact']}/{r['numbers']} |")
    lines += ["", "ms per frame (one thread; a guide only, see the load average): "
              + ", ".join(f"{r['advance'][0]}-{r['advance'][1]}: {r['blob_ms']:.1f} / {r['split_ms']:.1f}"
                          for r in rows), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "exported/lenet.int8.onnx"))
    parser.add_argument("--numbers", type=int, default=200, help="numbers (frames) per advance range")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--md", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None, help="write an annotated touching-digits frame here")
    args = parser.parse_args()

    cv2.setNumThreads(1)
    reader = webcam.load_reader(args.model, threads=1)
    old = webcam.Reader(reader.classifier, reader.threshold, split=False)
    ds = data.load("mnist")
    load = os.getloadavg()
    rows = []
    for k, (advance, looks) in enumerate(RANGES):
        frames = numbers.numbers(ds.x_test, ds.y_test, args.numbers, seed=args.seed + k, advance=advance)
        row = {"advance": list(advance), "looks": looks, "numbers": len(frames),
               "digits": sum(len(s.labels) for s in frames)}
        for name, r in (("blob", old), ("split", reader)):
            texts, ms = read_all(r, frames)
            score = scenes.score(texts, frames)
            row.update({f"{name}_digit_accuracy": round(score["digit_accuracy"], 2),
                        f"{name}_exact": sum(t == s.text for t, s in zip(texts, frames)), f"{name}_ms": round(ms, 2)})
        rows.append(row)
        print(f"{advance[0]}-{advance[1]:<5} {row['digits']:>5} digits   one blob one digit "
              f"{row['blob_digit_accuracy']:6.2f}% {row['blob_exact']:>4}/{len(frames)}   split "
              f"{row['split_digit_accuracy']:6.2f}% {row['split_exact']:>4}/{len(frames)}", flush=True)
    machine = timing.machine_info()
    cpu = machine["cpu"]
    info = {"model": os.path.relpath(args.model, ROOT), "cpu": cpu, "cores": machine["cores"],
            "features": machine["features"], "numbers": args.numbers, "seed": args.seed,
            "load_average": [round(v, 2) for v in load], "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "opencv": cv2.__version__, "onnxruntime": __import__("onnxruntime").__version__}
    print(f"{cpu}; load average before {info['load_average']}, after {info['load_average_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(markdown(info, rows))
        print(f"wrote {args.md}")
    if args.picture:
        picture(reader, ds, args.picture, args.seed)


if __name__ == "__main__":
    main()
