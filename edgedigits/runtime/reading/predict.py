"""`edgedigits predict`: the digits in each image file, as text or JSON lines, one image at a time."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from edgedigits.errors import InputError
from edgedigits.runtime.reading import find
from edgedigits.runtime.reading.images import quiet_opencv, read_image
from edgedigits.runtime.reading.output import as_record, as_text
from edgedigits.runtime.reading.reader import DEFAULT_THRESHOLD, load_reader


def predict(images: list[str], model=None, threads: int = 1, threshold: float = DEFAULT_THRESHOLD, ink: str = "auto",
            as_json: bool = False, touching: str = "read", number_model=None,
            problems: list[str] | None = None) -> Iterator[str]:
    """'IMAGE: 1234' (or a JSON line) per image, each yielded as soon as it is read: one image is decoded at a time,
    so memory does not grow with the number of images. Missing files and bad options are refused before the first
    line. An image that cannot be decoded is an InputError, or, given a `problems` list, noted there and skipped."""
    quiet_opencv()
    images = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    if not all(isinstance(path, (str, os.PathLike)) for path in images):
        raise InputError("images are paths of image files")
    missing = [path for path in images if not Path(path).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if missing[1:] else ""
        raise InputError(f"no such image file: {missing[0]}{more}")
    reader = load_reader(model, threads, threshold, ink, touching, number_model)
    for path in images:
        try:
            frame = read_image(path)
        except InputError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
            continue
        digits = reader.read(frame)
        if as_json:
            yield json.dumps({"image": str(path), **as_record(digits)}, allow_nan=False)
        else:
            yield f"{path}: {as_text(digits) or none_found(frame, reader.settings)}"


def none_found(frame, settings: find.Settings) -> str:
    """What a reading without digits prints, saying so when marks were there but too small to read."""
    small = find.find_digits(frame, settings).small
    if not small:
        return "(no digits found)"
    return (f"(no digits found: {small} mark{'s' * (small != 1)} shorter than {settings.min_height:.0%} of the image "
            f"height, too small to read; crop closer or photograph fewer lines)")
