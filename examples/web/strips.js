// Each found number cut out of the grey image as a level strip for the strip reader, and the reader's output decoded,
// as edgedigits.runtime.reading.strips and page do it: the lines in reading order, the strip along each line
// (whole-factor shrink, bilinear sampling, rounded half up), its grey levels normalized (paper 0, ink 1), the strips
// batched, and best-path CTC decoding of the reader's probabilities into digits with their boxes. Pure JavaScript.
import { bilinear, lowerMedian, nthByte, shrink } from "./resample.js";

export const STRIP_ROWS = 32;
export const DIGIT_ROWS = 20;  // a digit's height in strip rows
export const STRIDE = 4;  // strip columns per output step of the reader
export const CONTEXT = 0.25;  // digit heights of image kept beyond each end of the line
export const MIN_CONTRAST = 24.0;  // grey levels
export const BLANK = 10;  // the CTC blank class
export const ROW_TOLERANCE = 0.5;  // a number is on a row when within this x the digit height of the row's line
export const RECHECK = 0.9;  // a number read with a digit less sure than this is read again from strips shifted...
export const SHIFT = 0.1;  // ...across its line by this x its digit height, up and down (outputs weighed 1/2, 1/4, 1/4)

// Indices of `lines` in reading order: a number joins the first row whose first number's centre line, extended,
// passes within ROW_TOLERANCE x the taller digit height of its centre; rows top to bottom, left to right in a row.
export function readingOrder(lines) {
  const centre = lines.map((l) => [(l.start[0] + l.end[0]) / 2, (l.start[1] + l.end[1]) / 2]);
  const byCentre = lines.map((_, i) => i).sort((i, j) => centre[i][1] - centre[j][1] || centre[i][0] - centre[j][0]);
  const rows = [];
  for (const i of byCentre) {
    const row = rows.find((r) => {
      const first = lines[r[0]];
      const dx = first.end[0] - first.start[0], dy = first.end[1] - first.start[1];
      const slope = Math.abs(dx) > 1e-9 ? dy / dx : 0.0;
      const y = first.start[1] + slope * (centre[i][0] - first.start[0]);
      return Math.abs(y - centre[i][1]) < ROW_TOLERANCE * Math.max(first.height, lines[i].height);
    });
    if (row) row.push(i);
    else rows.push([i]);
  }
  return rows.flatMap((r) => r.sort((i, j) => lines[i].start[0] - lines[j].start[0]));
}

// `line` moved across itself by `offset` x its digit height, along n = (-d_y, d_x) (strips.shifted).
export function shifted(line, offset) {
  let d = [line.end[0] - line.start[0], line.end[1] - line.start[1]];
  const norm = Math.max(Math.sqrt(d[0] * d[0] + d[1] * d[1]), 1e-9);
  d = [d[0] / norm, d[1] / norm];
  const k = offset * line.height, move = [k * -d[1], k * d[0]];
  return { ...line, start: [line.start[0] + move[0], line.start[1] + move[1]],
           end: [line.end[0] + move[0], line.end[1] + move[1]] };
}

// The strip of `line` from a grey image (Uint8Array h x w): {data: Uint8Array STRIP_ROWS x width, width}
// (strips.cut: the same formulas in the same order).
export function cut(gray, h, w, line) {
  const height = Math.max(line.height, 1.0);
  const f = DIGIT_ROWS / height;
  let d = [line.end[0] - line.start[0], line.end[1] - line.start[1]];
  const length = Math.sqrt(d[0] * d[0] + d[1] * d[1]);
  d = [d[0] / Math.max(length, 1e-9), d[1] / Math.max(length, 1e-9)];
  const n = [-d[1], d[0]];
  const reach = CONTEXT * height;
  const width = Math.max(4 * STRIDE, Math.ceil(((length + 2 * reach) * f) / STRIDE) * STRIDE);
  const half = STRIP_ROWS / 2 / f;
  const origin = [line.start[0] - reach * d[0] - half * n[0], line.start[1] - reach * d[1] - half * n[1]];
  const xs = [], ys = [];
  for (const a of [0.0, width / f]) {
    for (const b of [0.0, STRIP_ROWS / f]) {
      xs.push(origin[0] + a * d[0] + b * n[0]);
      ys.push(origin[1] + a * d[1] + b * n[1]);
    }
  }
  const x0 = Math.min(Math.max(Math.floor(Math.min(...xs)) - 2, 0), w - 1);
  const y0 = Math.min(Math.max(Math.floor(Math.min(...ys)) - 2, 0), h - 1);
  const x1 = Math.min(Math.max(Math.ceil(Math.max(...xs)) + 3, x0 + 1), w);
  const y1 = Math.min(Math.max(Math.ceil(Math.max(...ys)) + 3, y0 + 1), h);
  const ww = x1 - x0, wh = y1 - y0, windowData = new Uint8Array(ww * wh);
  for (let i = 0; i < wh; i++) windowData.set(gray.subarray((y0 + i) * w + x0, (y0 + i) * w + x1), i * ww);
  const k = Math.max(1, Math.min(Math.floor(height / DIGIT_ROWS), wh, ww));
  const small = shrink(windowData, wh, ww, k);
  const fill = lowerMedian(small.data);
  const out = new Uint8Array(STRIP_ROWS * width);
  for (let r = 0; r < STRIP_ROWS; r++) {
    const v = (r + 0.5) / f;
    for (let c = 0; c < width; c++) {
      const u = (c + 0.5) / f;
      const x = (origin[0] + u * d[0] + v * n[0] - x0 - (k - 1) / 2) / k;
      const y = (origin[1] + u * d[1] + v * n[1] - y0 - (k - 1) / 2) / k;
      out[r * width + c] = Math.floor(bilinear(small.data, small.h, small.w, x, y, fill) + 0.5);
    }
  }
  return { data: out, width };
}

