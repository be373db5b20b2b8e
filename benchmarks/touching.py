"""How well the webcam reader reads numbers written close together: touching and overlapping digits.

    python benchmarks/touching.py [--model exported/lenet.int8.onnx] [--number-model FILE] [--finder FILE] [--numbers 200]
                                  [--seed 0] [--json out.json] [--md out.md] [--picture docs/touching-frame.png]

Frames are webcam-like scenes of one number each (`edgedigits.synth.numbers`: 2-5 MNIST *test* digits in ink on
ruled paper, slant, perspective, uneven light, blur, noise, JPEG), in five ranges of the advance from one digit's
centre to the next (a fraction of the digit height). For each range: the share of digits read right (1 - edit
distance / digits, in reading order) and of numbers read exactly right, by the three readers of `--touching`:
each blob one digit (`off`), blobs cut where the classifier reads the pieces best (`cut`) and the number reader
(`read`, the default). Speed is the webcam benchmark's business (benchmarks/webcam_fps.py); the ms per frame here is
only a guide, printed with the load average.
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

from edgedigits.runtime import datasets, webcam
from edgedigits.runtime.bench import timing
from edgedigits.synth import numbers, scenes

RANGES = numbers.RANGES


MODES = (("off", "each blob one digit"), ("cut", "cut blobs"), ("read", "number reader"))


def read_all(reader: webcam.Reader, frames: list[scenes.Scene]) -> tuple[list[str], float]:
    """Each frame's digits as one string, and the mean ms per frame."""
    start = time.perf_counter()
    texts = [webcam.as_text(reader.read(s.frame), mark_uncertain=False).replace(" ", "") for s in frames]
    return texts, 1e3 * (time.perf_counter() - start) / len(frames)


def picture(readers: dict[str, webcam.Reader], ds, path: Path, seed: int) -> None:
    """An annotated frame for the docs: the first number of five digits at advance 0.5-0.7 that the number reader
    reads exactly right and the one-blob-one-digit reader gets wrong."""
    rng = np.random.default_rng(seed)
    for _ in range(500):
        scene = numbers.render_number(ds.x_test, ds.y_test, rng, (0.5, 0.7), 5)
        digits = readers["read"].read(scene.frame)
        text = webcam.as_text(digits, mark_uncertain=False)
        if text == scene.text and webcam.as_text(readers["off"].read(scene.frame), mark_uncertain=False) != text:
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
             f"{info['load_average']}. Classifier: {info['model']}; number reader: {info['number_model']}. "
             f"Re-measure: `python benchmarks/touching.py {' '.join(sys.argv[1:])}`.",
             "",
             "| advance per digit | what it looks like | digits | "
             + " | ".join(f"{title}: digits read right | numbers exactly right" for _, title in MODES) + " |",
             "|---|---|---|" + "---|---|" * len(MODES)]
    for r in rows:
        lines.append(f"| {r['advance'][0]}-{r['advance'][1]} | {r['looks']} | {r['digits']} | " + " | ".join(
            f"{r[f'{mode}_digit_accuracy']:.1f}% | {r[f'{mode}_exact']}/{r['numbers']}" for mode, _ in MODES) + " |")
    lines += ["", "ms per frame (one thread; a guide only, see the load average), " + ", ".join(t for _, t in MODES)
              + ": " + "; ".join(f"{r['advance'][0]}-{r['advance'][1]}: "
                                 + " / ".join(f"{r[f'{m}_ms']:.1f}" for m, _ in MODES) for r in rows), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "exported/lenet.int8.onnx"))
    parser.add_argument("--number-model", default=None, help="strip or number reader (default: the shipped strip reader)")
    parser.add_argument("--finder", default=None, help="number finder (default: the shipped one)")
    parser.add_argument("--numbers", type=int, default=200, help="numbers (frames) per advance range")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--md", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None, help="write an annotated touching-digits frame here")
    args = parser.parse_args()

    cv2.setNumThreads(1)
    readers = {mode: webcam.load_reader(args.model, threads=1, touching=mode, number_model=args.number_model,
                                      finder=args.finder) for mode, _ in MODES}
    ds = datasets.load("mnist")
    load = os.getloadavg()
    rows = []
    for k, (advance, looks) in enumerate(RANGES):
        frames = numbers.numbers(ds.x_test, ds.y_test, args.numbers, seed=args.seed + k, advance=advance)
        row = {"advance": list(advance), "looks": looks, "numbers": len(frames),
               "digits": sum(len(s.labels) for s in frames)}
        for mode, _ in MODES:
            texts, ms = read_all(readers[mode], frames)
            score = scenes.score(texts, frames)
            row.update({f"{mode}_digit_accuracy": round(score["digit_accuracy"], 2),
                        f"{mode}_exact": sum(t == s.text for t, s in zip(texts, frames)), f"{mode}_ms": round(ms, 2)})
        rows.append(row)
        print(f"{advance[0]}-{advance[1]:<5} {row['digits']:>5} digits   " + "   ".join(
            f"{mode} {row[f'{mode}_digit_accuracy']:6.2f}% {row[f'{mode}_exact']:>4}/{len(frames)}"
            for mode, _ in MODES), flush=True)
    machine = timing.machine_info()
    cpu = machine["cpu"]
    info = {"model": os.path.relpath(args.model, ROOT), "number_model": os.path.relpath(args.number_model, ROOT) if args.number_model else "shipped page reader",
            "finder": os.path.relpath(args.finder, ROOT) if args.finder else "shipped", "cpu": cpu, "cores": machine["cores"],
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
        picture(readers, ds, args.picture, args.seed)


if __name__ == "__main__":
    main()
