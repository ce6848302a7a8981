"""Cached detections, as ``tracker detect`` writes them and the ``mot`` detector reads them back.

A cache is a folder with three files:

- ``det.txt``: MOTChallenge detections, one row per box, ``frame,-1,left,top,width,height,score,class_id,-1,-1``
  (1-based frame, pixels; the 8th column, MOTChallenge's unused world x, holds the class id);
- ``det.npy``: (N, D) float32 L2-normalised appearance embeddings, row i for the i-th row of det.txt
  (standard NumPy format: ``np.load``); absent when the detections were not embedded;
- ``det.json``: what the rows mean: ``class_names`` (``class_names[class_id]``), ``rows``, ``frames``,
  ``embedding_dim`` (null without det.npy), the ``source`` with its ``fps``, the ``detector`` and
  ``appearance`` config sections used, and ``complete`` (false while running or after an interrupted run).

All three are written frame by frame: det.txt grows by whole frames, det.npy's header is rewritten
after each frame's rows, so an interrupted run leaves a usable cache of the frames processed.
A det.txt without det.json (MOTChallenge's public detections) is all class 0, ``person``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, OutputError
from ..structures import Detections
from .files import open_for_writing, write_all, write_atomically
from .mot import format_detections

DET_NAME = "det.txt"
EMBEDDINGS_NAME = "det.npy"
INFO_NAME = "det.json"
FORMAT = "tracker-detections-1"  # det.json's "format": bump when the layout changes
NPY_MAGIC = b"\x93NUMPY\x01\x00"  # .npy version 1.0
NPY_HEADER_BYTES = 128  # fixed, so the header (with the row count) can be rewritten in place after each frame
NPY_DTYPE = "<f4"


class NpyRows:
    """A (rows, dim) float32 .npy file that grows by rows; readable by ``np.load`` after every ``append``."""

    def __init__(self, path: Path, dim: int):
        self.path = path
        self.dim = int(dim)
        self.rows = 0
        self._fd = open_for_writing(path)
        self._write_header()

    def _write_header(self) -> None:
        text = f"{{'descr': '{NPY_DTYPE}', 'fortran_order': False, 'shape': ({self.rows}, {self.dim}), }}"
        size = NPY_HEADER_BYTES - len(NPY_MAGIC) - 2
        header = NPY_MAGIC + size.to_bytes(2, "little") + (text.ljust(size - 1) + "\n").encode("latin1")
        self._pwrite(header, 0)

    def _pwrite(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.pwrite(self._fd, view, offset)
                view, offset = view[written:], offset + written
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror}", "Free disk space or choose another --out") from None

    def append(self, features: np.ndarray) -> None:
        """Add (K, dim) rows, then the header that counts them."""
        features = np.ascontiguousarray(features, np.float32).reshape(-1, self.dim)
        if not len(features):
            return
        self._pwrite(features.tobytes(), NPY_HEADER_BYTES + 4 * self.dim * self.rows)
        self.rows += len(features)
        self._write_header()

    def close(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


class CacheWriter:
    """Writes a cache folder frame by frame (see the module doc); ``info`` is det.json's descriptive part."""

    def __init__(self, out_dir: Path, class_names: Sequence[str], embedding_dim: int | None, info: dict):
        self.out = Path(out_dir)
        self.info = {"format": FORMAT, "class_names": list(class_names), "rows": 0, "frames": 0,
                     "embedding_dim": embedding_dim, **info, "complete": False}  # fmt: skip
        for stale in (EMBEDDINGS_NAME,) if embedding_dim is None else ():
            (self.out / stale).unlink(missing_ok=True)  # an earlier cache's embeddings would not match
        self._det = open_for_writing(self.out / DET_NAME)
        self._embeddings = None if embedding_dim is None else NpyRows(self.out / EMBEDDINGS_NAME, embedding_dim)
        self._save_info()

    @property
    def paths(self) -> list[Path]:
        names = (DET_NAME, INFO_NAME) + ((EMBEDDINGS_NAME,) if self._embeddings is not None else ())
        return [self.out / name for name in names]

    def _save_info(self) -> None:
        write_atomically(self.out / INFO_NAME, json.dumps(self.info, indent=2) + "\n")

    def write(self, frame_index: int, dets: Detections) -> None:
        """One frame's detections (with embeddings when the cache has them): embeddings first, then det.txt."""
        if self._embeddings is not None:
            self._embeddings.append(dets.embeddings)
        write_all(self._det, format_detections(frame_index, dets).encode(), self.out / DET_NAME, "Free disk space")
        self.info["rows"] += len(dets)
        self.info["frames"] += 1

    def close(self, complete: bool) -> None:
        """Sync the files and record the totals (``complete``: the whole source was read)."""
        os.fsync(self._det)
        os.close(self._det)
        if self._embeddings is not None:
            self._embeddings.close()
        self.info["complete"] = bool(complete)
        self._save_info()


@dataclass
class CacheInfo:
    """What det.json says about a det.txt, and its embeddings (memory-mapped, in file row order)."""

    class_names: list[str]
    embeddings: np.ndarray | None


def has_cache_info(det_file: Path) -> bool:
    """Whether ``det_file`` is a ``tracker detect`` cache (a det.json beside it), not plain MOTChallenge."""
    return det_file.with_name(INFO_NAME).is_file()


def read_cache_info(det_file: Path, rows: int) -> CacheInfo:
    """The det.json and (memory-mapped) det.npy beside ``det_file``; ``rows`` is the number of rows read
    from det_file. DataError when they do not belong together."""
    info_path = det_file.with_name(INFO_NAME)
    fix = "Run `tracker detect` again, or delete det.json to read det.txt as plain MOTChallenge detections"
    try:
        info = json.loads(info_path.read_text())
        class_names = [str(n) for n in info["class_names"]]
        if info.get("format") != FORMAT:
            raise ValueError(f"format {info.get('format')!r}, expected {FORMAT!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{info_path} cannot be read: {exc}", fix) from None
    embeddings = None
    npy = det_file.with_name(EMBEDDINGS_NAME)
    if npy.is_file():
        try:
            embeddings = np.load(npy, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DataError(f"{npy} cannot be read: {exc}", fix) from None
        if embeddings.ndim != 2 or len(embeddings) != rows:
            raise DataError(f"{npy} has {embeddings.shape[0]} embeddings but {det_file} has {rows} rows", fix)
    return CacheInfo(class_names=class_names, embeddings=embeddings)