// uint8 strip -> Float32Array, paper 0 and ink 1 (strips.normalize): paper the pixel at (n - 1) // 2 of the n sorted,
// the dark end at t = (n - 1) x 2 // 100, the light end at n - 1 - t; negated first when the light side reaches more
// than 3/2 as far as the dark one.
export function normalize(strip) {
  const count = strip.length, tail = Math.floor(((count - 1) * 2) / 100);
  const lo = nthByte(strip, tail), paper = nthByte(strip, (count - 1) >> 1), hi = nthByte(strip, count - 1 - tail);
  let dark = paper - lo, sign = 1, p = paper;
  const light = hi - paper;
  if (2 * light > 3 * dark) [sign, p, dark] = [-1, -paper, light];
  const scale = Math.max(dark, MIN_CONTRAST), out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.min(Math.max((p - sign * strip[i]) / scale, -0.5), 1.5);
  return out;
}

// Strips (Float32Array STRIP_ROWS x width each, with .width) -> one float32 [N, STRIP_ROWS, W, 1] batch padded on the
// right with paper (0), and each strip's number of output steps.
export function batch(strips) {
  const width = Math.max(...strips.map((s) => s.width));
  const x = new Float32Array(strips.length * STRIP_ROWS * width);
  strips.forEach((s, i) => {
    for (let r = 0; r < STRIP_ROWS; r++) x.set(s.image.subarray(r * s.width, (r + 1) * s.width), (i * STRIP_ROWS + r) * width);
  });
  return { x, dims: [strips.length, STRIP_ROWS, width, 1], steps: strips.map((s) => Math.floor(s.width / STRIDE)) };
}

// Best-path CTC decoding of one strip's [T, classes] probabilities (probs: a Float32Array view, t steps): per digit,
// [digit, confidence (its highest probability in its run), centre column of the run].
export function decode(probs, t, classes = BLANK + 1) {
  const best = new Int32Array(t);
  for (let s = 0; s < t; s++) {
    let b = 0;
    for (let c = 1; c < classes; c++) if (probs[s * classes + c] > probs[s * classes + b]) b = c;
    best[s] = b;
  }
  const out = [];
  for (let s = 0; s < t;) {
    let end = s + 1;
    while (end < t && best[end] === best[s]) end++;
    if (best[s] !== BLANK) {
      let confidence = -Infinity;
      for (let q = s; q < end; q++) confidence = Math.max(confidence, probs[q * classes + best[s]]);
      out.push([best[s], confidence, (STRIDE * (s + end)) / 2.0]);
    }
    s = end;
  }
  return out;
}

// The image box of a digit read at strip column `column` of `line`'s strip: a box 0.6 x 1 digit heights centred on the
// line's point under that column (Strip.point), truncated to whole pixels.
export function digitBox(line, column) {
  const dx = line.end[0] - line.start[0], dy = line.end[1] - line.start[1];
  const norm = Math.max(1e-9, Math.sqrt(dx * dx + dy * dy));
  const scale = DIGIT_ROWS / Math.max(line.height, 1.0);
  const along = column / scale - CONTEXT * line.height;
  const cx = line.start[0] + along * (dx / norm), cy = line.start[1] + along * (dy / norm), h = line.height;
  return [Math.trunc(cx - 0.3 * h), Math.trunc(cy - 0.5 * h), Math.trunc(0.6 * h), Math.trunc(h)];
}

// Whether boxes a and b ([x, y, w, h]) overlap by at least `share` of the smaller one (page.same_ink).
export function sameInk(a, b, share = 0.5) {
  const dx = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const dy = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  return dx > 0 && dy > 0 && dx * dy >= share * Math.min(a[2] * a[3], b[2] * b[3]);
}

// Digits with each ink read once (page.once): of two digits of different numbers on the same ink, the less sure one
// is dropped (the later one on a tie), and the numbers left are counted again from 0.
export function readOnce(digits) {
  const dropped = new Set();
  digits.forEach((a, i) => {
    for (let j = i + 1; j < digits.length; j++) {
      const b = digits[j];
      if (a.line !== b.line && !dropped.has(i) && !dropped.has(j) && sameInk(a.box, b.box)) {
        dropped.add(a.confidence < b.confidence ? i : j);
      }
    }
  });
  const numbers = new Map();
  return digits.filter((_, k) => !dropped.has(k)).map((d) => {
    if (!numbers.has(d.line)) numbers.set(d.line, numbers.size);
    return { ...d, line: numbers.get(d.line) };
  });
}
