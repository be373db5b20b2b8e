"""`edgedigits predict`: the digits in each image file, as text or JSON lines."""

from __future__ import annotations

import json
from typing import Iterator

from edgedigits.runtime.reading.images import quiet_opencv, read_image
from edgedigits.runtime.reading.output import as_record, as_text
from edgedigits.runtime.reading.reader import DEFAULT_THRESHOLD, load_reader


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
