"""One way to register a thing, everywhere in edgedigits (models, pipeline stages, sweep kinds, bench targets):
a `Registry` of one kind, filled where each thing is defined by the `register` decorator, read by name.

A registry knows the modules its things are defined in and imports them on first use, so listing what exists
never needs the caller to import them first, and a registry (this leaf module) imports nothing of edgedigits but
its error type. The order of registration is kept: it is the order a pipeline runs its stages in.
"""

from __future__ import annotations

import importlib
from typing import Callable, Iterator

from edgedigits.errors import InputError


class Registry:
    def __init__(self, kind: str, modules: tuple[str, ...] = ()):
        self.kind = kind  # what the things are called in messages: "model", "stage", ...
        self.modules = modules  # where they are registered, imported on first use
        self._things: dict[str, object] = {}
        self._loaded = False

    def register(self, name: str) -> Callable:
        """Decorator: `@REGISTRY.register("name")` above a function or class adds it under `name`."""
        def add(thing):
            if name in self._things and self._things[name] is not thing:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._things[name] = thing
            return thing
        return add

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.modules:
                importlib.import_module(module)

    def get(self, name: str):
        """The thing registered as `name`; an unknown name is one InputError listing the known ones."""
        self._load()
        if not isinstance(name, str) or name not in self._things:
            raise InputError(f"unknown {self.kind} {name!r} (known: {', '.join(self.names())})")
        return self._things[name]

    def __contains__(self, name) -> bool:
        self._load()
        return name in self._things

    def names(self) -> list[str]:
        self._load()
        return list(self._things)

    def items(self) -> Iterator[tuple[str, object]]:
        self._load()
        return iter(list(self._things.items()))
