"""The runtime half: what an app installs to read digits or embed a model (onnxruntime, numpy, OpenCV).

Nothing under edgedigits.runtime imports edgedigits.training or TensorFlow (a test checks).
"""

from edgedigits.runtime.classifier import (
                                           NORMALIZATION,
                                           Classifier,
                                           Prediction,
                                           accuracy,
                                           default_model,
                                           normalize,
                                           open_session,
                                           session_options,
                                           session_runner,
)

__all__ = ["NORMALIZATION", "Classifier", "Prediction", "accuracy", "default_model", "normalize", "open_session",
           "session_options", "session_runner"]
