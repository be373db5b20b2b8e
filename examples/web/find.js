// Find handwritten digits in a frame and normalize each the MNIST way: a line-by-line port of the Python finder
// (edgedigits.runtime.reading.find) onto OpenCV.js, the same OpenCV calls in the same order, so a frame gives the same
// boxes and 28x28 images in the browser as in Python. `cv` is the loaded OpenCV.js module.

export const DEFAULT = {
  block: 0.2, offset: 12.0, minHeight: 0.05, maxHeight: 0.95, maxAspect: 6.0, minFill: 0.03, maxFill: 0.85,
  mergeGap: 0.15, minRelativeHeight: 0.4,
};

// Python's round(): halves to even.
export function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// numpy.median of numbers.
function median(values) {
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ImageData (RGBA) -> grey Mat with dark ink: a dark median (every 8th pixel) means light ink, so invert.
function darkGray(cv, imageData) {
  const rgba = cv.matFromImageData(imageData);
  const gray = new cv.Mat();
  cv.cvtColor(rgba, gray, cv.COLOR_RGBA2GRAY);
  rgba.delete();
  const samples = [];
  for (let y = 0; y < gray.rows; y += 8) for (let x = 0; x < gray.cols; x += 8) samples.push(gray.data[y * gray.cols + x]);
  if (median(samples) < 110) cv.bitwise_not(gray, gray);
  return gray;
}

// Broken strokes merged (union-find): pieces overlapping in x, nearly touching in y, together not much taller.
function groups(rects, gap) {
  const n = rects.length, parent = Array.from({ length: n }, (_, i) => i);
  const root = (i) => { while (parent[i] !== i) { parent[i] = parent[parent[i]]; i = parent[i]; } return i; };
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = rects[i], b = rects[j];
      const overlapX = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
      const gapY = Math.max(a.y, b.y) - Math.min(a.y + a.height, b.y + b.height);
      const unionH = Math.max(a.y + a.height, b.y + b.height) - Math.min(a.y, b.y);
      const taller = Math.max(a.height, b.height);
      const smaller = Math.min(Math.max(a.width, a.height), Math.max(b.width, b.height));
      if (overlapX >= 0.5 * Math.min(a.width, b.width) && gapY <= gap * taller && unionH <= 1.5 * taller
          && smaller >= 0.15 * taller) parent[root(i)] = root(j);
    }
  }
  const out = new Map();
  for (let i = 0; i < n; i++) {
    const r = root(i);
    if (!out.has(r)) out.set(r, []);
    out.get(r).push(i);
  }
  return [...out.values()];
}

// Lines top to bottom, left to right in a line: [order, line of each box in that order].
function readingOrder(boxes) {
  if (!boxes.length) return [[], []];
  const centre = boxes.map(([, y, , h]) => y + h / 2);
  const tolerance = 0.6 * median(boxes.map((b) => b[3]));
  const byY = boxes.map((_, i) => i).sort((i, j) => centre[i] - centre[j] || i - j);
  const lineOf = new Array(boxes.length);
  let line = 0, start = centre[byY[0]];
  for (const i of byY) {
    if (centre[i] - start > tolerance) { line += 1; start = centre[i]; }
    lineOf[i] = line;
  }
  const order = boxes.map((_, i) => i).sort((i, j) => lineOf[i] - lineOf[j] || boxes[i][0] - boxes[j][0] || i - j);
  return [order, order.map((i) => lineOf[i])];
}

// The digit's ink: Otsu inside its box, within the filled outlines of its pieces.
function digitInk(cv, gray, contours, members, x0, y0, w, h) {
  const region = cv.Mat.zeros(h, w, cv.CV_8U);
  const pieces = new cv.MatVector();
  for (const i of members) pieces.push_back(contours.get(i));
  const noHierarchy = new cv.Mat();
  cv.drawContours(region, pieces, -1, new cv.Scalar(255), cv.FILLED, cv.LINE_8, noHierarchy, 2147483647,
                  new cv.Point(-x0, -y0));
  noHierarchy.delete();
  const crop = gray.roi(new cv.Rect(x0, y0, w, h));
  const ink = new cv.Mat();
  cv.threshold(crop, ink, 0, 255, cv.THRESH_BINARY_INV | cv.THRESH_OTSU);
  cv.bitwise_and(region, ink, ink);
  for (const m of [region, crop]) m.delete();
  pieces.delete();
  return ink;
}

