"""The live digit reader: frames from a camera, video file or images in; boxes, digits and confidences out, drawn
in a window, as one JSON line per frame (headless), and optionally as an annotated video.

It is the first app that embeds an exported model, so it uses only what any app gets: the runtime (onnxruntime +
numpy) and OpenCV. Never TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime.model.artifacts import atomic_path
from edgedigits.runtime.reading.output import as_record, draw
from edgedigits.runtime.reading.reader import DEFAULT_THRESHOLD, Reader, load_reader
from edgedigits.runtime.webcam import window
from edgedigits.runtime.webcam.sources import Source, open_source
from edgedigits.runtime.webcam.video import Video

log = logging.getLogger(__name__)


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
    stats, writer, fps = Stats(), None, None
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
                out.write(json.dumps(record, allow_nan=False) + "\n")
                out.flush()
            if save is not None:
                if writer is None:  # a video has one size: later images are fitted to it
                    if not Path(save).parent.is_dir():
                        raise InputError(f"cannot write {save}: folder {Path(save).parent} does not exist")
                    staged = staging.enter_context(atomic_path(save))
                    writer = Video(staged, source.fps or 30.0, (frame.shape[1], frame.shape[0]), shown=str(save))
                writer.write(frame)
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
        try:
            writer.close()  # and read back: a video that is not whole never replaces `save`
        except BaseException:
            staging.__exit__(*sys.exc_info())
            raise
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


