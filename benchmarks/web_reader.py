"""Milliseconds per frame of the web reader in headless Chromium beside the native Python reader, on the same frames.

    python benchmarks/web_reader.py [--scenes 24] [--repeat 10] [--finder FILE] [--strips FILE] [--threads 1]
                                    [--seed 0] [--json out.json] [--md out.md] [--picture docs/web-reader.png]

Frames are 640x480 scenes of 1-6 MNIST *test* digits (`edgedigits.synth.scenes`) played by Chromium's fake camera
(examples/web/browser.py). The page reads each frame `--repeat` times and times each reading with performance.now()
(microsecond clock: the page is cross-origin isolated): finding the numbers (grey image, working image, the number
finder on onnxruntime-web wasm SIMD with `--threads` threads, centre lines, reading order) and reading them (strips
cut and normalized, the strip reader on all strips in one batch, CTC decoding). The native side reads the very
frames the page read, as PNG-exact pixels, `--repeat` times each with the same reader
(`load_reader(touching="strips")`: the page reader of `edgedigits predict` without the second opinion, which the
page leaves out; onnxruntime intra-op 1, cv2.setNumThreads(1)) and the same split. `--finder` and
`--strips` name other files of the shipped sets (e.g. page-finder/page-finder.int8.onnx), for both sides. Per frame
the fastest of the repeats (the least disturbed by other work on a shared machine); the table gives the median and
90th percentile over frames. The load average is recorded.
`--picture` saves a screenshot of the page reading examples/digits.jpg as its camera.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "web"))

import browser  # noqa: E402

from edgedigits.runtime import datasets, webcam  # noqa: E402
from edgedigits.runtime.bench import timing  # noqa: E402
from edgedigits.runtime.model import shipped  # noqa: E402
from edgedigits.runtime.reading import find as find_mod  # noqa: E402
from edgedigits.runtime.reading import page  # noqa: E402
from edgedigits.synth import scenes  # noqa: E402


def native_ms(reader: webcam.Reader, frames: list[np.ndarray], repeat: int) -> list[dict]:
    """Per frame: the fastest of `repeat` readings in ms, and of finding alone (grey image to ordered lines)."""
    out = []
    for frame in frames:
        total, find = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            reader.pages.lines(find_mod.to_gray(frame, page.MIN_SIDE))
            t1 = time.perf_counter()
            reader.read(frame)
            t2 = time.perf_counter()
            find.append(1e3 * (t1 - t0))
            total.append(1e3 * (t2 - t1))
        out.append({"total": min(total), "find": min(find)})
    return out


def summary(per_frame: list[dict]) -> dict:
    total = np.array([f["total"] for f in per_frame])
    find = np.array([f["find"] for f in per_frame])
    return {"p50_ms": round(float(np.median(total)), 3), "p90_ms": round(float(np.percentile(total, 90)), 3),
            "find_p50_ms": round(float(np.median(find)), 3),
            "read_p50_ms": round(float(np.median(total - find)), 3)}


def chromium_version() -> str:
    done = subprocess.run([browser.chromium(), "--version"], capture_output=True, text=True)
    return " ".join(done.stdout.split()[:2])  # "Chromium 156.0.8078.129"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--finder", default=None, help="a number finder file of the shipped sets (default: the set's)")
    parser.add_argument("--strips", default=None, help="a strip reader file of the shipped sets (default: the set's)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime-web wasm threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--md", type=Path, default=None)
    parser.add_argument("--picture", type=Path, default=None, help="screenshot of the page reading examples/digits.jpg")
    args = parser.parse_args()
    reason = browser.missing()
    if reason:
        sys.exit(f"web_reader.py: cannot run the page: {reason}")

    ds = datasets.load("mnist")
    rng = np.random.default_rng(args.seed)
    frames = [scenes.render(ds.x_test, ds.y_test, rng).frame for _ in range(args.scenes)]
    load = os.getloadavg()
    query = f"repeat={args.repeat}&threads={args.threads}" + "".join(
        f"&{key}={value}" for key, value in (("finder", args.finder), ("strips", args.strips)) if value)
    with tempfile.TemporaryDirectory() as tmp:
        run = browser.run_page(frames, Path(tmp), fps=4, loops=1, timeout=600, query=query)
        if args.picture:
            browser.run_page([cv2.imread(str(ROOT / "examples" / "digits.jpg"))], Path(tmp) / "picture", fps=10,
                             loops=3, screenshot=args.picture)
            print(f"wrote {args.picture}")
    in_page = [{"total": min(m["total"] for m in f.ms), "find": min(m["find"] for m in f.ms)} for f in run.frames]
    cv2.setNumThreads(1)
    reader = webcam.load_reader(threads=1, touching="strips", number_model=args.strips and shipped.SHIPPED / args.strips)
    if args.finder:
        reader.pages.finder = type(reader.pages.finder)(shipped.SHIPPED / args.finder, threads=1)
    files = {"finder": run.info["finder"].split("/models/")[-1], "strips": run.info["strips"].split("/models/")[-1]}
    native = native_ms(reader, [f.image for f in run.frames], args.repeat)
    same = sum(f.record["text"] == webcam.as_text(reader.read(f.image)) for f in run.frames)
    machine = timing.machine_info()
    machine.update({"load_average": [round(v, 2) for v in load],
                    "load_average_after": [round(v, 2) for v in os.getloadavg()], "opencv": cv2.__version__,
                    "chromium": chromium_version(), "onnxruntime_web": run.info["onnxruntime"],
                    "cross_origin_isolated": run.info["crossOriginIsolated"]})
    results = {"frames": len(run.frames), "digits": sum(len(f.record["digits"]) for f in run.frames),
               "repeat": args.repeat, "files": files, "threads": args.threads, "same_text": same,
               "browser": summary(in_page), "native": summary(native)}
    results["browser_over_native"] = round(results["browser"]["p50_ms"] / results["native"]["p50_ms"], 2)
    print(json.dumps(results, indent=1))
    print(f"{machine['cpu']}; load average before {machine['load_average']}, after {machine['load_average_after']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        b, n = results["browser"], results["native"]
        args.md.write_text("\n".join([
            f"# Web reader: ms per frame in {machine['chromium']} (headless) and native Python, same frames", "",
            f"CPU: {machine['cpu']} ({machine['cores']} cores); load average {machine['load_average']} before, "
            f"{machine['load_average_after']} after. {results['frames']} frames, {results['digits']} digits, each "
            f"read {args.repeat} times; {files['finder']} and {files['strips']}, {args.threads} thread(s). Re-measure: "
            "`python benchmarks/web_reader.py --json benchmarks/results/web-reader.json --md "
            "benchmarks/results/web-reader.md`.", "",
            "| reader | p50 ms | p90 ms | finding p50 ms | reading p50 ms |", "|---|---|---|---|---|",
            f"| browser: onnxruntime-web {machine['onnxruntime_web']} wasm | "
            f"{b['p50_ms']:.2f} | {b['p90_ms']:.2f} | {b['find_p50_ms']:.2f} | {b['read_p50_ms']:.2f} |",
            f"| native: OpenCV {machine['opencv']}, onnxruntime {machine['libraries']['onnxruntime']} | "
            f"{n['p50_ms']:.2f} | {n['p90_ms']:.2f} | {n['find_p50_ms']:.2f} | {n['read_p50_ms']:.2f} |", "",
            f"Same text on {same} of {results['frames']} frames; browser / native p50: "
            f"{results['browser_over_native']}x.", ""]))
        print(f"wrote {args.md}")


if __name__ == "__main__":
    main()
