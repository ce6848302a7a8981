"""``--save-crops``: JPEG crops of the tracked objects, one folder per track id, bounded on disk.

``crops/<track_id>/<frame>.jpg`` (frame 0-based, 6 digits) holds the source pixels of the track's
box in that frame (not annotated, not blurred). Only boxes matched to a detection in the frame
are cropped (a motion prediction is not the object's picture). The amount is bounded three ways
(``output.crops_*``): at most ``crops_per_track`` crops per track, at least ``crops_interval_s``
apart, and at most ``crops_max_files`` in all, after which cropping stops with one warning.
Classes in ``output.blur_classes`` are never cropped: their pixels are private.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..analyze.track_state import TrackState
from ..errors import OutputError
from ..structures import FrameResult

log = logging.getLogger(__name__)

CROPS_DIR = "crops"
CROP_GLOB = "[0-9]*/[0-9]*.jpg"  # crops/<track_id>/<frame>.jpg: what a run writes under CROPS_DIR
JPEG_QUALITY = 95  # crops are meant for looking at and ReID training: little compression loss


class CropsSink:
    """Writes bounded crops of each frame's matched tracks into ``path`` (a ``crops/`` folder)."""

    def __init__(self, path: str | os.PathLike, per_track: int, interval_s: float, max_files: int,
                 class_names: Sequence[str], skip_classes: Sequence[str] = ()):  # fmt: skip
        self.path = Path(path)
        self.per_track = int(per_track)
        self.interval_s = float(interval_s)
        self.max_files = int(max_files)
        self.skip_ids = np.array([i for i, n in enumerate(class_names) if n in set(skip_classes)], np.int64)
        self.files = 0
        self.closed = False
        self._state = TrackState(saved=((), np.int64, 0), last_time=((), np.float64, -np.inf))
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {self.path}: {exc.strerror}", "Choose another --out folder") from None

    def due(self, result: FrameResult) -> np.ndarray:
        """Rows of ``result.tracks`` to crop in this frame (and counts them as saved)."""
        tracks = result.tracks
        rows, _ = self._state.rows(tracks.track_ids)
        saved, last = self._state.column("saved"), self._state.column("last_time")
        due = (tracks.det_index >= 0) & ~np.isin(tracks.class_ids, self.skip_ids) & (saved[rows] < self.per_track)
        due &= result.time_s - last[rows] >= self.interval_s
        picked = np.flatnonzero(due)[: max(self.max_files - self.files, 0)]
        if len(picked) < due.sum():
            log.warning("--save-crops: reached output.crops_max_files = %d; no more crops are saved", self.max_files)
        saved[rows[picked]] += 1
        last[rows[picked]] = result.time_s
        return picked

    def write(self, result: FrameResult) -> None:
        if self.closed:
            raise ValueError(f"write to closed sink {self.path}")
        if self.files >= self.max_files:
            return
        if result.image is None:
            raise ValueError("crops need FrameResult.image: track with keep_images=True")
        picked = self.due(result)
        if not len(picked):
            return
        height, width = result.image.shape[:2]
        boxes = np.round(result.tracks.boxes[picked]).astype(np.int64)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
        for track_id, (x1, y1, x2, y2) in zip(result.tracks.track_ids[picked].tolist(), boxes.tolist()):
            if x2 <= x1 or y2 <= y1:
                continue
            folder = self.path / str(track_id)
            target = folder / f"{int(result.frame_index):06d}.jpg"
            try:
                folder.mkdir(exist_ok=True)
                ok = cv2.imwrite(str(target), result.image[y1:y2, x1:x2], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            except (OSError, cv2.error) as exc:
                raise OutputError(f"cannot write {target}: {exc}", "Free disk space or choose another --out folder")
            if not ok:
                raise OutputError(f"cannot write {target}", "Free disk space or choose another --out folder")
            self.files += 1

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
