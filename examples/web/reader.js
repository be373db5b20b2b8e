// The reader: a camera frame in, the digits it holds out (box, label, confidence, number, uncertain mark), in reading
// order, as `edgedigits predict` reads an image: the number finder marks each number's centre line (finder.js around
// its network), each number is cut out as a level grey strip and all strips of the frame are read in one batch by
// the strip reader (strips.js around its network). The networks are the shipped sets' default files.
import { linesFromMaps, workingImage } from "./finder.js";
import { Network, defaultFile } from "./model.js";
import { grayFromRGBA } from "./resample.js";
import { RECHECK, SHIFT, batch, cut, decode, digitBox, normalize, readOnce, readingOrder, shifted } from "./strips.js";

export const DEFAULT_THRESHOLD = 0.8;  // below it a digit is shown as uncertain ("7?")
export const FINDER_SET = "page-finder", STRIPS_SET = "page-strips";

export class Reader {
  constructor(finder, strips, threshold = DEFAULT_THRESHOLD) {
    this.finder = finder;
    this.strips = strips;
    this.threshold = threshold;
    const labels = strips.meta.labels ? JSON.parse(strips.meta.labels) : null;
    this.labels = Array.isArray(labels) && labels.length === 10 ? labels : [..."0123456789"];
  }

  // The reader on the models under `base` (a URL ending in /): the sets' default files unless `finder` or `strips`
  // names a file there.
  static async load(base, { finder = null, strips = null, threshold = DEFAULT_THRESHOLD } = {}) {
    const [f, s] = await Promise.all([finder ?? defaultFile(base, FINDER_SET), strips ?? defaultFile(base, STRIPS_SET)]);
    const [finderNet, stripsNet] = await Promise.all([Network.load(base + f, "number-finder"),
                                                      Network.load(base + s, "strip-reader")]);
    const reader = new Reader(finderNet, stripsNet, threshold);
    const blank = new ImageData(128, 128);  // warm-up: the first frame is not the slow one
    blank.data.fill(255);
    await reader.read(blank);
    return reader;
  }

  // Grey image (Uint8Array h x w) -> the numbers' centre lines in reading order.
  async lines(gray, h, w) {
    const work = workingImage(gray, h, w);
    const [th, tw] = work.geo.shape;
    const x = new Float32Array(work.data.length);
    for (let i = 0; i < x.length; i++) x[i] = work.data[i] / 255;
    const maps = await this.finder.run(x, [1, th, tw, 1]);
    const found = linesFromMaps(maps.data, maps.dims[1], maps.dims[2], work.geo);
    return readingOrder(found).map((i) => found[i]);
  }

  // ImageData (RGBA) -> {digits: [{box, label, confidence, line, uncertain}], lines, ms: {find, read}}.
  async read(imageData) {
    const { width: w, height: h } = imageData;
    const t0 = performance.now();
    const gray = grayFromRGBA(imageData.data, w, h);
    const lines = await this.lines(gray, h, w);
    const t1 = performance.now();
    const digits = [];
    if (lines.length) {
      const strip = (line) => {
        const s = cut(gray, h, w, line);
        return { image: normalize(s.data), width: s.width };
      };
      const { x, dims, steps } = batch(lines.map(strip));
      const probs = await this.strips.run(x, dims);
      const [, t, classes] = probs.dims;
      const output = (i) => probs.data.subarray(i * t * classes, (i + 1) * t * classes);
      const reads = lines.map((_, i) => decode(output(i), steps[i], classes));
      // a number the reader doubts: read again from strips moved up and down, the outputs' weighted mean (page.reads)
      const doubted = reads.flatMap((r, i) => (r.length && Math.min(...r.map((d) => d[1])) < RECHECK ? [i] : []));
      if (doubted.length) {
        const more = batch([-1, 1].flatMap((sign) => doubted.map((i) => strip(shifted(lines[i], sign * SHIFT)))));
        const again = await this.strips.run(more.x, more.dims);
        const [, t2] = again.dims, n = doubted.length;
        doubted.forEach((i, j) => {
          const base = output(i), up = again.data.subarray(j * t2 * classes);
          const down = again.data.subarray((n + j) * t2 * classes);
          const mean = new Float64Array(steps[i] * classes);
          for (let q = 0; q < mean.length; q++) mean[q] = 0.5 * base[q] + 0.25 * up[q] + 0.25 * down[q];
          reads[i] = decode(mean, steps[i], classes);
        });
      }
      let number = 0;
      lines.forEach((line, i) => {
        for (const [label, confidence, column] of reads[i]) {
          digits.push({ box: digitBox(line, column), label: this.labels[label], confidence, line: number,
                        uncertain: confidence < this.threshold });
        }
        if (reads[i].length) number += 1;
      });
    }
    return { digits: readOnce(digits), lines, ms: { find: t1 - t0, read: performance.now() - t1 } };
  }
}

// Digits in reading order, numbers separated by a space, "?" after an uncertain digit (as edgedigits as_text).
export function asText(digits) {
  let out = "", line = null;
  for (const d of digits) {
    if (line !== null && d.line !== line) out += " ";
    out += d.label + (d.uncertain ? "?" : "");
    line = d.line;
  }
  return out;
}

// The JSON fields of one frame, as `edgedigits predict --json` writes them.
export function asRecord(digits) {
  return {
    text: asText(digits), digits: digits.map((d) => d.label),
    confidences: digits.map((d) => Math.round(d.confidence * 1e4) / 1e4), uncertain: digits.map((d) => d.uncertain),
    boxes: digits.map((d) => d.box), lines: digits.map((d) => d.line),
  };
}
