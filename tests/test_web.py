"""The web reader (examples/web) in headless Chromium, its camera a fake one playing composed scenes: what the page
reads from each frame is what `edgedigits predict` reads from the same frame, and from the composed image.

For now the page reads each blob as one digit, so the comparison is with `predict --touching off`.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgedigits.synth import scenes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "web"))
import browser  # noqa: E402

SCENES = 24


def page_ready():
    """Install the page's packages if npm can (`make web`); skip where the page cannot run (no Chromium, node or
    packages), saying why. In CI that is a failure: CI installs all of them."""
    if not (ROOT / "examples/web/node_modules/puppeteer-core").is_dir() and shutil.which("npm"):
        done = subprocess.run(["make", "-s", "-C", str(ROOT), "web"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    reason = browser.missing()
    if reason:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"web reader not run: {reason}")


def predict(paths, *options) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "edgedigits", "predict", "--json", *options, *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_page_reads_camera_frames_as_predict_does(mnist, tmp_path):
    page_ready()
    rng = np.random.default_rng(2024)
    composed = [scenes.render(mnist.x_test, mnist.y_test, rng) for _ in range(SCENES)]
    originals = [s.frame for s in composed]
    run = browser.run_page(originals, tmp_path / "page", fps=8, loops=2, timeout=90)
    assert run.info["crossOriginIsolated"] and run.info["threads"] == 1, run.info
    assert len(run.frames) == 2 * SCENES

    shown, paths = [], []
    for i, frame in enumerate(run.frames):
        scene, diff = browser.nearest(frame.image, originals)
        assert diff < 2.0, f"frame {i} is none of the scenes (mean grey difference {diff:.1f})"
        shown.append(scene)
        paths.append(tmp_path / f"frame{i:02d}.png")
        cv2.imwrite(str(paths[-1]), frame.image)
    assert len(set(shown)) >= 20, f"the camera showed only {len(set(shown))} of {SCENES} scenes"

    # the same frame, pixel for pixel: the same digits, boxes, lines and marks, and the same probabilities to a few
    # thousandths (the same 28x28 images: equal to 4 decimals with AVX-512 and with AVX2 kernels natively)
    for frame, native in zip(run.frames, predict(paths, "--touching", "off")):
        page = frame.record
        assert (page["text"], page["boxes"], page["lines"]) == (native["text"], native["boxes"], native["lines"])
        assert np.allclose(page["confidences"], native["confidences"], atol=0.005)
        assert all(0 < ms["total"] < 5000 for ms in frame.ms)

    # the composed image itself, before the camera's 4:2:0 video: the same text on at least 20 scenes
    for i, scene in enumerate(composed):
        cv2.imwrite(str(tmp_path / f"scene{i:02d}.png"), scene.frame)
    expected = [r["text"] for r in predict([tmp_path / f"scene{i:02d}.png" for i in range(SCENES)], "--touching", "off")]
    agree = {k for k, frame in zip(shown, run.frames) if frame.record["text"] == expected[k]}
    assert len(agree) >= 20, f"{len(agree)} scenes read as predict reads the composed image"
    assert sum(any(c.isdigit() for c in text) for text in expected) >= 20  # scenes with digits, not empty readings


def test_y4m_round_trip_keeps_the_frames(tmp_path):
    from edgedigits.synth import y4m
    rng = np.random.default_rng(3)
    frames = [np.clip(rng.normal(128, 60, (48, 64, 3)), 0, 255).astype(np.uint8) for _ in range(3)]
    frames = [cv2.GaussianBlur(f, (0, 0), 2) for f in frames]  # camera-like: colour varies slowly
    assert y4m.write(tmp_path / "v.y4m", frames, fps=7.5, repeat=2) == 6
    header = (tmp_path / "v.y4m").read_bytes().split(b"\n", 1)[0]
    assert header == b"YUV4MPEG2 W64 H48 F15:2 Ip A1:1 C420"
    back, fps = y4m.read(tmp_path / "v.y4m")
    assert fps == 7.5 and len(back) == 6
    for original, got in zip([f for f in frames for _ in range(2)], back):
        gray = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY).astype(int)
        assert np.abs(gray(original) - gray(got)).mean() < 2.0
    with pytest.raises(ValueError, match="even width and height"):
        y4m.write(tmp_path / "odd.y4m", [np.zeros((5, 6, 3), np.uint8)])
    with pytest.raises(ValueError, match="all frames must be 64x48"):
        y4m.write(tmp_path / "mixed.y4m", [frames[0], frames[0][:32]])
    assert not (tmp_path / "odd.y4m").exists() and not (tmp_path / "mixed.y4m").exists()
