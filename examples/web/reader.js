// The reader: digits found in a frame (find.js), classified in one batch (model.js), with the uncertainty mark and
// the text `edgedigits predict` prints. For now each blob is read as one digit (`predict --touching off`).
import { findDigits } from "./find.js";
import { below } from "./model.js";

export const DEFAULT_THRESHOLD = 0.8;  // below it a digit is shown as uncertain ("7?")

export class Reader {
  constructor(cv, classifier, threshold = DEFAULT_THRESHOLD) {
    this.cv = cv;
    this.classifier = classifier;
    this.threshold = threshold;
  }

  // ImageData -> {digits: [{box, label, confidence, line, uncertain}], ms: {find, classify}}.
  async read(imageData) {
    const t0 = performance.now();
    const found = findDigits(this.cv, imageData);
    const t1 = performance.now();
    const digits = [];
    const n = found.boxes.length;
    if (n) {
      const probs = await this.classifier.probabilities(found.images, n);
      const classes = probs.length / n;
      for (let i = 0; i < n; i++) {
        const row = probs.subarray(i * classes, (i + 1) * classes);
        let best = 0;
        row.forEach((v, k) => { if (v > row[best]) best = k; });
        digits.push({ box: found.boxes[i], label: this.classifier.labels[best], confidence: row[best],
                      line: found.lines[i], uncertain: below(row[best], this.threshold) });
      }
    }
    return { digits, ms: { find: t1 - t0, classify: performance.now() - t1 } };
  }
}

// Digits in reading order, lines separated by a space, "?" after an uncertain digit (as edgedigits as_text).
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
