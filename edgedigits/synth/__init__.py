"""Synthetic inputs with known ground truth, for training, tests and benchmarks: camera frames of MNIST digits on
paper (scenes), numbers written close together (numbers), frames as a fake camera's video file (y4m), and pages of
handwritten numbers shaped like real photos and scans (glyphs, strokes, write, clutter, pages, sets). numpy and
OpenCV only (fonts through Pillow). Not what an app needs to read digits: that is edgedigits.runtime."""

GENERATOR = 3  # raised whenever what the page generator or the page reader's cutting makes changes: caches re-render
