"""How well the reader reads handwriting shaped like real photos and scans: held-out synthetic sets, one per kind of
real image people hand to `edgedigits predict`, and scikit-learn's bundled handwritten digits as an outside check.

    python benchmarks/real_handwriting.py [--model FILE] [--number-model FILE] [--touching read|cut|off]
                                          [--scale 1.0] [--seed 0] [--digits test|validation]
                                          [--json out.json] [--md out.md] [--pictures docs/]

Every set is drawn from sources no model was trained or tuned on: MNIST *test* digits, the handwriting fonts held
out of training (`edgedigits.synth.glyphs.VALIDATION_FONTS`) and pen-stroke digits from seeds of their own.
`--digits validation` draws from MNIST *training* digits instead, the ones the page recipes hold out as validation
(page-strips' split): sets to choose reader settings on, so that choosing never touches the test digits.

| set | like | what |
|---|---|---|
| photos | phone/webcam photos of numbers on paper | 1-2 numbers of 4-10 digits on plain paper, on a desk or filling the frame |
| pages | sticky notes and sheets on a desk, notebook pages | 1-20 numbers, ruled or squared paper, printed words |
| cheque | bank-cheque courtesy amounts | guilloche, box, baseline, separators, currency signs |
| register | register row numbers | 1-3 digits, ruled lines, book edge, letters nearby |
| digits | single digits cropped from forms (CVL-like) | one digit, tight or with a margin |
| usps | 16x16 size-normalized digits (USPS-like) | one digit filling 16x16, either polarity |
| sklearn-8x8 | scikit-learn's `load_digits` (real, 43 writers, 8x8) | outside check, light ink on dark |

An image counts as read right when its digits, in order, are exactly the digits written (separators are not digits;
spaces between numbers do not count). Also the share of digits read right (1 - edit distance / digits).
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

from edgedigits.runtime import datasets as data  # noqa: E402
from edgedigits.runtime import webcam  # noqa: E402
from edgedigits.runtime.bench import timing  # noqa: E402
from edgedigits.synth import (
    glyphs,  # noqa: E402
    scenes,  # noqa: E402
)
from edgedigits.synth.sets import SETS, make_set  # noqa: E402


def score(reader: webcam.Reader, items: list[tuple[np.ndarray, str]]) -> tuple[dict, list[str]]:
    texts, took = [], []
    for image, _ in items:
        start = time.perf_counter()
        digits = reader.read(image)
        took.append(time.perf_counter() - start)
        texts.append(webcam.as_text(digits, mark_uncertain=False).replace(" ", ""))
    truth = [t for _, t in items]
    errors = sum(scenes.edit_distance(a, b) for a, b in zip(texts, truth))
    total = sum(len(t) for t in truth)
    return {"images": len(items), "digits": total, "read_right": sum(a == b for a, b in zip(texts, truth)),
            "image_accuracy": round(100.0 * np.mean([a == b for a, b in zip(texts, truth)]), 2),
            "digit_accuracy": round(100.0 * (1 - errors / max(1, total)), 2),
            "ms_per_image": round(1e3 * float(np.mean(took)), 2)}, texts


def pictures(reader: webcam.Reader, sets: dict, folder: Path) -> None:
    """An annotated image read right from each of the photo, page and cheque sets, for the docs."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("photos", "pages", "cheque"):
        items = sets.get(name, [])
        right = [(im, t) for im, t in items
                 if webcam.as_text(reader.read(im), mark_uncertain=False).replace(" ", "") == t and len(t) >= 4]
        if not right:
            continue
        image, text = max(right[:20], key=lambda p: len(p[1]))
        frame = image.copy()
        if frame.shape[0] < 200:
            frame = cv2.resize(frame, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
            webcam.draw(frame, reader.read(frame))
        else:
            webcam.draw(frame, reader.read(image))
        path = folder / f"real-{name}.png"
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(f"wrote {path} ({text})")


def markdown(info: dict, rows: list[dict]) -> str:
    out = ["# Handwriting shaped like real photos and scans (held-out synthetic sets)", "",
           f"CPU: {info['cpu']} ({info['cores']} cores); load average (1, 5, 15 min) {info['load_average']}. "
           f"Reader: `--touching {info['touching']}`, number model {info['number_model']}, classifier {info['model']} "
           f"(in the page reader: images of one digit). Digits from MNIST {info['digits']} "
           "images, held-out handwriting fonts and pen-stroke digits; scikit-learn's 8x8 digits are real handwriting. "
           f"Re-measure: `python benchmarks/real_handwriting.py {' '.join(sys.argv[1:])}`.", "",
           "| set | like | images | read right (all digits, in order) | digits read right | ms per image |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['set']} | {r['like']} | {r['images']} | {r['image_accuracy']:.1f}% ({r['read_right']}) | "
                   f"{r['digit_accuracy']:.1f}% | {r['ms_per_image']:.1f} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="digit classifier (default: the shipped one)")
    parser.add_argument("--number-model", default=None, help="strip or number reader (default: the shipped one)")
    parser.add_argument("--finder", default=None, help="number finder ONNX (default: the shipped one)")
    parser.add_argument("--touching", choices=webcam.TOUCHING, default="read")
    parser.add_argument("--scale", type=float, default=1.0, help="set sizes x this (0.1 for a quick look)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated subset of: " + ", ".join(SETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--digits", choices=("test", "validation"), default="test",
                        help="MNIST test digits (to report), or the validation digits the page recipes hold out of "
                             "training (to choose settings on)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--md", type=Path, default=None)
    parser.add_argument("--pictures", type=Path, default=None, help="write annotated examples to this folder")
    parser.add_argument("--show-errors", type=int, default=0, help="print this many misreadings per set")
    args = parser.parse_args()

    names = args.sets.split(",")
    unknown = [name for name in names if name not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)} (known: {', '.join(SETS)})")
    cv2.setNumThreads(1)
    reader = webcam.load_reader(args.model, threads=1, touching=args.touching, number_model=args.number_model,
                                finder=args.finder)
    ds = data.load("mnist")
    if args.digits == "validation":
        from edgedigits.training import config, pagedata

        source = pagedata.Sources.of(config.load("page-strips"), ds).glyphs("val")
    else:
        source = glyphs.Glyphs(ds.x_test, ds.y_test, glyphs.find_fonts(glyphs.VALIDATION_FONTS))
    load = os.getloadavg()
    rows, sets = [], {}
    for name in names:
        k = list(SETS).index(name)  # a set's draw does not depend on which other sets run beside it
        count, like = SETS[name]
        items = make_set(name, source, max(1, round(count * args.scale)), args.seed * 100 + 1000 + k)
        sets[name] = items
        result, texts = score(reader, items)
        rows.append({"set": name, "like": like, **result})
        print(f"{name:<12} {result['images']:>5} images  read right {result['image_accuracy']:6.2f}%  digits "
              f"{result['digit_accuracy']:6.2f}%  {result['ms_per_image']:.1f} ms", flush=True)
        shown = 0
        for (_, truth), text in zip(items, texts):
            if text != truth and shown < args.show_errors:
                print(f"    {truth!r} -> {text!r}")
                shown += 1
    machine = timing.machine_info()
    info = {"cpu": machine["cpu"], "cores": machine["cores"], "features": machine["features"],
            "load_average": [round(v, 2) for v in load], "touching": args.touching,
            "model": args.model or f"shipped ({reader.classifier.path.name})",
            "number_model": args.number_model or "shipped", "finder": args.finder or "shipped", "seed": args.seed,
            "digits": args.digits,
            "scale": args.scale}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(markdown(info, rows))
        print(f"wrote {args.md}")
    if args.pictures:
        pictures(reader, sets, args.pictures)


if __name__ == "__main__":
    main()
