// Classify 28x28 digit images with an edgedigits model through onnxruntime-node.
//
//   npm install --ignore-scripts       (in this folder: onnxruntime-node, whose CPU library is inside the package)
//   node read_digit.js MODEL.onnx DIGIT.pgm...     prints "DIGIT.pgm: 7 (0.99)" per image, as the Python example
//
// The input and output names and the labels come from the model's metadata_props. onnxruntime-node does not expose
// that map, so metadataProps() reads it from the .onnx file (a protobuf) directly. The input contract: float32
// [N,28,28,1] = uint8 / 255, white ink on black (MNIST). Images are binary PGM (P5), 28x28, 8-bit.
"use strict";
const fs = require("fs");
const ort = require("onnxruntime-node");

// Protobuf varint at buf[pos] -> [value, next position].
function varint(buf, pos) {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, pos];
}

// Length-delimited fields of one protobuf message: [[field number, bytes], ...]; other wire types are skipped.
function fields(buf) {
  const out = [];
  let pos = 0;
  while (pos < buf.length) {
    let key, len;
    [key, pos] = varint(buf, pos);
    const wire = key % 8;
    if (wire === 0) [, pos] = varint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      [len, pos] = varint(buf, pos);
      out.push([Math.floor(key / 8), buf.subarray(pos, pos + len)]);
      pos += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

// ModelProto.metadata_props (field 14): StringStringEntryProto {key = 1, value = 2}.
function metadataProps(path) {
  const props = {};
  for (const [number, entry] of fields(fs.readFileSync(path))) {
    if (number !== 14) continue;
    const kv = Object.fromEntries(fields(entry).map(([n, b]) => [n, b.toString("utf8")]));
    props[kv[1]] = kv[2];
  }
  return props;
}

// A 28x28 8-bit binary PGM -> 784 pixels.
function readPgm(path) {
  const buf = fs.readFileSync(path);
  const header = [];
  let pos = 0;
  while (header.length < 4) {
    while (/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    if (buf[pos] === 0x23) { while (buf[pos] !== 0x0a) pos++; continue; }  // a comment line
    let token = "";
    while (!/\s/.test(String.fromCharCode(buf[pos]))) token += String.fromCharCode(buf[pos++]);
    header.push(token);
  }
  if (header.join(" ") !== "P5 28 28 255") throw new Error(`${path}: expected a 28x28 8-bit binary PGM (P5)`);
  const pixels = buf.subarray(pos + 1, pos + 1 + 28 * 28);
  if (pixels.length !== 28 * 28) throw new Error(`${path}: truncated`);
  return pixels;
}

async function main(args) {
  if (args.length < 2) {
    console.error("usage: node read_digit.js MODEL.onnx DIGIT.pgm...");
    return 2;
  }
  const [modelPath, ...images] = args;
  const meta = metadataProps(modelPath);
  if (!meta.input_name || !meta.output_name || !meta.labels) throw new Error("not an edgedigits model: no metadata");
  const labels = JSON.parse(meta.labels);
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const x = new Float32Array(images.length * 28 * 28);
  images.forEach((path, i) => readPgm(path).forEach((v, j) => { x[i * 784 + j] = Math.fround(v / 255); }));
  const feeds = { [meta.input_name]: new ort.Tensor("float32", x, [images.length, 28, 28, 1]) };
  const p = (await session.run(feeds))[meta.output_name];
  const classes = p.dims[1];
  images.forEach((path, i) => {
    const row = p.data.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    row.forEach((v, k) => { if (v > row[best]) best = k; });
    console.log(`${path}: ${labels[best]} (${row[best].toFixed(2)})`);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`read_digit: ${err.message}`); process.exitCode = 2; },
);
