"""What files past the limits cost: time and peak memory of `edgedigits predict` on each, in a process of its own.

    python benchmarks/limits.py [--images 1000] [--out benchmarks/results]

Cases: a 64 GiB sparse file named .png, a 0.4 MB PNG of 20000x20000 pixels, a 108-megapixel JPEG (read at 1/2),
one photo and then --images copies of it in one command (memory must not grow with the count), and pages of 500
and of 9,600 digits too small to read. Each row is the command's exit status, its last line of output, its wall
time and its peak resident memory (the child's own, from wait4). Writes limits.md and limits.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import write_bytes_atomic, write_json_atomic

PHOTO = ROOT / "examples" / "digits.jpg"


def measure(args: list[str], cwd: Path) -> dict:
    """Run `edgedigits ARGS` in `cwd`: exit status, last line (stderr if it said anything, else stdout), seconds,
    peak resident MB of that process alone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "edgedigits", *args], cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        said = (err.read().decode().strip() or out.read().decode().strip()).splitlines()
    return {"exit": os.waitstatus_to_exitcode(status), "last_line": said[-1] if said else "",
            "lines": len(said), "seconds": round(seconds, 2), "peak_mb": round(usage.ru_maxrss / 1024)}


def page(rows: int, columns: int, height: int) -> np.ndarray:
    """A white page of rows x columns digits cut from the example photo, each `height` pixels high."""
    digit = cv2.imread(str(PHOTO), cv2.IMREAD_GRAYSCALE)[150:330, 60:200]
    tile = cv2.resize(digit, (round(height * 140 / 180), height), interpolation=cv2.INTER_AREA)
    return np.tile(tile, (rows, columns))


def make_files(folder: Path, copies: int) -> None:
    """The case files. Run in a process of its own: a child's peak memory counts the pages of the process it was
    forked from, so the measuring process never holds a large image itself."""
    with open(folder / "sparse.png", "wb") as f:
        f.truncate(64 * 2**30)
    cv2.imwrite(str(folder / "wide.png"), np.full((20000, 20000), 255, np.uint8))
    photo = cv2.imread(str(PHOTO))
    cv2.imwrite(str(folder / "108mp.jpg"), cv2.resize(photo, (12000, 9000), interpolation=cv2.INTER_NEAREST))
    many = folder / "many"
    many.mkdir()
    for k in range(copies):
        shutil.copyfile(PHOTO, many / f"{k:05d}.jpg")
    cv2.imwrite(str(folder / "page-500.png"), page(25, 20, 90))
    cv2.imwrite(str(folder / "page-9600.png"), page(80, 120, 50))


def cases(copies: int) -> dict[str, list[str]]:
    return {
        "64 GiB sparse file named .png": ["predict", "sparse.png"],
        "PNG of 20000x20000 pixels": ["predict", "wide.png"],
        "JPEG of 12000x9000 pixels (108 MP)": ["predict", "108mp.jpg"],
        "one photo": ["predict", "many/00000.jpg"],
        f"{copies:,} photos in one command": ["predict", *(f"many/{k:05d}.jpg" for k in range(copies))],
        "page of 500 small digits": ["predict", "page-500.png"],
        "page of 9,600 small digits (24 MP)": ["predict", "page-9600.png"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="copies of the photo read by one predict")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--make", help=argparse.SUPPRESS)  # the child that writes the case files into this folder
    args = parser.parse_args()
    if args.make:
        return make_files(Path(args.make), args.images)
    machine, load = timing.machine_info(), os.getloadavg()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        subprocess.run([sys.executable, __file__, "--make", str(folder), "--images", str(args.images)], check=True)
        for name, argv in cases(args.images).items():
            rows[name] = {**measure(argv, folder), "file_bytes": (folder / argv[1]).stat().st_size
                          if len(argv) == 2 and (folder / argv[1]).exists() else None}
            print(f"{name}: {rows[name]}", flush=True)
    lines = [f"> machine: {machine['cpu']}, {machine['cores']} cores; load average at the start "
             f"{' '.join(f'{v:.2f}' for v in load)}; `edgedigits predict FILE...` in a process of its own; peak "
             f"resident memory of that process (wait4)", "",
             "| case | exit | seconds | peak MB | last line |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        line = r["last_line"].replace("|", "\\|")
        lines.append(f"| {name} | {r['exit']} | {r['seconds']:.1f} | {r['peak_mb']:,} | {line[:150]} |")
    out = Path(args.out)
    write_bytes_atomic(out / "limits.md", ("\n".join(lines) + "\n").encode())
    write_json_atomic(out / "limits.json", {"machine": machine, "load_average": list(load), "rows": rows})
    print("\n".join(lines))
    print(f"wrote {out / 'limits.md'} and .json")


if __name__ == "__main__":
    main()
