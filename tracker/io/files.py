"""Files of a run: its output folder, and writes and reads that survive a crash.

Text outputs are written through unbuffered descriptors (:func:`open_for_writing`); files
written once or rewritten are replaced in one rename (:func:`replace_atomically`), so they
are whole or absent; readers of files a killed writer may have cut in the middle of a line
skip that unfinished line (:func:`read_whole_lines`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..errors import DataError, OutputError

UNFINISHED_SHOWN = 40  # characters of a skipped unfinished last line quoted in the warning

log = logging.getLogger(__name__)
T = TypeVar("T")


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` created if needed and checked writable (a file written and removed); OutputError otherwise."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to output folder {out}: {exc.strerror}", "Choose another --out folder") from None
    return out


def open_for_writing(path: Path) -> int:
    """An unbuffered file descriptor for ``path`` (created, or truncated), creating its folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}", "Choose a writable output folder (--out)"
        ) from None


def write_all(fd: int, data: bytes, path: Path, fix: str) -> None:
    """Write all of ``data`` to the descriptor ``fd`` of ``path`` (os.write may take part of it); OutputError with
    ``fix`` when the OS refuses (a full disk)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", fix) from None


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` for a temporary file beside ``path``, sync it, and move it over ``path`` in one rename:
    readers see the old file or the new one, each whole. Any OSError is an :class:`OutputError` naming ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}", "Free disk space or choose another --out folder"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: Path, text: str) -> None:
    """``text`` written to ``path`` with :func:`replace_atomically`."""
    replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_text(path: str | os.PathLike, what: str) -> str:
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise DataError(
            f"{what} not found: {path}", "Pass the --out folder of a finished `tracker track` run"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_whole_lines(path: str | os.PathLike, what: str, parse: Callable[[str], T]) -> T:
    """``parse`` of the file's text; when that fails and the text ends in an unfinished line, ``parse`` of the text
    before it.

    The sinks hand a frame to the OS in one write, but Linux stops a write of several pages
    at a page boundary when the process is killed (SIGKILL, out of memory): the file then
    ends in the first part of a line. Everything before it is whole and is read, with a warning.
    A last line that still parses is kept: a line cut only in its last digits cannot be told apart.
    """
    text = read_text(path, what)
    try:
        return parse(text)
    except DataError:
        cut = text.rfind("\n") + 1
        if not text[cut:].strip():
            raise
        result = parse(text[:cut])  # damaged before its last line too: that error is raised
        log.warning("%s: skipped its unfinished last line %r (the writer was stopped in the middle of it)",
                    path, text[cut:][:UNFINISHED_SHOWN])
        return result
