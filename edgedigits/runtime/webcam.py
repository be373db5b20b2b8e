"""The live digit reader: frames from a camera, video file or images in; boxes, digits and confidences out, drawn
in a window, as one JSON line per frame (headless), and optionally as an annotated video.

It is the first app that embeds an exported model, so it uses only what any app gets: `edgedigits.runtime`
(onnxruntime + numpy) and OpenCV. Never TensorFlow.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TextIO

import cv2
import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime import Classifier, default_model, lines, segment, vision, window
from edgedigits.runtime.artifacts import atomic_path
from edgedigits.runtime.reading import page

DEFAULT_THRESHOLD = 0.8  # below this the digit is shown as uncertain ("7?") rather than guessed silently
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
GREEN, ORANGE, WHITE, BLACK = (60, 200, 60), (0, 140, 255), (255, 255, 255), (0, 0, 0)
log = logging.getLogger(__name__)


@dataclass
class Digit:
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    label: str
    confidence: float
    line: int
    uncertain: bool


class Reader:
    """Finds the digits of a frame and classifies them in one batch. Digits written close together touch and one blob
    holds several; a thin stroke can break one digit into two. With a `sequence` model (`lines.SequenceReader`),
    each number is also read whole, as a sequence (`_read_groups`). Without one, where the first reading may be wrong
    (a blob wider than one digit, not clearly read as one; blobs close together) the line is cut into candidate
    digits, all scored in one more batch, and read as the digits its best-scoring split gives (`segment`).
    split=False reads every blob as one digit."""

    def __init__(self, classifier: Classifier, threshold: float = DEFAULT_THRESHOLD,
                 settings: vision.Settings = vision.DEFAULT, split: bool = True,
                 sequence: lines.SequenceReader | None = None, pages: page.PageReader | None = None):
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"confidence threshold must be in [0, 1], got {threshold}")
        self.classifier, self.threshold, self.settings, self.split = classifier, threshold, settings, split
        self.sequence, self.pages = sequence, pages
        classifier.probabilities(np.zeros((1, 28, 28), np.uint8))  # warm-up: the first frame is not the slow one

    def read(self, frame: np.ndarray) -> list[Digit]:
        if self.pages is not None:  # the number finder and the strip reader
            return [Digit(r.box, self.classifier.labels[r.digit], r.confidence, r.number, r.confidence < self.threshold)
                    for r in self.pages.read(vision.to_gray(frame, page.MIN_SIDE))]
        found = vision.find_digits(frame, self.settings)
        if not len(found):
            return []
        probs = self.classifier.probabilities(found.images)
        if not self.split:
            return [Digit(tuple(int(v) for v in box), self.classifier.labels[int(p.argmax())], float(p.max()),
                          int(line), bool(p.max() < self.threshold))
                    for box, p, line in zip(found.boxes, probs, found.lines)]
        if self.sequence is not None:
            return self._read_groups(found, probs)
        cut = segment.worth_cutting(found.boxes, found.lines, probs)
        candidates = [segment.line_candidates(found.boxes, found.ink, np.flatnonzero(found.lines == n).tolist(), cut)
                      for n in range(int(found.lines.max()) + 1)]
        extra = [image for line in candidates for image in line.images]
        if extra:  # every candidate of the frame in one more batch
            probs = np.concatenate([probs, self.classifier.probabilities(np.stack(extra))])
        digits, start = [], len(found)
        for n, line in enumerate(candidates):
            rows, new = [], 0
            for k in line.whole:
                rows.append(k if k >= 0 else start + new)
                new += k < 0
            start += new
            for run, label in segment.best_reading(line, probs[rows]):
                confidence = float(probs[rows[run], label])
                digits.append(Digit(tuple(int(v) for v in line.boxes[run]), self.classifier.labels[label], confidence,
                                    n, confidence < self.threshold))
        return digits

    def _read_groups(self, found: vision.Found, probs: np.ndarray) -> list[Digit]:
        """Every number (`lines.groups`) read by the sequence model, all in one batch. Where it reads one digit
        per blob, each in its own blob, the classifier has read the same digits one by one: the more confident of
        the two readings wins, digit by digit (the classifier is the better reader of a digit standing alone, the
        sequence model of digits that touch)."""
        groups = lines.groups(found.boxes, found.lines)
        readings = self.sequence.read([lines.group_image(found.boxes, found.ink, g) for g in groups])
        digits = []
        boxes = found.boxes
        for members, reading in zip(groups, readings):
            centres = [x + w / 2 for _, _, (x, _, w, _) in reading]
            one_each = len(reading) == len(members) and all(
                boxes[k, 0] <= c <= boxes[k, 0] + boxes[k, 2] for k, c in zip(members, centres))
            for j, (label, confidence, box) in enumerate(reading):
                k = members[j] if one_each else None  # the blob this digit was read in, when one digit per blob
                if k is not None and probs[k].max() > confidence:
                    label, confidence, box = int(probs[k].argmax()), float(probs[k].max()), tuple(map(int, boxes[k]))
                digits.append(Digit(box, self.classifier.labels[label], confidence, int(found.lines[members[0]]),
                                    confidence < self.threshold))
        return digits


TOUCHING = ("read", "cut", "off")  # numbers of touching digits: the sequence model, seam cuts, each blob one digit


def load_reader(model: str | os.PathLike | None = None, threads: int = 1, threshold: float = DEFAULT_THRESHOLD,
                ink: str = "auto", touching: str = "read", number_model: str | os.PathLike | None = None) -> Reader:
    """A reader on `model`, by default exported/lenet.int8.onnx if the working directory has one, else the INT8
    lenet shipped in the package. touching="read" reads groups of digits with the number reader (`number_model`,
    by default `lines.default_number_reader()`), "cut" cuts them with `segment`, "off" reads each blob as one digit."""
    if touching not in TOUCHING:
        raise InputError(f"touching must be one of {', '.join(TOUCHING)}, got {touching!r}")
    sequence = pages = None
    if touching == "read":
        if number_model is None or page.is_strip_reader(number_model):
            pages = page.PageReader(reader=number_model, threads=threads)
        else:
            sequence = lines.SequenceReader(number_model, threads)
    return Reader(Classifier(model or default_model(), threads=threads), threshold, vision.Settings(ink=ink),
                  split=touching != "off", sequence=sequence, pages=pages)


def as_text(digits: list[Digit], mark_uncertain: bool = True) -> str:
    """Digits in reading order, lines separated by a space; an uncertain digit is followed by '?'."""
    out, line = "", None
    for d in digits:
        if line is not None and d.line != line:
            out += " "
        out += d.label + ("?" if mark_uncertain and d.uncertain else "")
        line = d.line
    return out


def as_record(digits: list[Digit]) -> dict:
    """The JSON fields for one frame or image."""
    return {"text": as_text(digits), "digits": [d.label for d in digits],
            "confidences": [round(d.confidence, 4) for d in digits], "uncertain": [d.uncertain for d in digits],
            "boxes": [list(d.box) for d in digits], "lines": [d.line for d in digits]}


def draw(frame: np.ndarray, digits: list[Digit], fps: float | None = None) -> np.ndarray:
    """Boxes, each digit with its confidence (orange and '?' when uncertain), and frames/s, drawn in place."""
    scale = frame.shape[0] / 480.0
    for d in digits:
        x, y, w, h = d.box
        colour = ORANGE if d.uncertain else GREEN
        cv2.rectangle(frame, (x, y), (x + w, y + h), colour, max(1, round(2 * scale)))
        size = float(np.clip(h / 70.0, 0.45, 1.2)) * scale ** 0.5  # captions follow the digit, stay readable
        _label(frame, d.label + ("?" if d.uncertain else ""), (x, y), size, colour, above=True)
        _label(frame, f"{d.confidence:.2f}", (x, y + h), 0.6 * size, colour, above=False)
    if fps is not None:
        _label(frame, f"{fps:.0f} fps  {as_text(digits)}", (round(6 * scale), 0), 0.7 * scale, BLACK, above=False)
    return frame


def _label(frame, text, corner, font_scale, colour, above):
    """Text on a filled tab whose left edge is at corner, just above or just below it."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(2 * font_scale))
    (w, h), base = cv2.getTextSize(text, font, font_scale, thick)
    x, y = corner
    top = max(0, y - h - base - 2) if above else min(y, frame.shape[0] - h - base - 2)
    cv2.rectangle(frame, (x, top), (x + w + 2, top + h + base + 2), colour, cv2.FILLED)
    cv2.putText(frame, text, (x + 1, top + h + 1), font, font_scale, WHITE, thick, cv2.LINE_AA)


