// The number finder's steps around its network, as edgedigits.runtime.reading.finder does them: the grey image at
// a working scale on a padded canvas, and the numbers' centre lines from the network's band and height maps
// (8-connected components, a weighted least-squares line through each, the median height). Pure JavaScript: the
// network itself runs in reader.js.
import { enlarge, lowerMedian, median, pairwiseSum, shrink } from "./resample.js";

export const CELL = 4;  // the network's output stride
export const MULTIPLE = 32;  // working images are padded to a multiple of this
export const MAX_SIDE = 640;  // a longer side past this is shrunk by the smallest whole factor bringing it under
export const MIN_SIDE = 96;  // a shorter side under this is enlarged by a whole factor
export const PAD_DIVISOR = 5;  // blank border: the shorter working side // this, at most MAX_PAD
export const MAX_PAD = 32;
export const HEIGHT_UNIT = 16.0;  // the height channel is log(digit height / HEIGHT_UNIT), in working pixels
export const THRESHOLD = 0.5;  // band probability of a cell on a number
export const MIN_CELLS = 2;  // smaller components are noise
export const END_MARGIN = 0.2;  // digit heights the line reaches past its first and last cell
export const MAX_TILT = 35.0;  // degrees
export const ROW_SHARE = 0.5;  // overlapping pieces whose lines pass this x the height apart or closer are one

const ceilDiv = (a, b) => Math.floor((a + b - 1) / b);

// The working geometry of an image h x w: {down, up, pad, shape: [th, tw]}; working = image x up / down + pad.
export function working(h, w) {
  const down = ceilDiv(Math.max(h, w), MAX_SIDE);
  const up = down > 1 ? 1 : Math.max(1, Math.min(ceilDiv(MIN_SIDE, Math.min(h, w)), Math.floor(MAX_SIDE / Math.max(h, w))));
  const [sh, sw] = down > 1 ? [Math.floor(h / down), Math.floor(w / down)] : [h * up, w * up];
  const pad = Math.min(MAX_PAD, Math.floor(Math.min(sh, sw) / PAD_DIVISOR));
  return { down, up, pad, shape: [ceilDiv(sh + 2 * pad, MULTIPLE) * MULTIPLE, ceilDiv(sw + 2 * pad, MULTIPLE) * MULTIPLE] };
}

// Grey image -> {data: Uint8Array th x tw, geo}: scaled, placed at (pad, pad) on a canvas filled with the lower
// median of the scaled image's border pixels (top row, bottom row, left column, right column).
export function workingImage(gray, h, w) {
  const geo = working(h, w);
  const s = geo.down > 1 ? shrink(gray, h, w, geo.down) : enlarge(gray, h, w, geo.up);
  const border = new Uint8Array(2 * s.w + 2 * s.h);
  border.set(s.data.subarray(0, s.w), 0);
  border.set(s.data.subarray((s.h - 1) * s.w, s.h * s.w), s.w);
  for (let i = 0; i < s.h; i++) {
    border[2 * s.w + i] = s.data[i * s.w];
    border[2 * s.w + s.h + i] = s.data[i * s.w + s.w - 1];
  }
  const [th, tw] = geo.shape;
  const out = new Uint8Array(th * tw).fill(lowerMedian(border));
  for (let i = 0; i < s.h; i++) out.set(s.data.subarray(i * s.w, (i + 1) * s.w), (geo.pad + i) * tw + geo.pad);
  return { data: out, geo };
}

// 8-connected components of mask (Uint8Array h x w), numbered 1.. in the raster order of their first pixel:
// Int32Array of labels and the count (background 0 included). cv2.connectedComponents may number them otherwise;
// finder.lines_from_maps sorts its components by their first cells to match.
export function components(mask, h, w) {
  const labels = new Int32Array(h * w);
  const stack = [];
  let count = 1;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    labels[start] = count;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop(), y = Math.floor(p / w), x = p - y * w;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx, q = yy * w + xx;
          if (xx < 0 || xx >= w || !mask[q] || labels[q]) continue;
          labels[q] = count;
          stack.push(q);
        }
      }
    }
    count += 1;
  }
  return { labels, count };
}

