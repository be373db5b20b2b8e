"""A second opinion on each number the page reader read: the binary-ink number reader (`sequence`) reads the same
number again from its blobs. The strip reader sometimes drops one of two touching digits or adds a faint one; the
blob reader, which sees each blob's ink, counts touching digits more reliably on clean ink but reads clutter badly.
So the blob reader's digits are taken only where the strip reader doubts its own and the blob reader is sure, or
where the blob reader reads the same digits with one added (or dropped) and is clearly more confident, within one
line, in a region with no more blobs than digits.

And a number of one digit the strip reader doubts, beside a number of several digits or one read surely, is dropped:
on photos and scans such a "number" is nearly always a speck, a shadow's edge, a mark at the frame's border or a
letter of a word nearby, not a digit someone wrote. So is a longer number read with low confidence on average beside
a number read surely: letters, ruled lines and printed text cut off at the frame's edge read that way. numpy only."""

from __future__ import annotations

MARGIN = 0.3  # of the number's height: room around the strip reader's boxes for the blob finder
SURE = 0.8  # the blob reader's confidence in a digit, for it to replace or add one
DROPPED_SURE = 0.9  # ... its least confident digit, for its reading to drop one of the strip reader's digits
DOUBT = 0.7  # the strip reader's confidence below which its digit may be replaced
DROPPED_DOUBT = 0.6  # ... below which its least confident digit may be dropped
LONE_DOUBT = 0.9  # a one-digit number read with less confidence, beside a longer number or a sure one, is dropped
MEAN_DOUBT = 0.8  # a longer number read with less mean confidence, beside a number read surely, is dropped
SURE_NUMBER = 0.9  # every digit at least this confident: a number read surely


def subsequence(short: list[int], long: list[int]) -> bool:
    """Whether `short` is `long` with some digits left out (order kept)."""
    rest = iter(long)
    return all(d in rest for d in short)


def region(boxes: list[tuple[int, int, int, int]], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the number's boxes with MARGIN around them, inside an image of `shape`."""
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    m = int(MARGIN * (y1 - y0)) + 2
    return max(0, x0 - m), max(0, y0 - m), min(shape[1], x1 + m), min(shape[0], y1 + m)


def choose(strip: list[tuple[int, float]], other: list[tuple[int, float]]) -> list[int]:
    """Which reading each digit comes from (0 the strip reader's, 1 the blob reader's), given both as (digit,
    confidence) pairs; [] keeps the strip reader's reading whole. Of two readings of as many digits, a digit the
    strip reader doubts is the blob reader's where that one is sure of it; the blob reader's reading replaces the
    strip reader's when it holds the same digits with one added (and it is sure of every digit) or one dropped (and
    the strip reader doubts one of its own)."""
    a, b = [d for d, _ in strip], [d for d, _ in other]
    a_least, b_least = min((c for _, c in strip), default=0.0), min((c for _, c in other), default=0.0)
    if not b or a == b:
        return []
    if len(b) == len(a):
        return [int(s[1] < DOUBT and o[1] >= SURE and o[1] > s[1]) for s, o in zip(strip, other)]
    if len(b) == len(a) + 1 and subsequence(a, b) and b_least >= SURE:
        return [1] * len(b)
    if len(b) == len(a) - 1 and subsequence(b, a) and b_least >= DROPPED_SURE and a_least < DROPPED_DOUBT:
        return [1] * len(b)
    return []


def drop_doubts(numbers: list[list[tuple[int, float]]]) -> list[bool]:
    """Which numbers (each a list of (digit, confidence)) to keep: all but the one-digit numbers read with less than
    LONE_DOUBT confidence when another number has several digits or is read surely (a register row's one digit
    beside a cursive word's letter read as a digit), and the longer ones read with less than MEAN_DOUBT mean
    confidence when another number is read surely."""
    longer = any(len(n) > 1 for n in numbers)
    sure = [bool(n) and min(c for _, c in n) >= SURE_NUMBER for n in numbers]
    keep = []
    for i, n in enumerate(numbers):
        mean = sum(c for _, c in n) / max(1, len(n))
        surer = sum(sure) > sure[i]  # another number is read surely
        lone = (longer or surer) and len(n) == 1 and n[0][1] < LONE_DOUBT
        keep.append(not lone and not (len(n) > 1 and surer and mean < MEAN_DOUBT))
    return keep
