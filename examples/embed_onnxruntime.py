"""Classify 28x28 digit images with an edgedigits model and nothing but onnxruntime and numpy.

    python examples/embed_onnxruntime.py exported/lenet.int8.onnx digit1.png digit2.png ...

This is the whole contract an app needs, read from the .onnx file itself (the same steps work from C++ or C#):
input float32 [N,28,28,1] = uint8 / 255, white ink on black; output [N,classes] probabilities; the tensor names and
the labels are in the model's metadata_props. OpenCV only loads the PNGs here; any image loader does.
"""

import json
import sys

import cv2
import numpy as np
import onnxruntime as ort

options = ort.SessionOptions()
options.intra_op_num_threads = 1  # one core is plenty for a 28x28 model
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
labels = json.loads(meta["labels"])
input_name, output_name = meta["input_name"], meta["output_name"]

images = np.stack([cv2.imread(path, cv2.IMREAD_GRAYSCALE) for path in sys.argv[2:]])  # uint8 [N,28,28]
x = (images.astype(np.float32) / 255.0)[..., None]  # the model's normalization: [N,28,28,1] in [0,1]
probabilities = session.run([output_name], {input_name: x})[0]
for path, p in zip(sys.argv[2:], probabilities):
    print(f"{path}: {labels[int(p.argmax())]} ({p.max():.2f})")
