"""Width, height and whether an image file carries transparency, from its first bytes: so a file whose pixels would
not fit the limit (limits.MAX_IMAGE_PIXELS) is refused, or a JPEG decoded smaller, before anything is decoded.
PNG, JPEG, GIF, BMP, WebP, TIFF and PNM headers are read here (a few fields each, as their specifications lay them
out); for any other format the decoder's own pixel limit applies (images.py)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

HEAD = 64 * 1024  # bytes read up front; a JPEG's frame header may lie further (large EXIF/ICC segments): it seeks


@dataclass(frozen=True)
class Header:
    format: str  # png, jpeg, gif, bmp, webp, tiff, pnm
    width: int
    height: int
    alpha: bool = False  # the file may hold transparency (PNG colour type 4/6 or tRNS, WebP alpha)

    @property
    def pixels(self) -> int:
        return self.width * self.height


def sniff(f: BinaryIO) -> Header | None:
    """The header of the image file open in `f` (binary, seekable), or None when the format is not one read here
    or the header is cut short. Never reads more than a few segments of the file."""
    f.seek(0)
    head = f.read(HEAD)
    try:
        for magic, reader in _READERS:
            if head.startswith(magic):
                return reader(head, f)
    except (struct.error, IndexError, ValueError):
        return None
    return None


def _png(head: bytes, f) -> Header | None:
    if head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    colour = head[25]
    alpha, at = colour in (4, 6), 8
    while at + 8 <= len(head) and not alpha:  # a tRNS chunk before the image data makes a colour transparent
        length, kind = struct.unpack(">I4s", head[at : at + 8])
        if kind in (b"IDAT", b"IEND"):
            break
        alpha, at = kind == b"tRNS", at + 12 + length
    return Header("png", width, height, alpha)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(head: bytes, f) -> Header | None:
    at = 2
    for _ in range(1000):  # segments before the frame header: a file with more is not read here
        f.seek(at)
        marker = f.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            at += 1
            continue
        if kind in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            at += 2
            continue
        length = struct.unpack(">H", marker[2:4])[0]
        if kind in _SOF:
            frame = f.read(5)
            height, width = struct.unpack(">HH", frame[1:5])
            return Header("jpeg", width, height)
        if kind in (0xD9, 0xDA) or length < 2:  # end of image or scan data before any frame header
            return None
        at += 2 + length
    return None


def _gif(head: bytes, f) -> Header:
    width, height = struct.unpack("<HH", head[6:10])
    return Header("gif", width, height)


def _bmp(head: bytes, f) -> Header:
    if struct.unpack("<I", head[14:18])[0] == 12:  # OS/2 bitmap header: 16-bit sizes
        width, height = struct.unpack("<HH", head[18:22])
    else:
        width, height = struct.unpack("<ii", head[18:26])
    return Header("bmp", abs(width), abs(height))  # a negative height is a top-down bitmap


def _webp(head: bytes, f) -> Header | None:
    if head[8:12] != b"WEBP":
        return None
    kind = head[12:16]
    if kind == b"VP8 ":
        width, height = struct.unpack("<HH", head[26:30])
        return Header("webp", width & 0x3FFF, height & 0x3FFF)
    if kind == b"VP8L":
        bits = struct.unpack("<I", head[21:25])[0]
        return Header("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1))
    if kind == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return Header("webp", width, height, bool(head[20] & 0x10))
    return None


def _tiff(head: bytes, f) -> Header | None:
    order = "<" if head[:2] == b"II" else ">"
    f.seek(struct.unpack(order + "I", head[4:8])[0])
    count = struct.unpack(order + "H", f.read(2))[0]
    entries = f.read(12 * min(count, 4096))
    size = {}
    for k in range(len(entries) // 12):
        tag, kind = struct.unpack(order + "HH", entries[12 * k : 12 * k + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            value = entries[12 * k + 8 : 12 * k + 12]
            size[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4])[0]
    return Header("tiff", size[256], size[257]) if len(size) == 2 else None


def _pnm(head: bytes, f) -> Header | None:
    fields, at = [], 2
    while len(fields) < 2 and at < len(head):
        if head[at : at + 1] == b"#":  # a comment runs to the end of its line
            at = head.find(b"\n", at) + 1 or len(head)
            continue
        if head[at : at + 1].isspace():
            at += 1
            continue
        end = at
        while end < len(head) and head[end : end + 1].isdigit():
            end += 1
        if end == at:
            return None
        fields.append(int(head[at:end]))
        at = end
    return Header("pnm", *fields) if len(fields) == 2 else None


_READERS = [(b"\x89PNG\r\n\x1a\n", _png), (b"\xff\xd8", _jpeg), (b"GIF87a", _gif), (b"GIF89a", _gif),
            (b"BM", _bmp), (b"RIFF", _webp), (b"II*\x00", _tiff), (b"MM\x00*", _tiff),
            *((f"P{k}".encode(), _pnm) for k in range(1, 7))]
