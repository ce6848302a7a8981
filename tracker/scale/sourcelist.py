"""The sources a user names on the command line, and the output folder each one gets.

An argument is a source (a video file, an image folder / MOTChallenge sequence, a camera index
or a URL), a glob pattern (``videos/*.mp4``, expanded here, sorted, so quoting it works on any
shell), or a text file listing sources one per line (``.txt``; blank lines and lines starting
with ``#`` are skipped; relative paths are relative to the list file). Local paths are made
absolute, so that workers whose working folder differs (Ray workers, other machines with the
same shared filesystem) find them.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..io.sources import is_live_spec, source_name

LIST_SUFFIXES = frozenset({".txt"})  # a file with one of these suffixes lists sources; it is never a video
GLOB_CHARS = frozenset("*?[")
COMMENT = "#"


@dataclass(frozen=True)
class NamedSource:
    """One source of a batch and the folder its outputs go to."""

    spec: str  # what open_source is given: an absolute path, a camera index or a URL
    name: str  # its output folder's name, unique in the batch
    problem: str = ""  # why it cannot even be tried (a pattern that matches nothing); empty when fine


def read_source_list(path: Path) -> list[str]:
    """The sources listed in the text file ``path``; relative paths are made relative to its folder. A list
    that cannot be read or names no source is a ConfigError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the source list {path}: {exc}", "Give a UTF-8 text file, one source a line"
        ) from None
    items = [line.strip() for line in lines]
    listed = [_relative_to(item, path.parent) for item in items if item and not item.startswith(COMMENT)]
    if not listed:
        raise ConfigError(f"the source list {path} names no source", "Write one source a line")
    return listed


def _relative_to(item: str, folder: Path) -> str:
    if is_live_spec(item) or Path(item).is_absolute():
        return item
    return str(folder / item)


def expand_sources(items: list[str]) -> list[NamedSource]:
    """Every source named by ``items`` (sources, globs, list files), once each, in order, with unique names.

    A pattern that matches nothing stays as a source whose ``problem`` says so, so a batch
    reports it beside the others instead of stopping.
    """
    specs: list[tuple[str, str]] = []
    for item in items:
        path = Path(item)
        if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            specs += [(spec, "") for entry in read_source_list(path) for spec in _expand(entry)]
        else:
            specs += [(spec, "") for spec in _expand(item)] or [(item, f"no file matches {item}")]
    unique = list(dict(specs).items())  # a source named twice is tracked once
    if not unique:
        raise ConfigError("no source given", "Name video files, folders, globs or a .txt list of sources")
    names = unique_names([source_name(spec) for spec, _ in unique])
    return [NamedSource(spec, name, problem) for (spec, problem), name in zip(unique, names)]


def _expand(item: str) -> list[str]:
    """``item`` as one absolute path (or itself, for a camera or URL), or a glob's sorted matches."""
    if is_live_spec(item):
        return [item.strip()]
    if GLOB_CHARS.isdisjoint(item):
        return [os.path.abspath(item)]
    return [os.path.abspath(match) for match in sorted(glob.glob(item, recursive=True))]


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats numbered in order (``cam``, ``cam-2``, ...), so each output folder is one source's."""
    taken = set(names)
    counts: dict[str, int] = {}
    out = []
    for name in names:
        name = name or "source"
        counts[name] = counts.get(name, 0) + 1
        if counts[name] > 1:
            candidate, n = f"{name}-{counts[name]}", counts[name]
            while candidate in taken:
                n += 1
                candidate = f"{name}-{n}"
            taken.add(candidate)
            name = candidate
        out.append(name)
    return out
