"""Synthetic inputs with known ground truth, for training, tests and benchmarks: camera frames of MNIST digits on
paper (scenes), numbers written close together (numbers), and frames as a fake camera's video file (y4m). numpy and
OpenCV only. Not what an app needs to read digits: that is edgedigits.runtime."""
