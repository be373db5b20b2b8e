"""edgedigits: train, prune, export and quantize small image classifiers for the edge, and prove each step."""

__version__ = "0.1.0"