// The centre line through the cells idx (indices into the [mh, mw] map, raster order), in working pixels:
// {c: [cx, cy], d: unit direction, first, last: the cells' extent along it, height, score} (finder._fit).
function fit(maps, mw, idx) {
  const n = idx.length;
  const weight = new Float64Array(n), px = new Float64Array(n), py = new Float64Array(n), logs = new Float64Array(n);
  idx.forEach((p, i) => {
    const y = Math.floor(p / mw), x = p - y * mw;
    weight[i] = maps[2 * p];
    logs[i] = maps[2 * p + 1];
    px[i] = CELL * (x + 0.5);
    py[i] = CELL * (y + 0.5);
  });
  const height = HEIGHT_UNIT * Math.exp(median(logs));
  const total = pairwiseSum(weight);
  const cx = pairwiseSum(weight.map((v, i) => v * px[i])) / total;
  const cy = pairwiseSum(weight.map((v, i) => v * py[i])) / total;
  const spread = pairwiseSum(weight.map((v, i) => v * ((px[i] - cx) * (px[i] - cx)))) / total;
  let slope = 0.0, xmin = Infinity, xmax = -Infinity;
  for (const v of px) { xmin = Math.min(xmin, v); xmax = Math.max(xmax, v); }
  if (xmax - xmin > height && spread > 0) {
    const limit = Math.tan(MAX_TILT * (Math.PI / 180));
    slope = pairwiseSum(weight.map((v, i) => v * (px[i] - cx) * (py[i] - cy))) / total / spread;
    slope = Math.min(Math.max(slope, -limit), limit);
  }
  const norm = Math.sqrt(1.0 + slope * slope);
  const d = [1.0 / norm, slope / norm];
  let first = Infinity, last = -Infinity;
  for (let i = 0; i < n; i++) {
    const a = (px[i] - cx) * d[0] + (py[i] - cy) * d[1];
    first = Math.min(first, a);
    last = Math.max(last, a);
  }
  return { c: [cx, cy], d, first, last, height, score: pairwiseSum(weight) / n };
}

// Where a fitted number's strip starts and ends: END_MARGIN heights (and half a cell) past its cells (Fit.ends).
function ends(f) {
  const r = CELL / 2 + END_MARGIN * f.height;
  return [[f.c[0] + (f.first - r) * f.d[0], f.c[1] + (f.first - r) * f.d[1]],
          [f.c[0] + (f.last + r) * f.d[0], f.c[1] + (f.last + r) * f.d[1]]];
}

// For each fit, the index of the first fit of its group: two are one number when their lines (with END_MARGIN)
// overlap across the page and pass within ROW_SHARE x the taller one's height there (finder.fragments).
export function fragments(fits) {
  const group = fits.map((_, i) => i);
  const root = (i) => (group[i] === i ? i : root(group[i]));
  const lines = fits.map(ends);
  const yAt = ([s, e], x) => s[1] + (e[1] - s[1]) * (e[0] > s[0] ? (x - s[0]) / (e[0] - s[0]) : 0.0);
  for (let i = 0; i < fits.length; i++) {
    for (let j = i + 1; j < fits.length; j++) {
      const x0 = Math.max(lines[i][0][0], lines[j][0][0]), x1 = Math.min(lines[i][1][0], lines[j][1][0]);
      if (x1 <= x0) continue;
      const x = (x0 + x1) / 2;
      if (Math.abs(yAt(lines[i], x) - yAt(lines[j], x)) < ROW_SHARE * Math.max(fits[i].height, fits[j].height)) {
        const ri = root(i), rj = root(j);
        group[Math.max(ri, rj)] = Math.min(ri, rj);
      }
    }
  }
  return fits.map((_, i) => root(i));
}

// Numbers from the network's maps (maps: Float32Array [mh, mw, 2], band then log height per cell): components of
// band >= THRESHOLD of at least MIN_CELLS cells, overlapping pieces of one number joined (fragments), each a line
// {start: [x, y], end: [x, y], height, score} in image pixels, every step in float64 in numpy's order
// (finder.lines_from_maps).
export function linesFromMaps(maps, mh, mw, geo, threshold = THRESHOLD) {
  const mask = new Uint8Array(mh * mw);
  for (let i = 0; i < mask.length; i++) mask[i] = maps[2 * i] >= threshold ? 1 : 0;
  const { labels, count } = components(mask, mh, mw);
  const cells = Array.from({ length: count }, () => []);
  for (let i = 0; i < labels.length; i++) if (labels[i]) cells[labels[i]].push(i);  // raster order, as np.nonzero
  const kept = cells.slice(1).filter((idx) => idx.length >= MIN_CELLS);
  const fits = kept.map((idx) => fit(maps, mw, idx));
  const groups = fragments(fits);
  const toImage = (v) => ((v - geo.pad) * geo.down) / geo.up;
  const out = [];
  for (const g of [...new Set(groups)].sort((a, b) => a - b)) {
    const members = kept.filter((_, i) => groups[i] === g);
    // a piece on its own keeps its fit; joined pieces are fitted again on all their cells, in raster order
    const f = members.length > 1 ? fit(maps, mw, members.flat().sort((a, b) => a - b)) : fits[g];
    const [start, end] = ends(f);
    out.push({ start: start.map(toImage), end: end.map(toImage), height: (f.height * geo.down) / geo.up,
               score: f.score });
  }
  return out;
}
