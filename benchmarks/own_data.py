"""The worked example of docs/own-data.md at full size: a 5-class Fashion-MNIST subset given as Kaggle-style CSV
files (30,000 labelled rows in train.csv, 5,000 unlabelled rows in testX.csv), through train-prune-export with the
CNN of examples/own-data/cnn.py, then classify on testX.csv. Writes the run's manifest, its wall time and the load
average around it.

    python benchmarks/own_data.py [--per-class 6000] [--json benchmarks/results/own-data.json]

It runs the commands a user runs (the `edgedigits` of this interpreter's environment) in a fresh copy of
examples/own-data, so the figures are the ones a user gets. Training is not timed against anything: the wall time
says how long the whole run takes on this CPU under its load (given beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime.bench import timing  # noqa: E402

EDGEDIGITS = [sys.executable, "-m", "edgedigits"]


def run(command: list[str], cwd: Path) -> float:
    """Run a command in `cwd`; its wall time in seconds, or exit with its last lines of stderr."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return round(time.perf_counter() - start, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=6000, help="training rows per class (6,000: all of them)")
    parser.add_argument("--json", default=str(ROOT / "benchmarks/results/own-data.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgedigits-own-data-") as tmp:
        work = Path(tmp) / "fashion5"
        shutil.copytree(ROOT / "examples/own-data", work)
        run([sys.executable, "make_csv.py", "--per-class", str(args.per_class)], work)
        load_before = os.getloadavg()
        seconds = run([*EDGEDIGITS, "train-prune-export", "fashion5.toml"], work)
        load_after = os.getloadavg()
        classify_s = run([*EDGEDIGITS, "classify", "exported/fashion5.int8.onnx", "testX.csv", "--out",
                          "predictions.csv"], work)
        predictions = (work / "predictions.csv").read_text().splitlines()
        manifest = json.loads((work / "exported/fashion5.json").read_text())
    result = {
        "command": "edgedigits train-prune-export fashion5.toml (examples/own-data, make_csv.py --per-class "
                   f"{args.per_class})",
        "wall_s": seconds,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "classify": {"rows": len(predictions) - 1, "wall_s": classify_s},
        "machine": timing.machine_info(),
        "manifest": manifest,
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}: {seconds:.0f} s, stages " + ", ".join(
        f"{stage} {facts['test_accuracy']:.2f}%" for stage, facts in manifest["stages"].items()))


if __name__ == "__main__":
    main()
