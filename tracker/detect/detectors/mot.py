"""Precomputed detections from a MOTChallenge ``det.txt`` (``frame,id,left,top,width,height,score,...``).

Frames in the file are 1-based; the pipeline's frame index i reads the rows of frame
i + 1. Every box is class 0, ``person``.

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
from ...io.mot import BOX, DET_FILE, FRAME, SCORE, read_det
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
        self.class_names = list(CLASS_NAMES)
        self.path = find_det_file(cfg.det_file, source)
        rows = read_det(self.path)
        order = np.argsort(rows[:, FRAME], kind="stable")
        rows = rows[order]
        self.frames = rows[:, FRAME].astype(np.int64)
        self.boxes = rows[:, BOX].astype(np.float32)
        self.boxes[:, 2:] += self.boxes[:, :2]  # xywh -> xyxy
        self.scores = rows[:, SCORE].astype(np.float32)
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
            zeros = np.zeros(end - start, np.int32)
            results.append(self.filter.apply(self.boxes[rows], self.scores[rows], zeros, image.shape))
        return results
