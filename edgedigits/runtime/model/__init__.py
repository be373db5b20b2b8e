"""Running an exported model with onnxruntime and its ONNX contract: sessions and the batch-1 path, the
Classifier, the contract read from the file, the models shipped in the package, and artifacts written so that a
failed run never leaves a half-written file."""
