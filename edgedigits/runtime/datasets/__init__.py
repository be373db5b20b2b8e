"""Datasets: MNIST and Fashion-MNIST from a folder you name, the cache, Keras' download or offline mirrors, read
with numpy only (formats: IDX and .npz), checked and cached. The API: `load(name)` -> Dataset."""

from edgedigits.runtime.datasets.sources import Dataset, cache_dir, load, split_validation

__all__ = ["Dataset", "cache_dir", "load", "split_validation"]
