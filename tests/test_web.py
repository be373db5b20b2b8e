"""The web reader (examples/web) reads as `edgedigits predict` does. In Node.js: every step between the networks gives
the Python reader's numbers on the same inputs (working image, centre lines, reading order, strips, digits and boxes).
In headless Chromium, its camera a fake one playing composed scenes: what the page reads from each frame is what
`predict` reads from that frame, and from the composed image.
"""

import base64
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


def fail_or_skip(reason: str):
    """Where the web reader cannot run, skip saying why; in CI that is a failure (CI installs everything)."""
    (pytest.fail if os.environ.get("CI") else pytest.skip)(f"web reader not run: {reason}")


def page_reader():
    """The Python page reader the page ports (finder, strips, page), or a skip/failure saying it is missing."""
    try:
        from edgedigits.runtime.reading import finder, page, strips
    except ImportError as exc:
        fail_or_skip(f"this edgedigits has no page reader ({exc})")
    return finder, page, strips


def page_ready():
    """Install the page's packages if npm can (`make web`); skip where the page cannot run (no Chromium, node or
    packages), saying why."""
    if not (ROOT / "examples/web/node_modules/puppeteer-core").is_dir() and shutil.which("npm"):
        done = subprocess.run(["make", "-s", "-C", str(ROOT), "web"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    reason = browser.missing()
    if reason:
        fail_or_skip(reason)


def predict(paths) -> list[dict]:
    """What `predict` reads with the page reader alone (`--touching strips`), the reader the page ports."""
    done = subprocess.run([sys.executable, "-m", "edgedigits", "predict", "--json", "--touching", "strips",
                           *map(str, paths)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_page_reader_steps_give_pythons_numbers(mnist, tmp_path):
    """Frames, photos and scans of every size the finder scales (shrunk by 2, enlarged by 6): the same working
    image, the same strips and decoded digits bit for bit, the same centre lines to the last bit or two (numpy's exp
    and JavaScript's Math.exp may differ in the last bit)."""
    finder, page, strips = page_reader()
    if not shutil.which("node"):
        fail_or_skip("no node")
    from edgedigits.runtime.reading import find
    from edgedigits.synth import glyphs, sets

    rng = np.random.default_rng(7)
    images = [scenes.render(mnist.x_test, mnist.y_test, rng).frame for _ in range(4)]
    images.append(cv2.imread(str(ROOT / "examples" / "digits.jpg")))
    source = glyphs.Glyphs(mnist.x_test, mnist.y_test, [])
    for name, count in (("photos", 2), ("pages", 3), ("cheque", 2), ("register", 1), ("digits", 2), ("usps", 2)):
        images += [image for image, _ in sets.make_set(name, source, count, 11)]
    reader = page.PageReader()
    # and maps made by hand: one number's band broken into two overlapping pieces, another number beside it
    made = np.zeros((48, 80, 2), np.float32)
    made[..., 1] = np.log(24 / finder.HEIGHT_UNIT)
    made[20, 10:20, 0], made[21, 21:36, 0], made[20, 48:60, 0] = 0.9, 0.8, 0.95
    images.append((np.full((128, 256), 200, np.uint8), made))
    feeds, expected = [], []
    for image in images:
        image, made = image if isinstance(image, tuple) else (image, None)
        gray = find.to_gray(image, page.MIN_SIDE)
        work, geo = finder.working_image(gray)
        maps = reader.finder.maps(work) if made is None else made
        found = finder.lines_from_maps(maps[..., 0], maps[..., 1], geo)
        order = page.reading_order(found)
        lines = [found[i] for i in order]
        cut = [strips.cut(gray, line) for line in lines]
        normalized = [strips.normalize(c) for c in cut]
        probs = reader.reader.run(strips.batch(normalized)[0]) if lines else np.zeros((0, 1, 11), np.float32)
        raw = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()  # noqa: E731
        feeds.append({"shape": list(gray.shape), "gray": raw(gray),
                      "maps": {"shape": list(maps.shape), "data": raw(maps.astype(np.float32))},
                      "probs": {"shape": list(probs.shape), "data": raw(probs.astype(np.float32))}})
        moved = [[strips.cut(gray, strips.shifted(line, sign * page.SHIFT)) for sign in (-1, 1)] for line in lines]
        expected.append((geo, work, found, order, cut, normalized, moved,
                         reader.reader.read([strips.strip(gray, line) for line in lines])))
    # each ink read once: two numbers on one digit (the less sure read dropped, a tie drops the later one, a number
    # left empty is not counted), overlapping digits of one number kept; and every image's reads
    once = [[(5, 0.9, (10, 10, 12, 20), 0), (5, 0.7, (11, 12, 12, 20), 1), (3, 0.95, (40, 10, 12, 20), 1)],
            [(1, 0.8, (0, 0, 10, 10), 0), (7, 0.8, (2, 2, 10, 10), 1)],
            [(1, 0.6, (0, 0, 10, 10), 0), (2, 0.9, (1, 1, 10, 10), 1), (4, 0.9, (30, 0, 10, 10), 2)],
            [(1, 0.6, (0, 0, 10, 10), 0), (2, 0.9, (1, 1, 10, 10), 0)]]
    once += [[(a, b, box, n) for n, r in enumerate([r for r in e[-1] if r]) for a, b, box in r] for e in expected]
    kept = [[(r.digit, r.confidence, r.box, r.number) for r in page.once([page.Read(box, a, b, n) for a, b, box, n in
                                                                        case])] for case in once]
    assert [[(d, n) for d, _, _, n in k] for k in kept[:4]] == [[(5, 0), (3, 1)], [(1, 0)], [(2, 0), (4, 1)],
                                                                [(1, 0), (2, 0)]]
    (tmp_path / "in.json").write_text(json.dumps({"images": feeds, "once": once}))
    done = subprocess.run(["node", str(ROOT / "tests" / "web_steps.mjs"), str(tmp_path / "in.json"),
                           str(tmp_path / "out.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads((tmp_path / "out.json").read_text())
    assert [[(a, b, tuple(box), n) for a, b, box, n in k] for k in got["once"]] == kept
    got = got["images"]

    assert len(got[-1]["lines"]) == 2  # the hand-made pieces joined (`finder.fragments`)
    scales = set()
    for i, ((geo, work, found, order, cut, normalized, moved, reads), js) in enumerate(zip(expected, got)):
        assert js["shift"] == page.SHIFT
        scales.add((geo.down, geo.up))
        assert [js["geo"][k] for k in ("down", "up", "pad", "shape")] == [geo.down, geo.up, geo.pad, list(geo.shape)]
        assert base64.b64decode(js["work"]) == work.tobytes(), f"image {i}: working image"
        assert len(js["lines"]) == len(found), f"image {i}: lines"
        for line, mine in zip(js["lines"], found):
            assert np.allclose(line["start"] + line["end"] + [line["height"], line["score"]],
                               [*mine.start, *mine.end, mine.height, mine.score], rtol=1e-12, atol=0), f"image {i}"
        assert js["order"] == list(order), f"image {i}: reading order"
        for s, c, n, m, r in zip(js["strips"], cut, normalized, moved, reads):
            assert s["width"] == c.shape[1] and base64.b64decode(s["cut"]) == c.tobytes(), f"image {i}: strip"
            assert [base64.b64decode(b) for b in s["moved"]] == [a.tobytes() for a in m], f"image {i}: moved strip"
            assert base64.b64decode(s["normalized"]) == n.tobytes(), f"image {i}: normalized strip"
            assert [(a, b, tuple(box)) for a, b, box in s["reads"]] == [(a, b, tuple(box)) for a, b, box in r]
    assert sum(len(js["lines"]) for js in got) >= 30 and {(2, 1), (1, 1)} <= scales and any(u > 1 for _, u in scales)


def test_page_reads_camera_frames_as_predict_does(mnist, tmp_path):
    page_reader()
    page_ready()
    rng = np.random.default_rng(2024)
    composed = [scenes.render(mnist.x_test, mnist.y_test, rng) for _ in range(SCENES)]
    originals = [s.frame for s in composed]
    run = browser.run_page(originals, tmp_path / "page", fps=6, loops=2, timeout=120)
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

    # the same frame, pixel for pixel: the same digits, numbers and marks, boxes within a pixel (the centre lines may
    # differ in their last bit), and the same probabilities to a few output steps (the networks run on wasm kernels)
    for i, (frame, native) in enumerate(zip(run.frames, predict(paths))):
        page = frame.record
        assert (page["text"], page["lines"]) == (native["text"], native["lines"]), f"frame {i}"
        assert np.abs(np.array(page["boxes"]) - np.array(native["boxes"])).max(initial=0) <= 1, f"frame {i}"
        # the INT8 strip reader's outputs come in steps of 1/255; a centre line from the finder's wasm kernels a last
        # bit off cuts a strip whose reading may sit a few steps away
        assert np.allclose(page["confidences"], native["confidences"], atol=5 / 255), (i, page, native)
        assert all(0 < ms["total"] < 5000 for ms in frame.ms)

    # the composed image itself, before the camera's 4:2:0 video: the same text on at least 20 scenes
    for i, scene in enumerate(composed):
        cv2.imwrite(str(tmp_path / f"scene{i:02d}.png"), scene.frame)
    expected = [r["text"] for r in predict([tmp_path / f"scene{i:02d}.png" for i in range(SCENES)])]
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
