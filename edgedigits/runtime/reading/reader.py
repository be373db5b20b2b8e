"""The reader: a frame in, the digits it holds out (box, label, confidence, line), in reading order. Finding
(`find`), the per-digit classifier, and for numbers whose digits touch the number reader (`sequence`) or seam cuts
(`segment`). What an app that reads a photo or a camera frame uses; numpy, onnxruntime and OpenCV only."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from edgedigits.errors import InputError
from edgedigits.limits import MAX_IMAGE_PIXELS
from edgedigits.runtime.model import shipped
from edgedigits.runtime.model.classifier import Classifier, finite
from edgedigits.runtime.model.contract import IMAGE_INPUT
from edgedigits.runtime.reading import crop, find, opinion, page, segment, sequence
from edgedigits.runtime.reading.sequence import SequenceReader

DEFAULT_THRESHOLD = 0.8  # below this the digit is shown as uncertain ("7?") rather than guessed silently


@dataclass
class Digit:
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    label: str
    confidence: float
    line: int
    uncertain: bool


class Reader:
    """Finds the digits of a frame and classifies them in one batch. Digits written close together touch and one blob
    holds several; a thin stroke can break one digit into two. With a `sequence` model (`sequence.SequenceReader`),
    each number is also read whole, as a sequence (`_read_groups`). Without one, where the first reading may be wrong
    (a blob wider than one digit, not clearly read as one; blobs close together) the line is cut into candidate
    digits, all scored in one more batch, and read as the digits its best-scoring split gives (`segment`).
    split=False reads every blob as one digit. With `pages` (`page.PageReader`), the number finder and the strip
    reader read the frame instead; a `sequence` model then gives each number a second opinion (`opinion`)."""

    def __init__(self, classifier: Classifier, threshold: float = DEFAULT_THRESHOLD,
                 settings: find.Settings = find.DEFAULT, split: bool = True,
                 sequence: sequence.SequenceReader | None = None, pages: page.PageReader | None = None):
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) or not (
                0.0 <= threshold <= 1.0):  # NaN fails the comparison too
            raise InputError(f"confidence threshold must be in [0, 1], got {str(threshold)[:40]!r}")
        if not isinstance(classifier, Classifier):
            raise InputError(f"a Reader needs a Classifier (runtime.Classifier(path)), got {type(classifier).__name__}")
        for name, value, kind in (("settings", settings, find.Settings), ("split", split, bool),
                                  ("sequence", sequence, (SequenceReader, type(None))),
                                  ("pages", pages, (page.PageReader, type(None)))):
            if not isinstance(value, kind):
                raise InputError(f"Reader {name} must be {getattr(kind, '__name__', f'a {name} reader or None')}, "
                                 f"got {type(value).__name__}")
        if classifier.input_shape != IMAGE_INPUT:  # the reader cuts 28x28 grayscale digits, MNIST-normalized
            raise InputError(f"{classifier.path}: the digit reader needs a model of 28x28x1 digits, this one takes "
                             f"{'x'.join(map(str, classifier.input_shape))} images")
        self.classifier, self.threshold, self.settings, self.split = classifier, threshold, settings, split
        self.sequence, self.pages = sequence, pages
        self._scores(np.zeros((1, 28, 28), np.uint8))  # warm-up: the first frame is not the slow one

    def _scores(self, images: np.ndarray) -> np.ndarray:
        return finite(self.classifier.probabilities(images), self.classifier.path)

    def read(self, frame: np.ndarray) -> list[Digit]:
        """The digits of one frame (uint8 BGR, BGRA or grey, at most limits.MAX_IMAGE_PIXELS pixels)."""
        if isinstance(frame, np.ndarray) and frame.ndim >= 2 and frame.shape[0] * frame.shape[1] > MAX_IMAGE_PIXELS:
            raise InputError(f"a frame of {frame.shape[1]}x{frame.shape[0]} pixels is over the {MAX_IMAGE_PIXELS:,}-"
                             f"pixel limit: scale it down first")
        if self.pages is not None:  # the number finder and the strip reader
            gray = find.to_gray(frame, page.MIN_SIDE)
            found = self.pages.reads(gray)
            reads = page.once(found)
            # a narrow image read as two digits may be one wide digit, and one read on two overlapping lines is one
            narrow = crop.is_crop(gray)
            twice = narrow and page.same_ink([r.box for r in found])
            if twice or (narrow and len(found) <= 2):
                reads = self._read_crop(gray, reads, twice)
            elif self.sequence is not None:
                reads = self._second_opinion(gray, reads)
            return [Digit(r.box, self.classifier.labels[r.digit], r.confidence, r.number, r.confidence < self.threshold)
                    for r in reads]
        found = find.find_digits(frame, self.settings)
        if not len(found):
            return []
        probs = self._scores(found.images)
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
            probs = np.concatenate([probs, self._scores(np.stack(extra))])
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

    def _read_crop(self, gray: np.ndarray, reads: list[page.Read], twice: bool) -> list[page.Read]:
        """An image of one tight digit (`crop`) read by the classifier too (its mean over the digit as written and
        turned a little either way, `crop.turned`): its reading replaces the page reader's when the page reader found
        no digit or was less sure of its digit (of either, where it read two), and always when the page reader read
        the same ink twice (`twice`: two found lines over one digit count it twice)."""
        found = crop.digit_image(gray)
        if found is None:
            return reads
        image, box = found
        p = self._scores(crop.turned(image)).mean(0)
        if reads and not twice and min(r.confidence for r in reads) >= p.max():
            return reads
        return [page.Read(box, int(p.argmax()), float(p.max()), 0)]

    def _second_opinion(self, gray: np.ndarray, reads: list[page.Read]) -> list[page.Read]:
        """Each number the page reader read, read again by the number reader from the blob finder's blobs in its
        region (`opinion`); the two readings are combined as `opinion.choose` says, and a doubted lone digit beside
        a longer or a sure number, and a doubted longer number beside a sure one, are dropped
        (`opinion.drop_doubts`)."""
        numbers: dict[int, list[page.Read]] = {}
        for r in reads:
            numbers.setdefault(r.number, []).append(r)
        found = find.find_digits(gray, self.settings) if numbers and min(gray.shape) >= find.MIN_SIDE else None
        if found:
            probs = self._scores(found.images)
            centres = found.boxes[:, :2] + found.boxes[:, 2:] / 2
            numbers = {n: self._read_again(gray, found, probs, centres, mine) for n, mine in numbers.items()}
        kept = [mine for mine, keep in zip(numbers.values(), opinion.drop_doubts(
            [[(r.digit, r.confidence) for r in mine] for mine in numbers.values()])) if keep]
        return [page.Read(r.box, r.digit, r.confidence, n) for n, mine in enumerate(kept) for r in mine]

    def _read_again(self, gray: np.ndarray, found: find.Found, probs: np.ndarray, centres: np.ndarray,
                    mine: list[page.Read]) -> list[page.Read]:
        """One number's reading after the number reader's second opinion on the frame's blobs (`centres`: each
        blob's box centre) in its region."""
        x0, y0, x1, y1 = opinion.region([r.box for r in mine], gray.shape)
        inside = np.flatnonzero((centres[:, 0] >= x0) & (centres[:, 0] < x1) & (centres[:, 1] >= y0)
                                & (centres[:, 1] < y1))
        if not len(inside) or len(set(found.lines[inside].tolist())) > 1:  # one line of blobs, or no opinion
            return mine
        blobs = find.Found(found.boxes[inside], np.zeros(len(inside), int), found.images[inside],
                           [found.ink[k] for k in inside])
        reach = opinion.MARGIN * max(r.box[3] for r in mine)
        left, right = min(r.box[0] for r in mine) - reach, max(r.box[0] + r.box[2] for r in mine) + reach
        other = [page.Read(d.box, self.classifier.labels.index(d.label), d.confidence, 0)
                 for d in self._read_groups(blobs, probs[inside])
                 if left <= d.box[0] + d.box[2] / 2 <= right]  # a mark beside the number is not a digit of it
        if len(inside) > max(len(mine), len(other)):  # clutter gives more blobs than digits
            return mine
        pick = opinion.choose([(r.digit, r.confidence) for r in mine], [(r.digit, r.confidence) for r in other])
        return [other[k] if p else mine[k] for k, p in enumerate(pick)] if pick else mine

    def _read_groups(self, found: find.Found, probs: np.ndarray) -> list[Digit]:
        """Every number (`sequence.groups`) read by the sequence model, all in one batch. Where it reads one digit
        per blob, each in its own blob, the classifier has read the same digits one by one: the more confident of
        the two readings wins, digit by digit (the classifier is the better reader of a digit standing alone, the
        sequence model of digits that touch)."""
        groups = sequence.groups(found.boxes, found.lines)
        readings = self.sequence.read([sequence.group_image(found.boxes, found.ink, g) for g in groups])
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


