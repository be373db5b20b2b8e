"""Run the web reader in headless Chromium on known frames: the frames become the fake camera's .y4m video, the page
is served from 127.0.0.1 (serve.py) and driven by drive.mjs (puppeteer-core), and every frame the page read comes
back with its pixels, as the page saw them, and its reading. What the tests and the benchmark use.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgedigits.synth import y4m

PAGE = Path(__file__).resolve().parent
sys.path.insert(0, str(PAGE))
import serve  # noqa: E402  (serve.py beside this file)


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8: the camera frame exactly as the page read it
    record: dict  # text, digits, confidences, uncertain, boxes, lines: as `edgedigits predict --json`
    ms: list[dict]  # per reading of the frame: total, find, classify (milliseconds, performance.now())


@dataclass
class Run:
    info: dict  # what the page says about itself: onnxruntime-web and OpenCV versions, threads, isolation, agent
    frames: list[Frame]


def chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why the page cannot run here, or None."""
    if not chromium():
        return "no chromium (`make system` installs Debian's)"
    if not shutil.which("node"):
        return "no node"
    if not (PAGE / "node_modules" / "puppeteer-core").is_dir():
        return f"no node_modules in {PAGE} (`make web`)"
    return None


def run_page(frames: list[np.ndarray], workdir: Path, *, fps: float = 8.0, loops: int = 2, query: str = "",
             timeout: float = 60.0, screenshot: Path | None = None, models: Path = serve.MODELS) -> Run:
    """Play `frames` (BGR, one size) as the camera, `loops` times over, and return every frame the page read.
    `query` adds URL parameters (model=..., threads=..., repeat=...)."""
    workdir.mkdir(parents=True, exist_ok=True)
    video, result = workdir / "camera.y4m", workdir / "page.json"
    y4m.write(video, frames, fps=fps)
    wanted = loops * len(frames)
    httpd = serve.server(0, models)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/?record={wanted}" + (f"&{query}" if query else "")
        cmd = ["node", str(PAGE / "drive.mjs"), "--url", url, "--y4m", str(video), "--frames", str(wanted),
               "--timeout", str(timeout), "--out", str(result), "--chromium", chromium()]
        if screenshot:
            cmd += ["--screenshot", str(screenshot)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    finally:
        httpd.shutdown()
        httpd.server_close()
    if done.returncode != 0:
        raise RuntimeError(f"the page did not run: {done.stderr.strip()}")
    page = json.loads(result.read_text())
    out = []
    for f in page["frames"]:
        png = base64.b64decode(f.pop("png").split(",", 1)[1])
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        out.append(Frame(image, {k: f[k] for k in ("text", "digits", "confidences", "uncertain", "boxes", "lines")},
                         f["ms"]))
    return Run(page["info"], out)


def nearest(image: np.ndarray, originals: list[np.ndarray]) -> tuple[int, float]:
    """The original `image` shows, and their mean absolute difference in grey levels (the video's 4:2:0 colour
    and rounding leave about 1)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.int16)
    diffs = [float(np.abs(gray - cv2.cvtColor(o, cv2.COLOR_BGR2GRAY)).mean()) for o in originals]
    best = int(np.argmin(diffs))
    return best, diffs[best]
