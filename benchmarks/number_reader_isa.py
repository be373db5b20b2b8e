"""Does the number reader read the same on AVX2 kernels as on AVX-512 VNNI? Digits read right on validation lines by
each shipped file, here and under qemu emulating an AVX2-only CPU.

    python benchmarks/number_reader_isa.py [--frames 1000] [--json benchmarks/results/number-reader-isa.json]

Lines are rendered from the MNIST training images the models hold out for validation (`training.linedata`, never test
digits), then scored through onnxruntime in this process and in `qemu-x86_64 -cpu Haswell-v4` (Debian's qemu-user;
onnxruntime then dispatches its AVX2 kernels: INT8 convolutions round differently there). The emulated run is slow
(about a minute for 1,000 frames); without qemu only the native column is written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime import datasets
from edgedigits.runtime.bench import timing
from edgedigits.runtime.reading import sequence
from edgedigits.training import linedata  # noqa: E402  (numpy and OpenCV only: runs under qemu)

FILES = [ROOT / "exported/number-reader/number-reader.onnx", ROOT / "exported/number-reader/number-reader.int8.onnx"]
EMULATED = ["qemu-x86_64", "-cpu", "Haswell-v4"]


def score(lines_file: str, paths: list[str]) -> dict:
    """Errors and digits read right per file on the stored lines, on this process's kernels."""
    stored = np.load(lines_file)
    images, widths, labels = stored["images"], stored["widths"].astype(int), stored["labels"]
    digits = int((labels >= 0).sum())
    out = {}
    for path in paths:
        accuracy = linedata.accuracy(sequence.SequenceReader(path).run, images, widths, labels)
        out[Path(path).name] = {"errors": round(digits * (100 - accuracy) / 100), "digits": digits,
                                "digit_accuracy": round(accuracy, 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--score", nargs="+", help=argparse.SUPPRESS)  # the child: LINES_FILE MODEL...
    args = parser.parse_args()
    if args.score:
        print(json.dumps(score(args.score[0], args.score[1:])))
        return

    ds = datasets.load("mnist")
    _, _, x_val, y_val = datasets.split_validation(ds.x_train, ds.y_train, 5000, 42)
    images, labels = linedata.make(x_val, y_val, args.frames, seed=7)
    packed = linedata.pack(images, labels)
    result = {"machine": timing.machine_info(), "frames": args.frames, "groups": len(images)}
    with tempfile.TemporaryDirectory() as tmp:
        lines_file = str(Path(tmp) / "sequence.npz")
        np.savez(lines_file, **packed)
        child = [sys.executable, __file__, "--score", lines_file, *map(str, FILES)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        result["native"] = json.loads(subprocess.run(child, check=True, capture_output=True, text=True,
                                                     env=env).stdout.splitlines()[-1])
        if shutil.which(EMULATED[0]):
            done = subprocess.run([*EMULATED, *child], check=True, capture_output=True, text=True, env=env)
            result["emulated_avx2"] = json.loads(done.stdout.splitlines()[-1])
            result["emulated_with"] = " ".join(EMULATED)
    for kind in ("native", "emulated_avx2"):
        for file, r in result.get(kind, {}).items():
            print(f"{kind:<14} {file:<26} {r['digit_accuracy']:.3f}% ({r['errors']} errors in {r['digits']} digits)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
