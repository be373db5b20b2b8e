"""Read every handwritten digit in a photo with the edgedigits runtime API (onnxruntime + OpenCV, no TensorFlow).

    python examples/read_digits.py exported/lenet.int8.onnx photo.jpg ...

vision.find_digits finds the digits (dark ink on light paper, or the reverse) and normalizes each the MNIST way;
runtime.Classifier classifies them all in one batch, with labels from the model's metadata.
"""

import sys

import cv2

from edgedigits import runtime
from edgedigits.runtime import vision

model = runtime.Classifier(sys.argv[1], threads=1)
for path in sys.argv[2:]:
    found = vision.find_digits(cv2.imread(path))  # boxes in reading order + 28x28 MNIST-style images
    result = model.classify(found.images)
    digits = " ".join(f"{label}({conf:.2f})" for label, conf in zip(result.labels, result.confidences))
    print(f"{path}: {''.join(result.labels)}  {digits}")
