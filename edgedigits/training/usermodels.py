"""Models from your own files, named by a recipe's `model`: a builder in a Python file of yours
(`model = "my_models.py:build"`, called as build(input_shape, num_classes) and returning an uncompiled tf_keras
model), or a Keras model saved by your notebook (`model = "notebook.keras"`), which the pipeline prunes, exports
and quantizes as it is (or trains first, with `start = "train"`). Any other name is a registry model.

The builder file is your own code, run because the recipe names it, and only it: it is executed as a module of
its own, its folder is not put on the import path, and nothing else near it (a data folder) is ever imported.
Paths are relative to the recipe's folder.
"""

from __future__ import annotations

import hashlib
import traceback
import types
from pathlib import Path

from edgedigits.errors import InputError

SAVED = (".keras", ".h5")
_BUILT: dict[str, object] = {}  # resolved builder file -> its module: a file runs once per process


def kind(model: str) -> str:
    """"builder" (FILE.py:FUNCTION), "saved" (a .keras or .h5 file) or "registry" (any other name)."""
    if Path(model).suffix.lower() in SAVED:
        return "saved"
    file, sep, _ = model.rpartition(":")
    return "builder" if sep and file.lower().endswith(".py") else "registry"


def check(model: str) -> None:
    """The reference's form, before any file is read: FILE.py:FUNCTION names a Python identifier."""
    if kind(model) == "builder":
        function = model.rpartition(":")[2]
        if not function.isidentifier():
            raise InputError(f"model {model!r}: after the ':' comes the builder function's name, got {function!r}")


def path(model: str, base) -> Path:
    """The file a user model names, relative to `base` (the recipe's folder); a missing one is an InputError."""
    file = Path(model.rpartition(":")[0] if kind(model) == "builder" else model).expanduser()
    found = file if file.is_absolute() or base is None else Path(base) / file
    if not found.is_file():
        raise InputError(f"model file not found: {found}")
    return found


def source(model: str) -> str:
    """What the model is, as its ONNX doc string and manifest say it (file names only, no folders)."""
    if kind(model) == "builder":
        file, _, function = model.rpartition(":")
        return f"a model built by {function}() in {Path(file).name}"
    return f"a Keras model saved as {Path(model).name}"


def build(model: str, base, input_shape: tuple, num_classes: int):
    """Call the builder `model` names with (input_shape, num_classes); its model checked to be a tf_keras model."""
    from edgedigits.training.stack import keras

    file, function = path(model, base), model.rpartition(":")[2]
    module = _module(file)
    builder = getattr(module, function, None)
    if not callable(builder):
        raise InputError(f"{file} has no function {function}() (it has: {', '.join(_functions(module)) or 'none'})")
    built = _call(builder, file, function, tuple(input_shape), int(num_classes))
    if not isinstance(built, keras.Model):
        kind_of = f"{type(built).__module__}.{type(built).__name__}"
        raise InputError(f"{function}() in {file} returned {kind_of}, not a tf_keras model: build it with "
                         f"`import tf_keras as keras` (pruning needs Keras 2), and return the model")
    return built


def _module(file: Path):
    """The builder file run as a module of its own: compiled from its text, so no bytecode cache is written
    beside it, and not put in sys.modules, so nothing else can import it by name."""
    key = str(file.resolve())
    if key not in _BUILT:
        module = types.ModuleType("edgedigits_user_" + hashlib.sha256(key.encode()).hexdigest()[:12])
        module.__file__ = key
        try:
            code = compile(file.read_bytes(), key, "exec")
        except (OSError, SyntaxError, ValueError) as exc:
            line = f" line {exc.lineno}" if getattr(exc, "lineno", None) else ""
            raise InputError(f"{file}{line}: cannot load it as Python ({type(exc).__name__}: "
                             f"{getattr(exc, 'msg', None) or exc})") from None
        _call(exec, file, None, code, module.__dict__)
        _BUILT[key] = module
    return _BUILT[key]


def _call(function, file: Path, name: str | None, *args):
    """Run the user's code; an exception in it is one InputError naming the file's line, not a traceback."""
    try:
        return function(*args)
    except InputError:
        raise
    except Exception as exc:  # whatever their code raises: say where, in one line
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == file.resolve()]
        where = f"{file} line {frames[-1].lineno}" if frames else str(file)
        what = f"{name}() " if name else ""
        raise InputError(f"{where}: {what}raised {type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None


def _functions(module) -> list[str]:
    return sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                  and getattr(v, "__module__", None) == module.__name__)
