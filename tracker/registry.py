"""A registry: the names of one kind of component and what each name stands for.

:mod:`tracker.config` holds one per kind (``TRACKERS``, ``DETECTORS``, ``EMBEDDERS``); the
config validates names against it, the command line offers them as choices and the
builders look them up, so each name is written once. An entry given as
``"module:attribute"`` is imported when it is first loaded: the heavy optional
dependencies of one model (torch, ultralytics) are only imported when that model is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any, Literal

from .errors import ConfigError


class Registry:
    """Names of one ``kind`` of component (e.g. "detector"), in the order given, with their entries."""

    def __init__(self, kind: str, entries: dict[str, Any]):
        self.kind = kind
        self._entries = dict(entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    @property
    def literal(self) -> Any:
        """The type of a config field that holds one of the names."""
        return Literal[self.names]

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> Any:
        """The entry of ``name`` as registered; ConfigError naming the choices for an unknown name."""
        if name not in self._entries:
            raise ConfigError(f"unknown {self.kind} {name!r}", f"Choose one of: {', '.join(self.names)}")
        return self._entries[name]

    def load(self, name: str) -> Any:
        """The entry of ``name``, a ``"module:attribute"`` entry imported."""
        entry = self[name]
        if not isinstance(entry, str):
            return entry
        module, _, attribute = entry.partition(":")
        return getattr(import_module(module), attribute)