# --- sources ---------------------------------------------------------------------------------------------------------


def quiet_opencv() -> None:
    """OpenCV and FFmpeg print their own warnings on stderr for a missing camera or a bad file; we say it in one
    line instead."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A colour image from a file, or InputError naming it (missing, a directory, not an image)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such image file: {path}")
    try:
        raw = np.fromfile(path, np.uint8)
        # imdecode asserts on an empty buffer (cv2.error) and returns None for bytes that are not an image
        image = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    except (OSError, cv2.error) as exc:
        raise InputError(f"cannot read {path} as an image: {' '.join(str(exc).split())[:200]}") from None
    if image is None:
        raise InputError(f"cannot read {path} as an image" + (" (empty file)" if not raw.size else ""))
    return image


@dataclass
class Source:
    name: str
    frames: Iterator[np.ndarray]
    fps: float  # of the source when it says so (cameras, videos), else 0
    release: Callable[[], None] = lambda: None
    kind: str = "camera"  # camera (paces itself), video (shown at its own frame rate) or images (shown until a key)


def open_source(spec: str) -> Source:
    """A camera index ("0"), a video file, an image, a folder of images or a glob ("shots/*.png").
    Failing to open it, or to read its first frame, is an InputError: a missing or busy camera, an unreadable file."""
    quiet_opencv()
    spec = str(spec)
    if spec.isdigit():
        return _capture(cv2.VideoCapture(int(spec)), f"camera {spec}",
                        f"camera {spec} not found or busy (no such device, or another program is using it)", "camera")
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise InputError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in folder {path}")
        return _images(files, str(path))
    if any(ch in spec for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
        if not files:
            raise InputError(f"no files match {spec}")
        return _images(files, spec)
    if not path.is_file():
        raise InputError(f"no such camera, file or folder: {spec}")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return _images([path], spec)
    return _capture(cv2.VideoCapture(str(path)), spec, f"cannot read {spec} as a video (unreadable or not a video)",
                    "video")


def _capture(capture: cv2.VideoCapture, name: str, error: str, kind: str) -> Source:
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok or first is None:
        capture.release()
        raise InputError(error)

    def frames():
        yield first
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame

    return Source(name, frames(), float(capture.get(cv2.CAP_PROP_FPS) or 0.0), capture.release, kind)


def _images(files: list[Path], name: str) -> Source:
    first = read_image(files[0])  # fail before any output if even the first cannot be read

    def frames():
        yield first
        for f in files[1:]:
            yield read_image(f)

    return Source(name, frames(), 0.0, kind="images")


# --- the loop --------------------------------------------------------------------------------------------------------


def open_writer(path: str | os.PathLike, fps: float, size: tuple[int, int],
                shown: str | None = None) -> cv2.VideoWriter:
    """An annotated-video writer: MJPG in .avi (every OpenCV build has it), mp4v in .mp4. `shown` is the name
    messages use (the target, when `path` is its temporary file)."""
    path = Path(path)
    shown = shown or str(path)
    if not path.parent.is_dir():
        raise InputError(f"cannot write {shown}: folder {path.parent} does not exist")
    fourcc = "mp4v" if path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise InputError(f"cannot write video to {shown} (use .avi or .mp4, in a writable folder)")
    return writer


@dataclass
class Stats:
    frames: int = 0
    seconds: float = 0.0
    quit: bool = False  # the user pressed q or Esc

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run(source: Source, reader: Reader, *, headless: bool, save: str | os.PathLike | None = None,
        max_frames: int = 0, out: TextIO | None = None,
        show: Callable[[np.ndarray, float | None], bool] | None = None) -> Stats:
    """Read, draw and emit frames until the source ends, max_frames (0 = no limit) or q/Esc in the window.
    Headless, each frame's JSON line goes to `out` (default stdout), flushed so a pipe sees it at once. In the window
    (`show`, default a window.Window), a video plays at its own frame rate and an image stays until a key is pressed."""
    out = out or sys.stdout
    stats, writer, size, fps = Stats(), None, None, None
    owned = None
    if not headless and show is None:
        owned = window.Window()
        show = owned.show
    start = last = time.perf_counter()
    staging = contextlib.ExitStack()  # the video goes to a temp file, renamed over `save` only if the run ends well
    try:
        for index, frame in enumerate(source.frames):
            began = time.perf_counter()
            digits = reader.read(frame)
            draw(frame, digits, fps)
            if headless:
                ms = round(1e3 * (time.perf_counter() - began), 2)
                record = {"frame": index, "time": round(time.time(), 3), "ms": ms, **as_record(digits)}
                out.write(json.dumps(record) + "\n")
                out.flush()
            if save is not None:
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])  # a video has one size: later images are fitted to it
                    if not Path(save).parent.is_dir():
                        raise InputError(f"cannot write {save}: folder {Path(save).parent} does not exist")
                    staged = staging.enter_context(atomic_path(save))
                    writer = open_writer(staged, source.fps or 30.0, size, shown=str(save))
                writer.write(frame if (frame.shape[1], frame.shape[0]) == size else cv2.resize(frame, size))
            stats.frames += 1
            if not headless and not show(frame, _wait(source, began)):
                stats.quit = True
                break
            now = time.perf_counter()
            fps = 1.0 / max(now - last, 1e-6) if fps is None else 0.9 * fps + 0.1 / max(now - last, 1e-6)
            last = now
            if max_frames and stats.frames >= max_frames:
                break
    except BaseException:
        if writer is not None:
            writer.release()
        staging.__exit__(*sys.exc_info())  # no rename: `save` keeps what it held
        raise
    finally:
        stats.seconds = time.perf_counter() - start
        source.release()
        if owned is not None:
            owned.close()
    if writer is not None:
        writer.release()
    staging.close()  # renames the finished video over `save`
    return stats


def _wait(source: Source, began: float) -> float | None:
    """How long the window holds a frame: an image until a key (None), a video frame for the rest of 1/fps."""
    if source.kind == "images":
        return None
    if source.kind == "video" and source.fps > 0:
        return max(0.0, 1.0 / source.fps - (time.perf_counter() - began))
    return 0.0


def live(spec: str, headless: bool | None, save=None, max_frames: int = 0, model=None, threads: int = 1,
         threshold: float = DEFAULT_THRESHOLD, ink: str = "auto", touching: str = "read", number_model=None) -> Stats:
    """`edgedigits webcam`: read source `spec` in a window, or headless (None: a window when there is a display)."""
    reason = window.why_not()
    automatic = headless is None
    if automatic:
        headless = reason is not None
    elif not headless and reason:
        raise InputError(f"--window: {reason}; or use --headless")
    reader = load_reader(model, threads, threshold, ink, touching, number_model)
    source = open_source(spec)
    if automatic and headless:
        log.info(f"running headless, one JSON line per frame on stdout: {reason}")
    stats = run(source, reader, headless=headless, save=save, max_frames=max_frames)
    log.info(f"{stats.frames} frames from {source.name} in {stats.seconds:.1f} s ({stats.fps:.0f} frames/s)"
             + (f"; wrote {save}" if save and stats.frames else ""))
    return stats


def predict(images: list[str], model=None, threads: int = 1, threshold: float = DEFAULT_THRESHOLD, ink: str = "auto",
            as_json: bool = False, touching: str = "read", number_model=None) -> Iterator[str]:
    """`edgedigits predict`: 'IMAGE: 1234' (or a JSON line) per image; every image is read before the first line."""
    quiet_opencv()
    frames = [read_image(path) for path in images]
    reader = load_reader(model, threads, threshold, ink, touching, number_model)
    for path, frame in zip(images, frames):
        digits = reader.read(frame)
        if as_json:
            yield json.dumps({"image": path, **as_record(digits)})
        else:
            yield f"{path}: {as_text(digits) or '(no digits found)'}"
