// An edgedigits model in the browser through onnxruntime-web (wasm): the contract from the file's own metadata.
//
// onnxruntime-web does not expose a model's custom metadata, so metadataProps() reads metadata_props from the .onnx
// bytes (a protobuf; the few fields needed take a few lines), the same way as examples/node/read_digit.js. The input
// contract: float32 [N,28,28,1] = uint8 / 255, white ink on black (MNIST); output [N,classes] probabilities.
import * as ort from "./node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";

export { ort };

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
export function metadataProps(bytes) {
  const text = new TextDecoder();
  const props = {};
  for (const [number, entry] of fields(bytes)) {
    if (number !== 14) continue;
    const kv = Object.fromEntries(fields(entry).map(([n, b]) => [n, text.decode(b)]));
    props[kv[1]] = kv[2];
  }
  return props;
}

// wasm settings before the first session: one thread unless asked (a 28x28 model gains nothing from more), and the
// wasm files from the package's own folder (served beside the page, so the page works offline).
export function configure({ threads = 1 } = {}) {
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = new URL("./node_modules/onnxruntime-web/dist/", import.meta.url).href;
}

const SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);  // uint8 -> float32 uint8/255, as Python's table
const THRESHOLD_F32 = (t) => Math.fround(t);

export class Classifier {
  // Use Classifier.load(url).
  constructor(session, meta) {
    if (!meta.input_name || !meta.output_name || !meta.labels) throw new Error("not an edgedigits model: no metadata");
    this.session = session;
    this.meta = meta;
    this.labels = JSON.parse(meta.labels);
  }

  static async load(url) {
    const answer = await fetch(url);
    if (!answer.ok) throw new Error(`cannot load ${url}: HTTP ${answer.status}`);
    const bytes = new Uint8Array(await answer.arrayBuffer());
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const model = new Classifier(session, metadataProps(bytes));
    await model.probabilities(new Uint8Array(784), 1);  // warm-up: the first frame is not the slow one
    return model;
  }

  // uint8 images [n,28,28] (one Uint8Array) -> Float32Array [n, classes] of probabilities.
  async probabilities(images, n) {
    const x = new Float32Array(n * 784);
    for (let i = 0; i < x.length; i++) x[i] = SCALE[images[i]];
    const feeds = { [this.meta.input_name]: new ort.Tensor("float32", x, [n, 28, 28, 1]) };
    const out = (await this.session.run(feeds))[this.meta.output_name];
    return out.data;
  }
}

// confidence < threshold, compared in float32 as numpy compares a float32 probability with a Python float.
export function below(confidence, threshold) {
  return confidence < THRESHOLD_F32(threshold);
}