# numbers of touching digits: the page reader with the number reader's second opinion, the page reader alone (as the
# web page reads), seam cuts, each blob one digit
TOUCHING = ("read", "strips", "cut", "off")


def load_reader(model: str | os.PathLike | None = None, threads: int = 1, threshold: float = DEFAULT_THRESHOLD,
                ink: str = "auto", touching: str = "read", number_model: str | os.PathLike | None = None,
                finder: str | os.PathLike | None = None) -> Reader:
    """A reader on `model`, by default an INT8 classifier shipped in the package. touching="read" (the default) finds
    numbers with the number finder and reads each with the strip reader (`page`; `number_model`, by default the
    shipped strip reader), the shipped number reader reading it again as a second opinion (`opinion`; "strips": the
    page reader alone), and an image of one digit with `model` (by default the crop classifier, `crop`); a
    `number_model` that is a binary-ink number reader reads the blob finder's groups instead, with `model` (by default
    lenet). "cut" cuts blobs with `segment`, "off" reads each blob as one digit (both with the blob finder and lenet
    by default). `finder`: a number finder file of your own (by default the shipped one)."""
    if not isinstance(touching, str) or touching not in TOUCHING:
        raise InputError(f"touching must be one of {', '.join(TOUCHING)}, got {str(touching)[:40]!r}")
    numbers = pages = None
    if touching in ("read", "strips"):
        if number_model is None or page.is_strip_reader(number_model):
            pages = page.PageReader(finder, number_model, threads=threads)
            if touching == "read":  # the second opinion
                numbers = sequence.SequenceReader(shipped.default_number_reader(), threads)
        else:
            numbers = sequence.SequenceReader(number_model, threads)
    if model is None:  # the page reader reads an image of one digit with the crop classifier (`crop`)
        model = shipped.crop_model() if pages is not None else shipped.default_model()
    return Reader(Classifier(model, threads=threads), threshold,
                  find.Settings(ink=ink), split=touching != "off", sequence=numbers, pages=pages)