// A digit's ink -> 28x28 the MNIST way: fit 20x20 keeping aspect, centre of mass moved to (14, 14).
function mnistNormalize(cv, digit) {
  const out = new Uint8Array(784);
  const box = cv.boundingRect(digit);
  if (!box.width || !box.height) return out;
  const tight = digit.roi(box);
  const scale = 20 / Math.max(box.width, box.height);
  const size = new cv.Size(Math.max(1, roundHalfEven(box.width * scale)), Math.max(1, roundHalfEven(box.height * scale)));
  const small = new cv.Mat();
  cv.resize(tight, small, size, 0, 0, scale < 1 ? cv.INTER_AREA : cv.INTER_LINEAR);
  const m = cv.moments(small);
  if (m.m00 > 0) shiftInto(out, small.data, small.cols, small.rows, Math.fround(14 - m.m10 / m.m00),
                           Math.fround(14 - m.m01 / m.m00));
  tight.delete();
  small.delete();
  return out;
}

// out (28x28) = src moved by (dx, dy), bilinear, zeros outside, as OpenCV 5's warpAffine computes a float32
// translation on x86 (float coordinates, lerps fused multiply-adds, rounded once); OpenCV.js 4's fixed-point
// warpAffine differs by up to 4 grey levels. A product of float32s is exact in a double, so f(a + b * c) is the fused
// multiply-add (OpenCV's scalar tail, the last columns of a row, rounds a few pixels in a million the other way).
function shiftInto(out, src, w, h, dx, dy) {
  const f = Math.fround, at = (x, y) => (x >= 0 && x < w && y >= 0 && y < h ? src[y * w + x] : 0);
  for (let y = 0; y < 28; y++) {
    const sy = f(y - dy), y0 = Math.floor(sy), fy = f(sy - y0);
    for (let x = 0; x < 28; x++) {
      const sx = f(x - dx), x0 = Math.floor(sx), fx = f(sx - x0);
      const top = f(at(x0, y0) + fx * (at(x0 + 1, y0) - at(x0, y0)));
      const bottom = f(at(x0, y0 + 1) + fx * (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)));
      out[y * 28 + x] = Math.min(255, Math.max(0, roundHalfEven(f(top + fy * f(bottom - top)))));
    }
  }
}

// Every digit of the frame in reading order: {boxes: [[x,y,w,h]...], lines: [...], images: Uint8Array [n*784]}.
export function findDigits(cv, imageData, s = DEFAULT) {
  const gray = darkGray(cv, imageData);
  const height = gray.rows;
  const block = Math.max(3, Math.trunc(s.block * height) | 1);
  const mask = new cv.Mat();
  cv.adaptiveThreshold(gray, mask, 255, cv.ADAPTIVE_THRESH_MEAN_C, cv.THRESH_BINARY_INV, block, s.offset);
  const contours = new cv.MatVector(), hierarchy = new cv.Mat();
  cv.findContours(mask, contours, hierarchy, cv.RETR_EXTERNAL, cv.CHAIN_APPROX_SIMPLE);
  const minH = s.minHeight * height;
  const rects = [];
  for (let i = 0; i < contours.size(); i++) rects.push(cv.boundingRect(contours.get(i)));
  const keep = rects.map((_, i) => i).filter((i) => Math.max(rects[i].width, rects[i].height) >= Math.max(3, 0.1 * minH));
  const boxes = [], inks = [];
  for (const group of groups(keep.map((i) => rects[i]), s.mergeGap)) {
    const members = group.map((g) => keep[g]);
    const x0 = Math.min(...members.map((i) => rects[i].x)), y0 = Math.min(...members.map((i) => rects[i].y));
    const x1 = Math.max(...members.map((i) => rects[i].x + rects[i].width));
    const y1 = Math.max(...members.map((i) => rects[i].y + rects[i].height));
    const w = x1 - x0, h = y1 - y0;
    if (!(minH <= h && h <= s.maxHeight * height) || w > s.maxAspect * h) continue;
    const ink = digitInk(cv, gray, contours, members, x0, y0, w, h);
    const fill = cv.countNonZero(ink) / (w * h);
    if (fill < s.minFill || (fill > s.maxFill && w > 0.35 * h)) { ink.delete(); continue; }
    boxes.push([x0, y0, w, h]);
    inks.push(ink);
  }
  let [order, lines] = readingOrder(boxes);
  const tallest = [];
  order.forEach((i, k) => { tallest[lines[k]] = Math.max(tallest[lines[k]] || 0, boxes[i][3]); });
  const kept = order.map((_, k) => k).filter((k) => boxes[order[k]][3] >= s.minRelativeHeight * tallest[lines[k]]);
  [order, lines] = [kept.map((k) => order[k]), kept.map((k) => lines[k])];
  const images = new Uint8Array(order.length * 784);
  order.forEach((i, k) => images.set(mnistNormalize(cv, inks[i]), k * 784));
  for (const m of [gray, mask, hierarchy, ...inks]) m.delete();
  contours.delete();
  return { boxes: order.map((i) => boxes[i]), lines, images };
}
