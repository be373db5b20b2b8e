// The pixel and number steps the page reader does between its networks, written to give exactly the Python reader's
// numbers (edgedigits.runtime.reading.resample and the numpy calls it makes): whole-factor box shrinking, pixel
// repetition, bilinear sampling with a constant border, order statistics by index, numpy's summation order, and
// OpenCV's grey conversion. No dependencies: the same module runs in the page and in Node.js.

// RGBA bytes (a canvas's ImageData) -> grey Uint8Array, as OpenCV 5's cv2.cvtColor(BGR2GRAY) computes it in fixed
// point: (9798 R + 19235 G + 3735 B + 2^14) >> 15 (OpenCV 4 used 14 bits: 4899, 9617, 1868). A grey pixel keeps its
// value.
export function grayFromRGBA(rgba, width, height) {
  const out = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < out.length; i++, j += 4) {
    out[i] = (9798 * rgba[j] + 19235 * rgba[j + 1] + 3735 * rgba[j + 2] + 16384) >> 15;
  }
  return out;
}

// uint8 [h, w] -> uint8 [h / k, w / k] (floors): each pixel the mean of a k x k block, rounded half up in integers.
export function shrink(gray, h, w, k) {
  if (k <= 1) return { data: gray, h, w };
  const sh = Math.floor(h / k), sw = Math.floor(w / k), kk = k * k, half = Math.floor(kk / 2);
  const out = new Uint8Array(sh * sw);
  const sums = new Float64Array(sw);
  for (let i = 0; i < sh; i++) {
    sums.fill(0);
    for (let r = i * k; r < i * k + k; r++) {
      const row = r * w;
      for (let j = 0; j < sw; j++) {
        let s = 0;
        for (let c = j * k, end = j * k + k; c < end; c++) s += gray[row + c];
        sums[j] += s;
      }
    }
    for (let j = 0; j < sw; j++) out[i * sw + j] = Math.floor((sums[j] + half) / kk);
  }
  return { data: out, h: sh, w: sw };
}

// uint8 [h, w] -> [h k, w k], each pixel repeated k x k times.
export function enlarge(gray, h, w, k) {
  if (k <= 1) return { data: gray, h, w };
  const out = new Uint8Array(h * k * w * k), ow = w * k;
  for (let y = 0; y < h * k; y++) {
    const src = Math.floor(y / k) * w;
    for (let x = 0; x < ow; x++) out[y * ow + x] = gray[src + Math.floor(x / k)];
  }
  return { data: out, h: h * k, w: ow };
}

// The value at `index` of uint8 `values` sorted ascending (a count of each grey level: exact and linear).
export function nthByte(values, index) {
  const counts = new Uint32Array(256);
  for (let i = 0; i < values.length; i++) counts[values[i]]++;
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += counts[v];
    if (seen > index) return v;
  }
  throw new RangeError(`no element ${index} in ${values.length} values`);
}

// The lower median of uint8 values: the value at (n - 1) // 2 of the n values sorted.
export function lowerMedian(values) {
  return nthByte(values, (values.length - 1) >> 1);
}

// numpy.median of float64 numbers: the middle one, or the mean of the two middle ones.
export function median(values) {
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// numpy's sum of a float64 array (add.reduce): pairwise, 8 accumulators per block of at most 128 numbers, so the
// same additions in the same order give the same last bits.
export function pairwiseSum(a, start = 0, n = a.length) {
  if (n < 8) {
    let res = -0.0;
    for (let i = start; i < start + n; i++) res += a[i];
    return res;
  }
  if (n <= 128) {
    const r = [a[start], a[start + 1], a[start + 2], a[start + 3], a[start + 4], a[start + 5], a[start + 6],
               a[start + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

// `image` (uint8 [h, w]) sampled at (x, y), pixel (i, j) at x = j, y = i, in float64:
// (a (1 - fx) + b fx) (1 - fy) + (c (1 - fx) + d fx) fy, `fill` for a neighbour outside the image.
export function bilinear(image, h, w, x, y, fill) {
  const x0 = Math.floor(x), y0 = Math.floor(y), fx = x - x0, fy = y - y0;
  const at = (xx, yy) => (xx >= 0 && xx < w && yy >= 0 && yy < h ? image[yy * w + xx] : fill);
  const top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
  const bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
  return top * (1.0 - fy) + bottom * fy;
}
