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
from ...structures import Detections
from .common import OutputFilter

CLASS_NAMES = ["person"]
MIN_COLUMNS = 7  # frame, id, left, top, width, height, score; later columns are ignored
COMMENT = "#"


def find_det_file(det_file: str | None, source: str | None) -> Path:
    """``det_file`` when given, else <source>/det/det.txt for a MOT sequence folder."""
    if det_file is not None:
        path = Path(det_file).expanduser()
        if not path.is_file():
            raise DataError(f"det file not found: {path}", "Set detector.det_file to an existing MOTChallenge det.txt")
        return path
    if source is not None and (Path(source) / "det" / "det.txt").is_file():
        return Path(source) / "det" / "det.txt"
    raise ConfigError(
        f"detector 'mot' found no det/det.txt in source {source!r}",
        "Give a MOT sequence folder as the source or set detector.det_file=PATH",
    )


def _first_bad_line(lines: list[str], line_numbers: np.ndarray, path: Path) -> DataError:
    """The DataError for the first unparsable row (only called once parsing has failed)."""
    for text, number in zip(lines, line_numbers):
        fields = text.split(",")
        if len(fields) < MIN_COLUMNS:
            return DataError(
                f"{path} line {number}: expected at least {MIN_COLUMNS} comma-separated values, got {len(fields)}",
                "Fix or delete the row (MOTChallenge format: frame,id,left,top,width,height,score)",
            )
        for column, value in enumerate(fields[:MIN_COLUMNS], start=1):
            try:
                float(value)
            except ValueError:
                return DataError(
                    f"{path} line {number}, column {column}: {value.strip()!r} is not a number",
                    "Fix or delete the row (MOTChallenge format: frame,id,left,top,width,height,score)",
                )
    return DataError(f"{path}: cannot be parsed as a MOTChallenge det.txt", "Check the file's format")


def load_det_file(path: Path) -> np.ndarray:
    """(N, 7) float64 array of the file's rows; DataError naming the line of the first malformed row."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read det file {path}: {exc}", "Check that it is a readable text file") from None
    all_lines = text.splitlines()
    line_numbers = np.array(
        [i for i, line in enumerate(all_lines, start=1) if line.strip() and not line.lstrip().startswith(COMMENT)],
        dtype=np.int64,
    )
    lines = [all_lines[i - 1] for i in line_numbers]
    if not lines:
        return np.zeros((0, MIN_COLUMNS))
    try:
        rows = np.loadtxt(lines, delimiter=",", usecols=range(MIN_COLUMNS), ndmin=2, dtype=np.float64)
    except ValueError:
        raise _first_bad_line(lines, line_numbers, path) from None
    bad = ~np.isfinite(rows).all(axis=1) | (rows[:, 0] < 1) | (rows[:, 0] != np.round(rows[:, 0]))
    if bad.any():
        number = line_numbers[np.argmax(bad)]
        raise DataError(
            f"{path} line {number}: frame must be an integer >= 1 and every value finite",
            "Fix or delete the row (MOTChallenge format: frame,id,left,top,width,height,score)",
        )
    return rows


class MotDetections:
    """Serves the rows of a det.txt as the detections of each frame."""

    def __init__(self, cfg: DetectorConfig, source: str | None = None):
        self.class_names = list(CLASS_NAMES)
        self.path = find_det_file(cfg.det_file, source)
        rows = load_det_file(self.path)
        order = np.argsort(rows[:, 0], kind="stable")
        rows = rows[order]
        self.frames = rows[:, 0].astype(np.int64)
        self.boxes = rows[:, 2:6].astype(np.float32)
        self.boxes[:, 2:] += self.boxes[:, :2]  # xywh -> xyxy
        self.scores = rows[:, 6].astype(np.float32)
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
