"""Which optional extra a command needs, checked before any work starts: a missing one is one line naming the
`pip install` that brings it (exit 2), never an ImportError traceback halfway through."""

from __future__ import annotations

import functools
import importlib.util

from edgedigits.errors import InputError

EXTRAS = {  # extra -> the top-level modules it installs (checked with find_spec: nothing is imported)
    "train": ("tensorflow", "tf_keras", "tensorflow_model_optimization", "tf2onnx", "onnx", "sympy", "sklearn",
              "matplotlib"),
    "intel": ("openvino",),
    "ray": ("ray",),
    "gui": ("pygame",),
}


class MissingExtra(InputError):
    """A feature was asked for whose optional dependencies are not installed."""


def missing(extra: str) -> list[str]:
    return [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]


def require(extra: str, what: str) -> None:
    """Raise MissingExtra naming `what` and the extra to install, if any of its modules is absent."""
    lacking = missing(extra)
    if lacking:
        raise MissingExtra(f"{what} needs the [{extra}] extra ({', '.join(lacking)} not installed): "
                           f"pip install 'edgedigits[{extra}]' (in a clone: pip install '.[{extra}]')")


def needs(extra: str):
    """Decorate a click command that needs an optional extra: without it, one line naming the pip install, before
    any work."""
    def wrap(command):
        @functools.wraps(command)
        def checked(*args, **kwargs):
            import click

            require(extra, f"`{click.get_current_context().command_path}`")
            return command(*args, **kwargs)
        return checked
    return wrap
