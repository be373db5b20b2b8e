// The page: camera frames in, digits read and boxed over the video, frames/s shown. URL parameters:
//   model=lenet.int8.onnx   a model under /models/          threads=1   onnxruntime-web wasm threads
//   record=N                keep the last N frames read (PNG + reading) for window.edgedigits.frames (tests)
//   repeat=K                read every frame K times and keep each time (benchmarks)
import { Classifier, configure, ort } from "./model.js";
import { Reader, asRecord, asText } from "./reader.js";

const params = new URLSearchParams(location.search);
const MODEL = params.get("model") || "lenet.int8.onnx";
const THREADS = Number(params.get("threads") || 1);
const RECORD = Number(params.get("record") || 0);
const REPEAT = Math.max(1, Number(params.get("repeat") || 1));
const GREEN = "rgb(60,200,60)", ORANGE = "rgb(255,140,0)";

// What a test or a benchmark reads from the page.
const state = (window.edgedigits = { state: "loading", error: null, info: {}, frames: [], processed: 0 });
const $ = (id) => document.getElementById(id);

// OpenCV.js once its wasm runs. The module object has a then() of its own (Emscripten's) that resolves to itself, so
// it is handed over inside an object: awaiting it directly would never end.
async function openCv() {
  let cv = window.cv;
  if (cv instanceof Promise) cv = await cv;
  if (!cv.Mat) await new Promise((resolve) => { cv.onRuntimeInitialized = resolve; });
  return { cv };
}

async function camera(video) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  video.srcObject = stream;
  await video.play();
  return stream;
}

// Boxes, labels and confidences over the frame, as `edgedigits webcam` draws them.
function draw(ctx, digits, fps, text) {
  const scale = ctx.canvas.height / 480;
  ctx.lineWidth = Math.max(1, Math.round(2 * scale));
  for (const d of digits) {
    const [x, y, w, h] = d.box;
    const colour = d.uncertain ? ORANGE : GREEN;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x, y, w, h);
    const size = Math.min(Math.max(h / 70, 0.45), 1.2) * Math.sqrt(scale) * 28;
    tab(ctx, d.label + (d.uncertain ? "?" : ""), x, y, size, colour, true);
    tab(ctx, d.confidence.toFixed(2), x, y + h, 0.6 * size, colour, false);
  }
  tab(ctx, `${fps.toFixed(0)} fps  ${text}`, 6 * scale, 0, 18 * scale, "black", false);
}

function tab(ctx, text, x, y, px, colour, above) {
  ctx.font = `bold ${Math.round(px)}px sans-serif`;
  const w = ctx.measureText(text).width + 4, h = Math.round(px * 1.2);
  const top = above ? Math.max(0, y - h) : Math.min(y, ctx.canvas.height - h);
  ctx.fillStyle = colour;
  ctx.fillRect(x, top, w, h);
  ctx.fillStyle = "white";
  ctx.textBaseline = "top";
  ctx.fillText(text, x + 2, top + 0.1 * px);
}

async function main() {
  configure({ threads: THREADS });
  const [{ cv }, classifier] = await Promise.all([openCv(), Classifier.load(`models/${MODEL}`)]);
  const reader = new Reader(cv, classifier);
  const video = $("video");
  await camera(video);
  const width = video.videoWidth, height = video.videoHeight;
  const view = $("view"), grab = document.createElement("canvas");
  view.width = grab.width = width;
  view.height = grab.height = height;
  const grabCtx = grab.getContext("2d", { willReadFrequently: true }), viewCtx = view.getContext("2d");
  Object.assign(state.info, {
    model: MODEL, threads: ort.env.wasm.numThreads, crossOriginIsolated: self.crossOriginIsolated,
    onnxruntime: ort.env.versions?.web, opencv: cv.getBuildInformation().match(/General configuration for OpenCV ([^\s=]+)/)?.[1],
    size: [width, height], userAgent: navigator.userAgent, cores: navigator.hardwareConcurrency,
  });
  state.state = "running";
  let fps = 0, last = performance.now();

  const step = async (now, meta) => {
    grabCtx.drawImage(video, 0, 0, width, height);
    const frame = grabCtx.getImageData(0, 0, width, height);
    const times = [];
    let result;
    for (let k = 0; k < REPEAT; k++) {
      const began = performance.now();
      result = await reader.read(frame);
      times.push({ total: performance.now() - began, ...result.ms });
    }
    const text = asText(result.digits);
    const t = performance.now();
    fps = fps ? 0.9 * fps + 0.1 * 1000 / Math.max(t - last, 1e-3) : 1000 / Math.max(t - last, 1e-3);
    last = t;
    viewCtx.drawImage(grab, 0, 0);
    draw(viewCtx, result.digits, fps, text);
    $("text").textContent = text || "(no digits found)";
    $("status").textContent = `${fps.toFixed(1)} frames/s, ${times[0].total.toFixed(1)} ms to read a frame ` +
      `(finding ${times[0].find.toFixed(1)} ms, model ${times[0].classify.toFixed(1)} ms); ${MODEL}, onnxruntime-web ` +
      `${state.info.onnxruntime} wasm, ${THREADS} thread${THREADS > 1 ? "s" : ""}`;
    state.processed += 1;
    if (RECORD) {
      state.frames.push({ index: state.processed - 1, mediaTime: meta?.mediaTime ?? null, ms: times,
                          png: grab.toDataURL("image/png"), ...asRecord(result.digits) });
      if (state.frames.length > RECORD) state.frames.shift();
    }
    next();
  };
  const next = () => {
    if ("requestVideoFrameCallback" in video) video.requestVideoFrameCallback((now, meta) => step(now, meta).catch(fail));
    else requestAnimationFrame((now) => step(now, null).catch(fail));
  };
  next();
}

function fail(err) {
  state.state = "error";
  state.error = String(err && err.message ? err.message : err);
  $("status").textContent = `error: ${state.error}`;
}

main().catch(fail);
