"""The runtime half: what an app installs to read digits or embed a model (onnxruntime, numpy, OpenCV), in wings:
model (running a model and its ONNX contract), reading (finding and reading digits), webcam (the live loop),
bench (measuring models) and datasets. The names most apps need are here.

Nothing under edgedigits.runtime imports edgedigits.training or TensorFlow (a test checks).
"""

from edgedigits.runtime.model.classifier import NORMALIZATION, Classifier, Prediction, accuracy, normalize, top1
from edgedigits.runtime.model.session import open_session, runner, session_options
from edgedigits.runtime.model.shipped import default_model, default_number_reader
from edgedigits.runtime.reading.output import as_record, as_text, draw
from edgedigits.runtime.reading.reader import Digit, Reader, load_reader

__all__ = ["NORMALIZATION", "Classifier", "Digit", "Prediction", "Reader", "accuracy", "as_record", "as_text",
           "default_model", "default_number_reader", "draw", "load_reader", "normalize", "open_session", "runner",
           "session_options", "top1"]
