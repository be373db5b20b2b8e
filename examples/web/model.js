// The page reader's networks in the browser through onnxruntime-web (wasm), and the shipped sets' manifests that name
// their default files. onnxruntime-web does not expose a model's custom metadata, so metadataProps() reads
// metadata_props from the .onnx bytes (a protobuf; the few fields needed take a few lines), as
// examples/node/read_digit.js does.
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

// wasm settings before the first session: one thread unless asked (the Python reader runs one intra-op thread),
// and the wasm files from the package's own folder (served beside the page, so the page works offline).
export function configure({ threads = 1 } = {}) {
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = new URL("./node_modules/onnxruntime-web/dist/", import.meta.url).href;
}

async function fetchOk(url) {
  const answer = await fetch(url);
  if (!answer.ok) throw new Error(`cannot load ${url}: HTTP ${answer.status}`);
  return answer;
}

// The file a shipped set's manifest (NAME/NAME.json under `base`) names as its default, `files[default]`; the set's
// INT8 file when the manifest does not read (as the Python reader's page.default_file).
export async function defaultFile(base, name) {
  try {
    const manifest = await (await fetchOk(`${base}${name}/${name}.json`)).json();
    const file = manifest.files[manifest.default];
    if (typeof file !== "string") throw new Error("no default file");
    return `${name}/${file.split("/").pop()}`;
  } catch {
    return `${name}/${name}.int8.onnx`;
  }
}

// One ONNX network of the page reader: its session, its metadata, and float32 in -> float32 out.
export class Network {
  constructor(url, session, meta) {
    this.url = url;
    this.session = session;
    this.meta = meta;
    this.kind = meta.kind ?? meta.pipeline ?? null;  // files shipped before "kind" said it as "pipeline"
  }

  // The network at `url`, refused unless its metadata kind is `kind`.
  static async load(url, kind) {
    const bytes = new Uint8Array(await (await fetchOk(url)).arrayBuffer());
    const meta = metadataProps(bytes);
    const network = new Network(url, await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] }), meta);
    if (network.kind !== kind) throw new Error(`${url}: not a ${kind} (its metadata kind is ${network.kind})`);
    return network;
  }

  // x: Float32Array of shape dims -> {data: Float32Array, dims} of the first output.
  async run(x, dims) {
    const session = this.session;
    const out = (await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", x, dims) }))[session.outputNames[0]];
    return { data: out.data, dims: out.dims };
  }
}
