"""Read every handwritten number in an image: the number finder marks each number's centre line, each number is cut
out as a level grey strip, and the strip reader reads all strips of the image in one batch. Numbers come out in
reading order: a number joins a row when it lies on the row's first number's centre line, extended (so a number on
a rising line stays one row), rows top to bottom, left to right in a row. A number the strip reader doubts is read
again from strips moved across its line (`PageReader.reads`), and a digit two found lines both read counts once
(`once`). numpy, OpenCV and onnxruntime only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.runtime.model import shipped
from edgedigits.runtime.model.jsonfile import read_json
from edgedigits.runtime.model.session import open_session
from edgedigits.runtime.reading import finder as finder_mod
from edgedigits.runtime.reading import strips as strips_mod

MIN_SIDE = 2  # pixels: a crop of one thin "1" may be a few pixels wide
ROW_TOLERANCE = 0.5  # a number is on a row when its centre is within this x the digit height of the row's line
RECHECK = 0.9  # a number read with a digit less sure than this is read again from strips shifted across its line...
SHIFT = 0.1  # ...by this x its digit height, up and down; the first strip's output weighs 1/2, each moved one 1/4
FINDER_SET, STRIPS_SET = "page-finder", "page-strips"  # the shipped sets (exported/NAME/NAME.json and files)


@dataclass
class Read:
    """One digit read: its box in image pixels, digit, confidence, and the index of its number in reading order."""

    box: tuple[int, int, int, int]
    digit: int
    confidence: float
    number: int


def default_file(name: str) -> Path:
    """The file a shipped set's manifest names as its default (`files[default]`), found next to the package's
    shipped models, never relative to the working directory; its INT8 file when the manifest does not read."""
    folder = shipped.SHIPPED / name
    try:
        manifest = read_json(folder / f"{name}.json")
        return folder / Path(manifest["files"][manifest["default"]]).name
    except (OSError, ValueError, KeyError, TypeError):
        return folder / f"{name}.int8.onnx"


def is_strip_reader(path: str | os.PathLike) -> bool:
    """Whether an ONNX file is a strip reader (its metadata says so) rather than a binary-ink number reader."""
    return strips_mod.kind_of(open_session(path)) == strips_mod.KIND


def same_ink(boxes: list[tuple[int, int, int, int]], share: float = 0.5) -> bool:
    """Whether two of these (x, y, w, h) boxes overlap by at least `share` of the smaller one: the page reader read
    the same ink twice (the number finder can lay two overlapping lines over one digit)."""
    for i, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            dx, dy = min(x + w, x2 + w2) - max(x, x2), min(y + h, y2 + h2) - max(y, y2)
            if dx > 0 and dy > 0 and dx * dy >= share * min(w * h, w2 * h2):
                return True
    return False


def once(reads: list[Read]) -> list[Read]:
    """`reads` with each ink read once: of two digits of different numbers on the same ink (`same_ink`), the less
    sure one is dropped (the later one on a tie), and the numbers left are counted again from 0."""
    dropped: set[int] = set()
    for i, a in enumerate(reads):
        for j in range(i + 1, len(reads)):
            b = reads[j]
            if a.number != b.number and not dropped & {i, j} and same_ink([a.box, b.box]):
                dropped.add(i if a.confidence < b.confidence else j)
    numbers: dict[int, int] = {}
    return [Read(r.box, r.digit, r.confidence, numbers.setdefault(r.number, len(numbers)))
            for k, r in enumerate(reads) if k not in dropped]


def reading_order(lines: list[finder_mod.Line]) -> list[int]:
    """Indices of `lines` in reading order."""
    rows: list[list[int]] = []
    centre = [(ln.start + ln.end) / 2 for ln in lines]
    for i in sorted(range(len(lines)), key=lambda i: (centre[i][1], centre[i][0])):
        for row in rows:
            first = lines[row[0]]
            d = first.end - first.start
            slope = d[1] / d[0] if abs(d[0]) > 1e-9 else 0.0
            y = first.start[1] + slope * (centre[i][0] - first.start[0])
            if abs(y - centre[i][1]) < ROW_TOLERANCE * max(first.height, lines[i].height):
                row.append(i)
                break
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: lines[i].start[0])]


class PageReader:
    """The number finder and the strip reader together."""

    def __init__(self, finder: str | os.PathLike | None = None, reader: str | os.PathLike | None = None,
                 threads: int = 1):
        self.finder = finder_mod.Finder(default_file(FINDER_SET) if finder is None else finder, threads)
        self.reader = strips_mod.StripReader(default_file(STRIPS_SET) if reader is None else reader, threads)

    def lines(self, gray: np.ndarray) -> list[finder_mod.Line]:
        """The numbers' centre lines in reading order."""
        found = self.finder.find(gray)
        return [found[i] for i in reading_order(found)]

    def read(self, gray: np.ndarray) -> list[Read]:
        """The digits of every number found, in reading order, each ink read once (`once`)."""
        return once(self.reads(gray))

    def reads(self, gray: np.ndarray) -> list[Read]:
        """The digits of every number found, in reading order; one digit may be read on two found lines. A number the
        strip reader doubts (a digit under RECHECK) is read again from two more strips, its line moved SHIFT x its
        digit height up and down, and its digits decoded from the weighted mean of the three outputs (1/2, 1/4, 1/4,
        in float64): a strip cut a little off the centre line reads a digit the first one misread, and an error of
        one cut seldom survives the mean. (An equal mean read as many register rows and cheque amounts right, but
        more numbers of touching digits wrong.)"""
        lines = self.lines(gray)
        cut = [strips_mod.strip(gray, line) for line in lines]
        if not cut:
            return []
        probs, steps = self.reader.probabilities(cut)
        readings = [self.reader.digits(s, p[:t]) for s, p, t in zip(cut, probs, steps)]
        doubted = [i for i, r in enumerate(readings) if r and min(c for _, c, _ in r) < RECHECK]
        if doubted:
            more, _ = self.reader.probabilities([strips_mod.strip(gray, strips_mod.shifted(lines[i], sign * SHIFT))
                                                 for sign in (-1, 1) for i in doubted])
            for j, i in enumerate(doubted):
                t = steps[i]
                mean = 0.5 * probs[i, :t].astype(np.float64) + 0.25 * more[j, :t] + 0.25 * more[len(doubted) + j, :t]
                readings[i] = self.reader.digits(cut[i], mean)
        out, number = [], 0
        for reading in readings:
            if not reading:
                continue
            out += [Read(box, label, confidence, number) for label, confidence, box in reading]
            number += 1
        return out
