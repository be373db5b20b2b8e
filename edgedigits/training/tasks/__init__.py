"""Kinds of model a recipe can make (`task = "..."`, default "classifier"), each one class in its own module of
this package, registered in TASKS.

The stages (training/stages) are the same for every kind; a task supplies what differs, as NNCF and Olive take an
evaluator and a data config rather than a model type:
- `check(recipe)`: recipe checks that need the task (its model names), before any data is loaded
- `Table`: its own recipe table, when it has settings the built-in tables do not cover
- `load(recipe, data_dir) -> (dataset, data)` and `parameters(recipe, dataset)`, `record(run)`
- `train(run) -> Keras model`, `load_model(path or model)`, `check_model(model, dataset)`, `check_onnx(path,
  dataset)` (an ONNX file to start from: one InputError if it does not fit the task and dataset), optionally
  `saved_model(recipe)` (the saved model a recipe starts from at pruning, or None), and for a task with pruning
  `teachers(run, table)` (what teaches the [train] or [prune] fine-tuning: distillation, or None)
- export: `exportable(model)` (the Keras model to convert), `signature(run)` (its input TensorSpecs),
  `parity_inputs(run)` (float inputs compared between Keras and onnxruntime), `finalize(proto, run)` (names and
  the contract's metadata)
- scores: `score(run, path) -> facts` (on the test set, through onnxruntime, with "test_accuracy"),
  `validate(run) -> path -> %` (on validation data), `calibration(run)` (INT8 calibration feeds from training data),
  `timing_inputs(run)` (a batch-1 input and a batch)
- `stamp(run, stage, result)` (what the file says about itself) and `manifest(run)` (the task's manifest entries)

What several tasks do alike is written once: training/taskbase.py (`Unpruned`; `CTCReader`, the number and strip
readers) and training/pagedata.py (`PageTask`, the page reader's two tasks).
"""

from edgedigits.registry import Registry

TASKS = Registry("task", package=__name__)  # every module of this package is a task
