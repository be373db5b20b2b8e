// The web reader's steps between its networks (examples/web: finder.js, strips.js, resample.js) on the inputs the
// Python reader saw, for tests/test_web.py to compare number for number: per image the grey image and the networks'
// outputs in, the working image, the lines, their reading order, the strips (and the strips moved across the line
// that a doubted number is read again from) and the digits read out.
//
//   node tests/web_steps.mjs IN.json OUT.json
// IN: {images: [{shape: [h, w], gray: base64 uint8, maps: {shape, data: base64 float32}, probs: {shape, data}}, ...],
//      once: [[[label, confidence, [x, y, w, h], number], ...], ...]}
import { readFileSync, writeFileSync } from "node:fs";
import { linesFromMaps, workingImage } from "../examples/web/finder.js";
import { cut, decode, digitBox, normalize, readOnce, readingOrder, SHIFT, shifted, STRIDE } from "../examples/web/strips.js";

const bytes = (b64) => new Uint8Array(Buffer.from(b64, "base64"));
const floats = (b64) => { const b = bytes(b64); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
const b64 = (array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString("base64");

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = input.images.map((im) => {
  const [h, w] = im.shape, gray = bytes(im.gray);
  const work = workingImage(gray, h, w);
  const [mh, mw] = im.maps.shape;
  const found = linesFromMaps(floats(im.maps.data), mh, mw, work.geo);
  const order = readingOrder(found);
  const probs = floats(im.probs.data), [, t, classes] = im.probs.shape;
  const strips = order.map((i, k) => {
    const line = found[i], s = cut(gray, h, w, line);
    const reads = decode(probs.subarray(k * t * classes, (k + 1) * t * classes), Math.floor(s.width / STRIDE), classes);
    const moved = [-1, 1].map((sign) => b64(cut(gray, h, w, shifted(line, sign * SHIFT)).data));
    return { width: s.width, cut: b64(s.data), normalized: b64(normalize(s.data)), moved,
             reads: reads.map(([label, confidence, column]) => [label, confidence, digitBox(line, column)]) };
  });
  return { geo: work.geo, work: b64(work.data), lines: found, order, strips, shift: SHIFT };
});
// each ink read once, on the digits (box, number, confidence) given as "once" cases
const once = (input.once ?? []).map((digits) =>
  readOnce(digits.map(([label, confidence, box, line]) => ({ label, confidence, box, line })))
    .map((d) => [d.label, d.confidence, d.box, d.line]));
writeFileSync(process.argv[3], JSON.stringify({ images: out, once }));
