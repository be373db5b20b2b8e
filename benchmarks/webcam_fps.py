"""Frames per second of the webcam reader's whole per-frame path, on one core, and its accuracy on the same frames.

    python benchmarks/webcam_fps.py [--model exported/lenet.int8.onnx] [--frames 300] [--cpu 0] [--json out.json]
                                    [--screenshot docs/webcam-frame.png] [--touching read|cut|off] [--best-of 1]

Per frame: find the digits (adaptive threshold, contours, merge, filters), MNIST-normalize each, classify them in one
onnxruntime batch, read each number with the number reader in one more batch (--touching read, the default; `cut`
cuts blobs wider than one digit into candidate digits instead, `off` reads each blob as one digit), draw boxes,
labels and frames/s: exactly `webcam.Reader.read` + `webcam.draw`. One core:
cv2.setNumThreads(1), onnxruntime intra-op 1 (and, with --cpu, the process pinned to that CPU). Frames are 640x480
scenes of MNIST *test* digits (`edgedigits.synth.scenes`) written to an MJPG video and decoded into memory first, so
decoding is reported on its own line, not inside the per-frame figure. Two workloads: 1-6 digits per frame (mixed)
and 6 digits in every frame (the worst case). The load average is printed with the result: on a busy machine the
figure is a lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime import datasets, webcam
from edgedigits.runtime.bench import timing
from edgedigits.synth import scenes


def decode(path: Path) -> tuple[list[np.ndarray], float]:
    """All frames of the video, and the decode time per frame in ms."""
    capture, frames = cv2.VideoCapture(str(path)), []
    start = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, 1e3 * (time.perf_counter() - start) / max(1, len(frames))


def measure(reader: webcam.Reader, frames: list[np.ndarray], warmup: int = 20,
            best_of: int = 1) -> tuple[np.ndarray, list[str]]:
    """Per-frame seconds of read + draw (a fresh copy of each frame, copied outside the timing), and the texts.
    best_of > 1 times each frame that many times and keeps the fastest: on a busy machine, what the path costs."""
    for frame in frames[:warmup]:
        webcam.draw(frame.copy(), reader.read(frame), 0.0)
    times, texts, fps = [], [], 0.0
    for original in frames:
        runs = []
        for _ in range(best_of):
            frame = original.copy()
            start = time.perf_counter()
            digits = reader.read(frame)
            webcam.draw(frame, digits, fps)
            runs.append(time.perf_counter() - start)
        took = min(runs)
        fps = 1.0 / took
        times.append(took)
        texts.append(webcam.as_text(digits, mark_uncertain=False).replace(" ", ""))
    return np.array(times), texts


def workload(name: str, reader, ds, frames: int, seed: int, digits: int | None, tmp: Path, best_of: int = 1) -> dict:
    video = tmp / f"{name}.avi"
    truth = scenes.write_video(video, ds.x_test, ds.y_test, frames, seed=seed, digits=digits)
    decoded, decode_ms = decode(video)
    times, texts = measure(reader, decoded, best_of=best_of)
    score = scenes.score(texts, truth)
    return {"workload": name, "frames": len(times), "digits_per_frame": round(score["digits"] / len(times), 2),
            "frames_per_s": round(len(times) / times.sum(), 1), "p50_ms": round(1e3 * np.median(times), 3),
            "p99_ms": round(1e3 * np.percentile(times, 99), 3), "decode_ms": round(decode_ms, 3),
            "frames_per_s_with_decode": round(len(times) / (times.sum() + decode_ms / 1e3 * len(times)), 1),
            "digit_accuracy": round(score["digit_accuracy"], 2), "frame_exact": round(score["frame_exact"], 2),
            "_video": video, "_truth": truth, "_texts": texts}


def screenshot(reader, result: dict, path: Path) -> None:
    """An annotated frame for the docs: of the frames read exactly right with five digits or more in two lines,
    one that shows an uncertain digit if any does, and of those the one with the largest digits."""
    frames, _ = decode(result["_video"])
    right = [i for i, (scene, text) in enumerate(zip(result["_truth"], result["_texts"]))
             if text == scene.text and len(scene.labels) >= 5 and len({d.line for d in reader.read(frames[i])}) > 1]
    pick = max(right, default=0, key=lambda i: (any(d.uncertain for d in reader.read(frames[i])),
                                                sum(b[2] * b[3] for b in result["_truth"][i].boxes)))
    frame = frames[pick]
    digits = reader.read(frame)
    webcam.draw(frame, digits, result["frames_per_s"])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {path} (frame {pick}: {webcam.as_text(digits)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "exported/lenet.int8.onnx"))
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU (Linux)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--screenshot", type=Path, default=None, help="write an annotated frame (PNG) here")
    parser.add_argument("--best-of", type=int, default=1,
                        help="time each frame this many times and keep the fastest (for a busy machine)")
    parser.add_argument("--touching", choices=webcam.TOUCHING, default="read",
                        help="how digits written close together are read (as `edgedigits webcam --touching`)")
    args = parser.parse_args()

    cv2.setNumThreads(1)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    reader = webcam.load_reader(args.model, threads=1, touching=args.touching)
    ds = datasets.load("mnist")
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = [workload("1-6 digits", reader, ds, args.frames, args.seed, None, Path(tmp), args.best_of),
                   workload("6 digits", reader, ds, args.frames, args.seed + 1, 6, Path(tmp), args.best_of)]
        if args.screenshot:
            screenshot(reader, results[0], args.screenshot)
    load_after = os.getloadavg()
    machine = timing.machine_info()
    cpu = machine["cpu"]
    model = Path(args.model).resolve()
    info = {"model": str(model.relative_to(ROOT)) if model.is_relative_to(ROOT) else str(model), "cpu": cpu,
            "cores": machine["cores"], "features": machine["features"], "pinned_cpu": args.cpu,
            "load_average_before": [round(v, 2) for v in load], "load_average_after": [round(v, 2) for v in load_after],
            "opencv": cv2.__version__, "onnxruntime": __import__("onnxruntime").__version__, "size": "640x480",
            "threads": "cv2.setNumThreads(1), onnxruntime intra_op 1", "touching": args.touching, "best_of": args.best_of}
    print(f"{cpu}, {os.cpu_count()} cores; one core: {info['threads']}"
          + (f", pinned to CPU {args.cpu}" if args.cpu is not None else ""))
    print(f"load average (1, 5, 15 min) before {info['load_average_before']}, after {info['load_average_after']}")
    header = (f"{'workload':<11} {'frames':>6} {'digits/f':>8} {'frames/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'decode ms':>9} {'f/s +dec':>8} {'digit acc':>9} {'exact':>6}")
    print(header)
    for r in results:
        print(f"{r['workload']:<11} {r['frames']:>6} {r['digits_per_frame']:>8} {r['frames_per_s']:>9} "
              f"{r['p50_ms']:>7} {r['p99_ms']:>7} {r['decode_ms']:>9} {r['frames_per_s_with_decode']:>8} "
              f"{r['digit_accuracy']:>8}% {r['frame_exact']:>5}%")
    if args.json:
        rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
