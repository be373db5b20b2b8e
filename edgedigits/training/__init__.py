"""The training half (the `[train]` extra): models, training, pruning, export, quantization and the pipeline.

Imports TensorFlow only in the modules that need it (through edgedigits.training.stack), so the recipe parser and
the model registry load without it.
"""
