"""Writing the annotated video (`webcam --save`), checked: OpenCV's writer reports no write error, so a full disk
would leave a short or unreadable file behind a "wrote". Before each frame the free space of the target's file
system is checked, and when the writer is closed the file is read back (its frame count, and its last frame
decoded); a video that is not whole is an OSError and is never renamed over the target (loop.run)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np

from edgedigits.errors import InputError

BUFFER = 256 * 1024  # bytes FFmpeg may hold before writing them out


class Video:
    """An annotated-video writer: MJPG in .avi (every OpenCV build has it), mp4v in .mp4. `shown` is the name
    messages use (the target, when `path` is its temporary file)."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int], shown: str | None = None):
        self.path, self.size, self.frames, self.reserve = Path(path), size, 0, 0
        self.shown = shown or str(path)
        if not self.path.parent.is_dir():
            raise InputError(f"cannot write {self.shown}: folder {self.path.parent} does not exist")
        fourcc = "mp4v" if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"
        self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self.writer.isOpened():
            raise InputError(f"cannot write video to {self.shown} (use .avi or .mp4, in a writable folder)")

    def write(self, frame: np.ndarray) -> None:
        """Add one frame (fitted to the video's size), after checking there is room for it."""
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size)
        if not self.reserve:  # free space kept in hand: two frames (as a JPEG of the first) and FFmpeg's buffer
            self.reserve = 2 * len(cv2.imencode(".jpg", frame)[1]) + BUFFER
        stat = os.statvfs(self.path.parent)
        if stat.f_bavail * stat.f_frsize < self.reserve:
            raise self._short(f"no space left on the device after {self.frames} frames")
        self.writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        """Finish the file and read it back: every frame written is there and the last one decodes."""
        self.writer.release()
        if not self.frames:
            return
        capture, last = cv2.VideoCapture(str(self.path)), False
        try:
            counted = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if capture.isOpened() else 0
            if counted == self.frames:
                capture.set(cv2.CAP_PROP_POS_FRAMES, self.frames - 1)
                last = capture.read()[0]
        finally:
            capture.release()
        if counted != self.frames or not last:
            raise self._short(f"it reads back {counted} of the {self.frames} frames written"
                              + ("" if counted != self.frames else " (the last does not decode)"))

    def release(self) -> None:
        self.writer.release()

    def _short(self, why: str) -> OSError:
        return OSError(errno.ENOSPC if "space" in why else errno.EIO, f"cannot write {self.shown}: {why}; it keeps "
                       f"what it held before")
