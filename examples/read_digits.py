"""Read every handwritten digit in photos with the edgedigits runtime API (onnxruntime + OpenCV, no TensorFlow).

    python examples/read_digits.py MODEL.onnx PHOTO...     e.g. exported/lenet.int8.onnx examples/digits.jpg

Prints what `edgedigits predict` prints: 'PHOTO: 156 288', digits in reading order, lines separated by a space,
'?' after a digit whose confidence is below 0.8. runtime.Reader finds and MNIST-normalizes the digits (dark ink
on light paper, or the reverse); Classifier classifies them all in one batch, with labels from the model's metadata.
"""

import sys

import cv2

from edgedigits import runtime

if len(sys.argv) < 3:
    print("usage: python examples/read_digits.py MODEL.onnx PHOTO...  (e.g. exported/lenet.int8.onnx examples/digits.jpg)",
          file=sys.stderr)
    sys.exit(2)

reader = runtime.Reader(runtime.Classifier(sys.argv[1], threads=1))  # finder + classifier, one batch per photo
for path in sys.argv[2:]:
    photo = cv2.imread(path)
    if photo is None:
        print(f"read_digits: cannot read image {path}", file=sys.stderr)
        sys.exit(2)
    digits = reader.read(photo)  # each with its box, label, confidence, line and an uncertain flag
    print(f"{path}: {runtime.as_text(digits) or '(no digits found)'}")
