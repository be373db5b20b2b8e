"""What a reading looks like to a person or a program: the text ("156 288", "7?" when unsure), the JSON record,
and the annotated frame (boxes, digits, confidences, frames/s)."""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime.reading.reader import Digit

GREEN, ORANGE, WHITE, BLACK = (60, 200, 60), (0, 140, 255), (255, 255, 255), (0, 0, 0)


def _checked(digits) -> list[Digit]:
    """What Reader.read returned: a list of Digit; anything else is an InputError."""
    if not isinstance(digits, (list, tuple)) or not all(isinstance(d, Digit) for d in digits):
        raise InputError(f"expected the digits Reader.read returns (a list of Digit), got {type(digits).__name__}")
    return digits


def as_text(digits: list[Digit], mark_uncertain: bool = True) -> str:
    """Digits in reading order, lines separated by a space; an uncertain digit is followed by '?'."""
    out, line = "", None
    _checked(digits)
    for d in digits:
        if line is not None and d.line != line:
            out += " "
        out += d.label + ("?" if mark_uncertain and d.uncertain else "")
        line = d.line
    return out


def as_record(digits: list[Digit]) -> dict:
    """The JSON fields for one frame or image."""
    _checked(digits)
    return {"text": as_text(digits), "digits": [d.label for d in digits],
            "confidences": [round(d.confidence, 4) for d in digits], "uncertain": [d.uncertain for d in digits],
            "boxes": [list(d.box) for d in digits], "lines": [d.line for d in digits]}


def draw(frame: np.ndarray, digits: list[Digit], fps: float | None = None) -> np.ndarray:
    """Boxes, each digit with its confidence (orange and '?' when uncertain), and frames/s, drawn in place."""
    _checked(digits)
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim not in (2, 3) or not frame.size:
        raise InputError(f"draw needs a uint8 image to draw on, got {getattr(frame, 'dtype', type(frame).__name__)} "
                         f"{list(getattr(frame, 'shape', []))}")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float, np.number))
                            or not -1e9 < fps < 1e9):  # NaN fails too
        raise InputError(f"fps must be a finite number or None, got {str(fps)[:40]!r}")
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


