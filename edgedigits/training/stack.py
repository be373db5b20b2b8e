"""The one place the training half imports TensorFlow and tf_keras, configured before the first import.

- TF_USE_LEGACY_KERAS=1: tfmot only works with Keras 2 (tf_keras).
- TF_ENABLE_ONEDNN_OPTS=1: TensorFlow turns oneDNN on by default only on some Intel CPUs; on this 2-core AMD EPYC
  it makes LeNet training 4x faster (21 s -> 5 s per MNIST epoch, measured), and it is the default path on Intel.
- The pins of reproducible training (training/pins.py): oneDNN capped at AVX2, a fixed thread count (or
  EDGEDIGITS_THREADS=N, set by sweep workers so N workers share the cores), op determinism.
- TensorFlow's C++ side writes CUDA-probe and absl start-up lines straight to file descriptor 2 during import,
  before TF_CPP_MIN_LOG_LEVEL is read; they would bury the one-line errors the CLI promises, so fd 2 is silenced
  for the import only. Python errors raised by the import still surface normally.
- Temporary files (autograph writes one per traced function) go to a directory of this process, which a hard
  kill cannot leave behind for long: the next run removes it (artifacts.private_tempdir).
"""

import contextlib
import os
import sys

from edgedigits.runtime.model.artifacts import private_tempdir
from edgedigits.training import pins

private_tempdir()  # autograph's generated files and every other temp file of the run: removed at exit, or next run
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pins.before_import()


@contextlib.contextmanager
def _native_stderr_silenced():
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _native_stderr_silenced():
    import tensorflow as tf  # noqa: E402
    import tf_keras as keras  # noqa: E402

    pins.after_import(tf)
    tf.config.list_physical_devices()  # the CUDA probe happens here, still silenced
    import tensorflow_model_optimization as tfmot  # noqa: E402

__all__ = ["tf", "keras", "tfmot"]
