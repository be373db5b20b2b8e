"""Synthetic images of handwritten numbers, shaped like what people hand to the reader, with every number's digits
and centre line known:

- sheet: a phone or webcam photo of a sheet, notebook page or sticky note on a desk, 1-20 numbers on rising,
  falling or curved lines, with ruling, printed words, stray strokes and specks;
- cheque: a scanned courtesy amount: guilloche print, a printed box and baseline, separators, a currency sign;
- register: a scanned row number of an old register: ruled lines, a book edge, letters nearby, faded ink;
- digit: a tight crop of one digit from a scanned form (the digit may touch the border);
- usps: one digit size-normalized into 16x16 grey, either polarity.

numpy and OpenCV only (fonts through `glyphs`, which needs Pillow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edgedigits.synth import clutter, glyphs, write

KINDS = ("sheet", "cheque", "register", "digit", "usps")


@dataclass
class Page:
    image: np.ndarray  # BGR uint8
    numbers: list[write.Number]  # in reading order
    kind: str
    cut: list[write.Number] = field(default_factory=list)  # numbers partly outside the image: neither read nor not

    @property
    def text(self) -> str:
        """All digits in reading order (numbers separated by spaces)."""
        return " ".join(n.text for n in self.numbers)


def reading_order(numbers: list[write.Number]) -> list[write.Number]:
    """Numbers sorted into lines (a number joins a line when its centre is within half a digit height of the line's
    first number's centre line, extended), top to bottom, then left to right."""
    rows: list[list[write.Number]] = []
    for n in sorted(numbers, key=lambda n: n.ends[:, 1].mean()):
        for row in rows:
            a, b = row[0].ends
            slope = (b[1] - a[1]) / max(1e-6, b[0] - a[0])
            x, y = n.ends.mean(0)
            if abs(a[1] + slope * (x - a[0]) - y) < 0.5 * max(row[0].height, n.height):
                row.append(n)
                break
        else:
            rows.append([n])
    return [n for row in rows for n in sorted(row, key=lambda n: n.ends[0, 0])]


def _band(number: write.Number, shape: tuple[int, int], grow: float = 0.0) -> np.ndarray:
    """The number's band on its centre line, half a digit tall (for keeping numbers apart)."""
    mask = np.zeros(shape, np.uint8)
    h = number.height
    cv2.line(mask, tuple(map(int, number.ends[0])), tuple(map(int, number.ends[1])), 1, max(1, int(h * (1 + grow))))
    return mask


def _write_numbers(page: np.ndarray, source: glyphs.Glyphs, rng: np.random.Generator, count: int, height: float,
                   marks: float, digits=(1, 10)) -> list[write.Number]:
    """Up to `count` numbers written on `page` (coverage) in rows, none touching another."""
    H, W = page.shape
    taken = np.zeros((H, W), np.uint8)
    tilt = rng.normal(0, 4)  # the writer's habit on this sheet
    out = []
    for _ in range(count * 2):
        if len(out) >= count:
            break
        h = height * rng.uniform(0.85, 1.15)
        lay = write.layout(write.number_text(rng, digits, marks), source, rng, h)
        if lay.width > 0.95 * W:
            continue
        angle = tilt + rng.normal(0, 2.5) + (rng.uniform(-8, 8) if rng.random() < 0.2 else 0)
        curve = rng.normal(0, 0.25) if rng.random() < 0.3 else 0.0
        for _ in range(6):  # a free spot for this number
            x = rng.uniform(0.02 * W, max(0.02 * W, W - lay.width - 0.02 * W))
            y = rng.uniform(1.2 * h, max(1.2 * h, H - 0.2 * h))
            end = (x + lay.width * np.cos(np.radians(angle)), y - lay.width * np.sin(np.radians(angle)))
            band = np.zeros((H, W), np.uint8)
            cv2.line(band, (int(x), int(y - h / 2)), (int(end[0]), int(end[1] - h / 2)), 1, int(2.4 * h))
            if not (band & taken).any():
                break
        else:
            continue
        trial = np.zeros_like(page)
        number = write.place(trial, lay, (x, y), angle, curve, rotate=rng.random() < 0.5)
        band = _band(number, (H, W), 1.2)
        if (band & taken).any() or not number.labels:
            continue
        taken |= band
        np.maximum(page, trial, out=page)
        out.append(number)
    return out


def sheet(source: glyphs.Glyphs, rng: np.random.Generator, size: tuple[int, int] | None = None,
          count: tuple[int, int] | None = None, digits: tuple[int, int] = (1, 10), plain: bool = False) -> Page:
    """A photo of paper with numbers on it (`count` of `digits` digits, by default 1-4 large or 4-20 small), on a
    desk or filling the frame; `plain`: no ruling."""
    if size is None:
        size = [(640, 480), (640, 480), (800, 600), (480, 640), (1024, 768), (320, 240)][int(rng.integers(6))]
    W, H = size
    fill = rng.random() < 0.35  # the sheet fills the frame
    cover = 1.0 if fill else rng.uniform(0.4, 0.95)
    pw, ph = int(W * cover * rng.uniform(0.8, 1.1)), int(H * cover * rng.uniform(0.8, 1.1))
    pw, ph = max(64, pw), max(64, ph)
    sticky = rng.random() < 0.2
    base = clutter.paper((ph, pw), rng, "yellow" if sticky and rng.random() < 0.6 else None)
    layers = []
    ruling = "none" if plain else rng.choice(["none", "ruled", "grid", "dotted"], p=[0.45, 0.35, 0.15, 0.05])
    many = rng.random() < 0.4 if count is None else count[1] > 4
    count = int(rng.integers(*((4, 21) if many else (1, 5)))) if count is None else int(rng.integers(count[0],
                                                                                                    count[1] + 1))
    height = rng.uniform(0.035, 0.09) * ph if many else rng.uniform(0.06, 0.3) * ph
    height = max(height, 10.0)
    if ruling != "none":
        spacing = height * rng.uniform(1.5, 2.5)
        rule = clutter.lines((ph, pw), rng, spacing, rng.normal(0, 0.5), width=rng.uniform(0.7, 2),
                             dashed=ruling == "dotted")
        if ruling == "grid":
            rule = np.maximum(rule, clutter.lines((ph, pw), rng, spacing, rng.normal(0, 0.5), True, 1.0))
        layers.append((rule * rng.uniform(0.3, 0.8), rng.uniform([150, 100, 60], [255, 200, 200])))
        if rng.random() < 0.3:  # the red margin
            margin = np.zeros((ph, pw), np.float32)
            x = int(rng.uniform(0.05, 0.15) * pw)
            cv2.line(margin, (x, 0), (x, ph), 0.7, 1, cv2.LINE_AA)
            layers.append((margin, (80, 80, 230)))
    ink = np.zeros((ph, pw), np.float32)
    inset = 0.08 if fill else 0.02  # a frame-filling sheet is seen a little larger than the frame
    inner = ink[int(inset * ph) : ph - int(inset * ph), int(inset * pw) : pw - int(inset * pw)]
    numbers = _write_numbers(inner, source, rng, count, height, 0.3, digits)
    numbers = [n.warped(np.float32([[1, 0, int(inset * pw)], [0, 1, int(inset * ph)], [0, 0, 1]])) for n in numbers]
    written = cv2.dilate((ink > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8), iterations=int(height // 4) + 1)
    printed = np.zeros((ph, pw), np.float32)
    for _ in range(int(rng.integers(0, 4))):  # printed words (a header, a label), clear of the numbers
        font = glyphs.find_fonts([str(rng.choice(glyphs.PRINT_FONTS))])
        if font:
            word = "".join(rng.choice(list(glyphs.LETTERS), int(rng.integers(3, 10))))
            patch = glyphs.render_text(font[0], word, 48)
            scale = rng.uniform(0.4, 1.0) * height / patch.shape[0]
            patch = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            x, y = rng.uniform(0, pw), rng.uniform(0, ph)
            spot = written[int(y) : int(y) + patch.shape[0], int(x) : int(x) + patch.shape[1]]
            if not spot.any():
                clutter.paste(printed, patch, x, y)
    layers.append((printed, (30, 30, 30)))
    for _ in range(int(rng.integers(0, 3))):
        stroke = clutter.scribble((ph, pw), rng, rng.uniform(1, 4) * height, height * 0.08)
        np.maximum(ink, stroke * (1 - (cv2.dilate(ink, np.ones((5, 5))) > 0)), out=ink)
    ink_colour = clutter.colour(clutter.INKS, str(rng.choice(["black", "blue", "pencil", "felt", "red"],
                                                              p=[0.35, 0.35, 0.15, 0.1, 0.05])), rng)
    layers.append((ink * rng.uniform(0.7, 1.0), ink_colour))
    page = clutter.compose(base, layers)
    if fill:
        corners = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
        outward = np.float32([[-1, -1], [1, -1], [1, 1], [-1, 1]])
        target = corners * np.float32([W / pw, H / ph]) + outward * rng.uniform(0, 0.05, (4, 2)) * [W, H]
        matrix = cv2.getPerspectiveTransform(corners, target.astype(np.float32))
        frame = cv2.warpPerspective(page, matrix, (W, H), borderMode=cv2.BORDER_REPLICATE)
    else:
        frame = clutter.desk((H, W), rng)
        corners = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
        for _ in range(20):  # a sheet may reach out of the frame, but its numbers are in it
            centre = rng.uniform([0.3 * W, 0.3 * H], [0.7 * W, 0.7 * H])
            angle = np.radians(rng.normal(0, 8))
            rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            target = (corners - [pw / 2, ph / 2]) @ rot.T + centre
            target += rng.uniform(-0.05, 0.05, (4, 2)) * [pw, ph]
            matrix = cv2.getPerspectiveTransform(corners, target.astype(np.float32))
            if all(_inside(n.warped(matrix), W, H) for n in numbers):
                break
        sheet_img = cv2.warpPerspective(page, matrix, (W, H))
        mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), matrix, (W, H))
        if rng.random() < 0.5:  # the sheet's shadow on the desk
            shadow = cv2.GaussianBlur(cv2.warpAffine(mask, np.float32([[1, 0, 4], [0, 1, 6]]), (W, H)), (0, 0), 6)
            frame *= 1 - 0.5 * shadow[..., None]
        frame = frame * (1 - mask[..., None]) + sheet_img * mask[..., None]
    frame *= clutter.light((H, W), rng, 0.5)[..., None]
    dust = clutter.specks((H, W), rng, int(rng.integers(0, 8)), max(2.0, 0.02 * H), edges=True)
    frame *= 1 - 0.8 * dust[..., None]
    numbers = [n.warped(matrix) for n in numbers]
    image = clutter.camera(frame, rng)
    return Page(image, reading_order([n for n in numbers if _inside(n, W, H)]), "sheet",
                [n for n in numbers if not _inside(n, W, H)])


def _inside(number: write.Number, W: int, H: int) -> bool:
    """Every digit's top and bottom is inside the frame."""
    points = np.vstack([number.tops, number.bottoms, number.ends])
    return bool(((points >= 0) & (points < [W, H])).all())


def cheque(source: glyphs.Glyphs, rng: np.random.Generator) -> Page:
    """A scanned cheque courtesy amount: guilloche, box, baseline, separators, maybe a currency sign."""
    H = int(rng.uniform(36, 120))
    text = write.number_text(rng, (1, 8), 0.7)
    height = H * rng.uniform(0.42, 0.9)
    lay = write.layout(text, source, rng, height)
    W = int(max(H * rng.uniform(1.5, 3), lay.width + rng.uniform(0.05, 1.5) * height))
    base = clutter.paper((H, W), rng, str(rng.choice(["white", "cream", "blue", "green", "pink", "grey"])))
    guill = clutter.guilloche((H, W), rng)
    layers = [(guill, rng.uniform([120, 120, 120], [230, 230, 230]))]
    printed = np.zeros((H, W), np.float32)
    if rng.random() < 0.5:  # the printed box, partly cut by the crop
        x0, y0 = rng.uniform(-0.1, 0.1) * W, rng.uniform(-0.2, 0.15) * H
        cv2.rectangle(printed, (int(x0), int(y0)), (int(W - x0), int(H - y0)), 1.0, int(rng.integers(1, 3)))
    baseline_y = rng.uniform(0.55, 0.98) * H
    if rng.random() < 0.5:
        cv2.line(printed, (0, int(baseline_y + rng.uniform(-0.05, 0.1) * height)), (W, int(baseline_y)), 1.0,
                 int(rng.integers(1, 3)), cv2.LINE_AA)
    x = rng.uniform(0, max(0.0, W - lay.width))
    if rng.random() < 0.35 and x > 0.5 * height:
        font = glyphs.find_fonts([str(rng.choice(glyphs.PRINT_FONTS))])
        if font:
            sign = glyphs.render_text(font[0], str(rng.choice(glyphs.CURRENCY)), 48)
            scale = rng.uniform(0.4, 0.8) * height / sign.shape[0]
            sign = cv2.resize(sign, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            clutter.paste(printed, sign, x - sign.shape[1] - rng.uniform(0.1, 0.4) * height,
                          baseline_y - sign.shape[0])
    layers.append((printed * rng.uniform(0.5, 1.0), rng.uniform([0, 0, 0], [120, 120, 120])))
    ink = np.zeros((H, W), np.float32)
    number = write.place(ink, lay, (x, baseline_y - rng.uniform(0, 0.1) * height), rng.normal(0, 2),
                         rng.normal(0, 0.15))
    layers.append((ink * rng.uniform(0.6, 1.0), clutter.colour(clutter.INKS, str(rng.choice(["black", "blue"])), rng)))
    image = _scan(clutter.compose(base, layers), rng)
    return Page(image, [number] if number.labels else [], "cheque")


def register(source: glyphs.Glyphs, rng: np.random.Generator) -> Page:
    """A row number cut from an old register's scan: 1-3 digits, ruled lines, a book edge, letters nearby."""
    H = int(rng.uniform(28, 90))
    text = write.number_text(rng, (1, 3))
    height = H * rng.uniform(0.38, 0.8)
    lay = write.layout(text, source, rng, height, str(rng.choice(["apart", "close"])))
    W = int(max(H * rng.uniform(0.9, 3.5), lay.width + rng.uniform(0.1, 1.0) * height))
    base = clutter.paper((H, W), rng, str(rng.choice(["old", "cream", "white", "grey"], p=[0.5, 0.25, 0.15, 0.1])))
    rules = np.zeros((H, W), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        vertical = rng.random() < 0.5
        pos = rng.uniform(0, W if vertical else H)
        p0, p1 = ((pos, 0), (pos + rng.normal(0, 2), H)) if vertical else ((0, pos), (W, pos + rng.normal(0, 2)))
        cv2.line(rules, tuple(map(int, p0)), tuple(map(int, p1)), 1.0, int(rng.integers(1, 3)), cv2.LINE_AA)
    letters = np.zeros((H, W), np.float32)
    font = source.font(rng)
    if font is not None and rng.random() < 0.6:
        word = "".join(rng.choice(list(glyphs.LETTERS.lower()), int(rng.integers(2, 8))))
        patch = glyphs.render_text(font, word, 64)
        scale = height * rng.uniform(0.6, 1.1) / patch.shape[0]
        patch = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        side = rng.random() < 0.5  # left or right of the number, partly cut off
        clutter.paste(letters, patch, (-patch.shape[1] * rng.uniform(0.3, 0.9)) if side else
                      W - patch.shape[1] * rng.uniform(0.1, 0.7), rng.uniform(-0.2, 0.4) * H)
    x = rng.uniform(0, max(0.0, W - lay.width))
    ink = np.zeros((H, W), np.float32)
    number = write.place(ink, lay, (x, rng.uniform(0.6, 0.95) * H), rng.normal(0, 3), 0.0)
    colour = clutter.colour(clutter.INKS, str(rng.choice(["brown", "black"])), rng)
    page = clutter.compose(base, [(rules * rng.uniform(0.3, 0.9), rng.uniform([60, 60, 60], [160, 160, 160])),
                                  (letters * 0.9, colour), (ink * rng.uniform(0.5, 1.0), colour)])
    if rng.random() < 0.5:
        page *= clutter.book_edge((H, W), rng)[..., None]
    return Page(_scan(page, rng), [number] if number.labels else [], "register")


def digit(source: glyphs.Glyphs, rng: np.random.Generator) -> Page:
    """One digit cropped from a scanned form: tight or with a small margin."""
    label = int(rng.integers(10))
    alpha = source.digit(label, rng)
    h = rng.uniform(18, 110)
    alpha = cv2.resize(alpha, (max(1, round(alpha.shape[1] * h / alpha.shape[0])), max(1, round(h))),
                       interpolation=cv2.INTER_AREA)
    m = [int(rng.integers(0, max(1, int(0.25 * h)))) if rng.random() < 0.6 else 0 for _ in range(4)]
    m[3] += max(0, 3 - alpha.shape[1] - m[2] - m[3])  # at least 3 pixels wide
    alpha = cv2.copyMakeBorder(alpha, m[0], m[1], m[2], m[3], cv2.BORDER_CONSTANT, value=0)
    H, W = alpha.shape
    base = clutter.paper((H, W), rng, str(rng.choice(["white", "cream", "grey"])))
    colour = clutter.colour(clutter.INKS, str(rng.choice(["black", "blue", "pencil"])), rng)
    image = _scan(clutter.compose(base, [(alpha * rng.uniform(0.6, 1.0), colour)]), rng)
    number = _one_digit(label, alpha)
    return Page(image, [number], "digit")


def usps(source: glyphs.Glyphs, rng: np.random.Generator) -> Page:
    """One digit size-normalized into 16x16 grey (its height fills the box), dark on light or light on dark."""
    label = int(rng.integers(10))
    alpha = source.digit(label, rng)
    h, w = alpha.shape
    scale = 16.0 / max(h, w * (1.0 if rng.random() < 0.7 else 16.0 / 12.0))
    small = cv2.resize(alpha, (max(1, min(16, round(w * scale))), max(1, min(16, round(h * scale)))),
                       interpolation=cv2.INTER_AREA)
    box = np.zeros((16, 16), np.float32)
    y0, x0 = (16 - small.shape[0]) // 2, (16 - small.shape[1]) // 2
    box[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    box = np.clip(box * rng.uniform(1.0, 1.6), 0, 1)
    grey = 255 * box if rng.random() < 0.5 else 255 * (1 - box)
    image = cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return Page(image, [_one_digit(label, box)], "usps")


def _one_digit(label: int, alpha: np.ndarray) -> write.Number:
    x, y, w, h = cv2.boundingRect((alpha > 0.1).astype(np.uint8))
    cx, cy = x + w / 2, y + h / 2
    return write.Number([label], np.array([[cx, cy]]), np.array([[cx, y]], float), np.array([[cx, y + h]], float),
                        np.array([[x, cy], [x + w, cy]], float), [(x, y, w, h)])


def _scan(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A scanner's view: grey or colour, a little blur and noise, sometimes binarised, sometimes JPEG."""
    page = page * rng.uniform(0.85, 1.05)
    out = clutter.camera(page, rng, (0.3, 0.9), (0.5, 4.0), (60, 95) if rng.random() < 0.5 else None)
    if rng.random() < 0.5:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.2:  # a bilevel scan
        grey = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        _, bw = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        out = cv2.cvtColor(bw, cv2.COLOR_GRAY2BGR)
    return out


def make(kind: str, source: glyphs.Glyphs, rng: np.random.Generator) -> Page:
    return {"sheet": sheet, "cheque": cheque, "register": register, "digit": digit, "usps": usps}[kind](source, rng)
