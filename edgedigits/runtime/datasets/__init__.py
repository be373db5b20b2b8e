"""Datasets: MNIST and Fashion-MNIST from a folder you name, the cache, Keras' download or offline mirrors (sources,
formats), and your own data in files: a labelled CSV, a folder of class subfolders of images, an .npz (files,
readers). numpy and OpenCV only. The API: `load(name, path or FileSource)` -> Dataset."""

from edgedigits.runtime.datasets.files import FileSource, load
from edgedigits.runtime.datasets.sources import Dataset, cache_dir, cached, split_validation

__all__ = ["Dataset", "FileSource", "cache_dir", "cached", "load", "split_validation"]
