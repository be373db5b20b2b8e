"""One way to register a thing, everywhere in edgedigits (models, pipeline stages, tasks, sweep kinds): a
`Registry` of one kind, filled where each thing is defined by the `register` decorator, read by name.

A registry knows where its things are defined (a package, every module of which is one of them, or a list of
modules) and imports them on first use, so adding a thing is adding one module, and listing what exists never
needs the caller to import anything first. This leaf module imports nothing of edgedigits but its error type.
Things are listed by their `order` attribute when they have one, else in the order they were registered.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Iterator

from edgedigits.errors import InputError


class Registry:
    def __init__(self, kind: str, modules: tuple[str, ...] = (), package: str | None = None):
        self.kind = kind  # what the things are called in messages: "model", "stage", ...
        self.modules = modules  # where they are registered, imported on first use
        self.package = package  # ...or a package, every module of which is imported on first use
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

    def remove(self, name: str) -> None:
        self._things.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        modules = list(self.modules)
        if self.package:
            path = importlib.import_module(self.package).__path__
            modules += [f"{self.package}.{info.name}" for info in pkgutil.iter_modules(path)]
        for module in modules:
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
        known = list(self._things)
        return sorted(known, key=lambda n: (getattr(self._things[n], "order", 0), known.index(n)))

    def items(self) -> Iterator[tuple[str, object]]:
        return iter([(name, self._things[name]) for name in self.names()])
