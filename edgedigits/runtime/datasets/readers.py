"""Images from your own files, as uint8 arrays [N,H,W] (grayscale) or [N,H,W,3] (RGB): the rows of a CSV (one
column per pixel, row-major, channels last) and the image files of a folder (decoded and resized by OpenCV). Every
problem is one InputError naming the file and the line or image: a ragged row, a pixel that is not a number in
0..255, an empty class folder, an image OpenCV cannot read, sizes that differ with no size to resize them to."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime.reading.images import IMAGE_EXTENSIONS, read_image

CHUNK = 1000  # CSV rows converted to numbers at once: the text of 1,000 rows of 784 pixels is ~100 MB of strings
ID_COLUMN = "id"  # a CSV column of this name (any case) identifies the row; it is never a pixel


def read_csv(path: Path, label: str, shape: tuple | None):
    """A labelled CSV: images, their labels as written, and the image shape [H, W, C]."""
    x, labels, _, shape = read_rows(path, label, shape, need_label=True)
    return x, labels, shape


def read_rows(path: Path, label: str, shape: tuple | None, need_label: bool = False):
    """A CSV's images, its labels (None without a label column), its row ids (the "id" column, else line numbers)
    and the image shape. The first line names the columns; every other column than label and id is a pixel."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _read_rows(csv.reader(f), path, label, shape, need_label)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a CSV text file ({' '.join(str(exc).split())[:120]})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_rows(rows, path: Path, label: str, shape, need_label: bool):
    header = [name.strip() for name in next(rows, [])]
    if not header:
        raise InputError(f"{path}: empty file (expected a header line naming the columns, then one row per image)")
    if all(_is_number(name) for name in header):
        raise InputError(f"{path}: the first line must name the columns (e.g. {label}, pixel0, pixel1, ...); it "
                         f"holds numbers")
    lowered = [name.lower() for name in header]
    label_at = lowered.index(label.lower()) if label.lower() in lowered else None
    id_at = lowered.index(ID_COLUMN) if ID_COLUMN in lowered else None
    if need_label and label_at is None:
        shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
        raise InputError(f"{path}: no label column {label!r} (columns: {shown}); name it with dataset.label")
    pixels = [i for i in range(len(header)) if i not in (label_at, id_at)]
    shape = _shape(len(pixels), shape, path)
    span = slice(pixels[0], pixels[-1] + 1) if pixels and pixels[-1] - pixels[0] + 1 == len(pixels) else None
    labels, ids, blocks, chunk, lines = [], [], [], [], []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue  # a blank line
        if len(row) != len(header):
            raise InputError(f"{path} line {line}: {len(row)} values, but the header names {len(header)} columns "
                             f"(a ragged row)")
        if label_at is not None:
            labels.append(row[label_at].strip())
        ids.append(row[id_at].strip() if id_at is not None else str(line))
        chunk.append(row[span] if span else [row[i] for i in pixels])
        lines.append(line)
        if len(chunk) == CHUNK:
            blocks.append(_numbers(chunk, lines, [header[i] for i in pixels], path))
            chunk, lines = [], []
    if chunk:
        blocks.append(_numbers(chunk, lines, [header[i] for i in pixels], path))
    if not blocks:
        raise InputError(f"{path}: no rows (a header line, then one row per image)")
    x = np.concatenate(blocks).reshape(-1, *shape)
    return (x[..., 0] if shape[2] == 1 else x), (labels if label_at is not None else None), ids, shape


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _shape(count: int, shape, path: Path) -> tuple:
    """The image shape of `count` pixel columns: the one given, else a square grayscale or RGB image."""
    if count == 0:
        raise InputError(f"{path}: no pixel columns")
    if shape:
        if math.prod(shape) != count:
            raise InputError(f"{path}: {count} pixel columns, but dataset.shape {list(shape)} has {math.prod(shape)} "
                             f"pixels")
        return tuple(shape)
    for channels in (1, 3):
        side = math.isqrt(count // channels)
        if side * side * channels == count:
            return side, side, channels
    raise InputError(f"{path}: {count} pixel columns are not a square grayscale or RGB image; give dataset.shape = "
                     f"[height, width, channels]")


def _numbers(chunk: list, lines: list, names: list, path: Path) -> np.ndarray:
    """Pixel text to uint8, or the first bad cell named: not a number, not finite, not an integer 0..255."""
    try:
        values = np.array(chunk, dtype=np.float32)
    except ValueError:
        for row, line in zip(chunk, lines):
            for name, text in zip(names, row):
                if not _is_number(text):
                    raise InputError(f"{path} line {line}: pixel {name} is {text.strip()[:20]!r}, not a number "
                                     f"0..255") from None
        raise
    bad = ~np.isfinite(values) | (values < 0) | (values > 255) | (values != np.round(values))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(f"{path} line {lines[row]}: pixel {names[col]} is {chunk[row][col].strip()[:20]}, expected "
                         f"an integer 0..255")
    return values.astype(np.uint8)


# --- image folders -------------------------------------------------------------------------------------------------


def read_folder(root: Path, label: str, shape: tuple | None):
    """A folder with one subfolder of images per class: images, their class (the subfolder's name) and the shape."""
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not folders:
        raise InputError(f"{root}: no class folders (one subfolder of images per class)")
    files, labels = [], []
    for folder in folders:
        found = image_files(folder)
        if not found:
            raise InputError(f"{folder}: empty class folder (no {', '.join(sorted(IMAGE_EXTENSIONS))} images)")
        files += found
        labels += [folder.name] * len(found)
    x, shape = decode_all(files, shape)
    return x, labels, shape


def image_files(folder: Path) -> list[Path]:
    """The image files under `folder` (its subfolders too), by name; hidden files and other files are skipped."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def decode_all(files: list[Path], shape: tuple | None) -> tuple[np.ndarray, tuple]:
    """Decode every file to uint8; with `shape`, each is converted to its channels and resized to its size;
    without, all must have one size (their channels: 1 if all are grayscale, else 3)."""
    images = []
    for path in files:
        image = decode(path)
        if shape:
            image = fit(image, shape)
        elif images and image.shape[:2] != images[0].shape[:2]:
            (h0, w0), (h, w) = images[0].shape[:2], image.shape[:2]
            raise InputError(f"images of different sizes ({w0}x{h0} {files[0]}, {w}x{h} {path}): give "
                             f"dataset.shape = [height, width, channels] to resize them all")
        images.append(image)
    if not shape:
        channels = 1 if all(image.ndim == 2 for image in images) else 3
        shape = (*images[0].shape[:2], channels)
        images = [to_channels(image, channels) for image in images]
    return np.stack(images), tuple(shape)


def decode(path: Path) -> np.ndarray:
    """One image file as uint8 [H,W] (grayscale: its three channels equal) or [H,W,3] (RGB), or InputError naming
    it; read_image's limits and checks apply, transparency is flattened."""
    image = read_image(path)  # BGR uint8
    if (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all():
        return image[..., 0].copy()
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """[H,W] grayscale or [H,W,3] RGB, converted to `channels` (1: [H,W], 3: [H,W,3])."""
    if channels == 1 and image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if channels == 3 and image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


def fit(image: np.ndarray, shape: tuple) -> np.ndarray:
    """One image in `shape` [H, W, C]: its channels converted, resized (area when shrinking, linear when growing)."""
    height, width, channels = shape
    image = to_channels(image, channels)
    if image.shape[:2] != (height, width):
        shrink = image.shape[0] * image.shape[1] > height * width
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return image


def fit_images(x: np.ndarray, shape: tuple | None) -> np.ndarray:
    """uint8 [N,H,W] or [N,H,W,C] as the dataset's images: [N,H,W] when grayscale, resized to `shape` if given."""
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if not shape or tuple(x.shape[1:3]) + ((x.shape[3],) if x.ndim == 4 else (1,)) == tuple(shape):
        return x
    return np.stack([fit(image, shape) for image in x])
