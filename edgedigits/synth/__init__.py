"""Synthetic scenes with known ground truth, for training, tests and benchmarks: camera frames of MNIST digits
on paper (scenes) and numbers written close together (numbers). numpy and OpenCV only. Not what an app needs to
read digits: that is edgedigits.runtime."""
