"""Precomputed detections from a MOTChallenge ``det.txt`` (``frame,id,left,top,width,height,score,...``).

Frames in the file are 1-based; the pipeline's frame index i reads the rows of frame
i + 1. Every box is class 0, ``person``, unless the file is a ``tracker detect`` cache
(a ``det.json`` beside it, :mod:`tracker.io.det_cache`): its class ids and names are used
then, and its appearance embeddings (``det.npy``) are attached to the detections, so the
pipeline needs no embedder.

Scores are compared with ``detector.conf_threshold`` as they are. The public MOT17
detections (DPM, FRCNN, SDP) have scores in 0..1, but other files differ: MOT15's ACF
detections, for example, have unbounded scores, some of them negative; those need a
threshold of 0 (which still drops the negative ones) or a rescaled file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...config import DetectorConfig
from ...errors import ConfigError, DataError
from ...io.det_cache import has_cache_info, read_cache_info
from ...io.mot import BOX, CLASS, DET_FILE, FRAME, MIN_COLUMNS, SCORE, read_det
from ...structures import Detections
from .common import OutputFilter

CLASS_NAMES = ["person"]


def find_det_file(det_file: str | None, source: str | None) -> Path:
    """``det_file`` when given, else <source>/det/det.txt for a MOT sequence folder."""
    if det_file is not None:
        path = Path(det_file).expanduser()
        if not path.is_file():
            raise DataError(f"det file not found: {path}", "Set detector.det_file to an existing MOTChallenge det.txt")
        return path
    if source is not None and (Path(source) / DET_FILE).is_file():
        return Path(source) / DET_FILE
    raise ConfigError(
        f"detector 'mot' found no det/det.txt in source {source!r}",
        "Give a MOT sequence folder as the source or set detector.det_file=PATH",
    )


class MotDetections:
    """Serves the rows of a det.txt as the detections of each frame."""

    def __init__(self, cfg: DetectorConfig, source: str | None = None):
        self.path = find_det_file(cfg.det_file, source)
        cached = has_cache_info(self.path)
        rows = read_det(self.path, CLASS + 1 if cached else MIN_COLUMNS)
        cache = read_cache_info(self.path, len(rows)) if cached else None
        self.class_names = cache.class_names if cache else list(CLASS_NAMES)
        self.order = np.argsort(rows[:, FRAME], kind="stable")  # file rows in frame order
        rows = rows[self.order]
        self.frames = rows[:, FRAME].astype(np.int64)
        self.boxes = rows[:, BOX].astype(np.float32)
        self.boxes[:, 2:] += self.boxes[:, :2]  # xywh -> xyxy
        self.scores = rows[:, SCORE].astype(np.float32)
        self.class_ids = rows[:, CLASS].astype(np.int32) if cached else np.zeros(len(rows), np.int32)
        self.embeddings = cache.embeddings if cache else None  # (N, D) in file order, memory-mapped
        self.gives_embeddings = self.embeddings is not None  # the caller may set it False to leave them out
        self.filter = OutputFilter.from_config(cfg, self.class_names)

    def __len__(self) -> int:
        """Number of rows in the file."""
        return len(self.frames)

    def detect(self, images: list[np.ndarray], frame_indices: list[int]) -> list[Detections]:
        mot_frames = np.asarray(frame_indices, np.int64) + 1
        starts = np.searchsorted(self.frames, mot_frames, side="left")
        ends = np.searchsorted(self.frames, mot_frames, side="right")
        results = []
        for image, start, end in zip(images, starts, ends):
            rows = slice(start, end)
            embeddings = self.embeddings[self.order[rows]] if self.gives_embeddings else None
            results.append(
                self.filter.apply(self.boxes[rows], self.scores[rows], self.class_ids[rows], image.shape, embeddings)
            )
        return results
