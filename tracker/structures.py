"""The plain data that flows between pipeline stages.

Detections and tracks are parallel numpy arrays in small validated dataclasses,
never per-object Python classes: every stage works on whole arrays at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np


def _as(array, dtype, shape_tail: tuple[int, ...], name: str) -> np.ndarray:
    out = np.ascontiguousarray(array, dtype=dtype)
    if out.ndim != 1 + len(shape_tail) or out.shape[1:] != shape_tail:
        want = "(N" + "".join(f",{d}" for d in shape_tail) + ")"
        raise ValueError(f"{name} must have shape {want}, got {out.shape}")
    return out


@dataclass(kw_only=True)
class Detections:
    """Detections of one frame.

    boxes: (N,4) float32 xyxy pixels; scores: (N,) float32; class_ids: (N,) int32;
    embeddings: optional (N,D) float32 appearance vectors (L2-normalised).
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    embeddings: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = _as(self.boxes, np.float32, (4,), "boxes") if len(self.boxes) else np.zeros((0, 4), np.float32)
        n = len(self.boxes)
        self.scores = _as(self.scores, np.float32, (), "scores")
        self.class_ids = _as(self.class_ids, np.int32, (), "class_ids")
        if self.embeddings is not None:
            self.embeddings = np.ascontiguousarray(self.embeddings, dtype=np.float32)
            if self.embeddings.ndim != 2:
                raise ValueError(f"embeddings must have shape (N,D), got {self.embeddings.shape}")
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and len(value) != n:
                raise ValueError(f"{f.name} has {len(value)} rows but boxes has {n}")

    @classmethod
    def empty(cls, embedding_dim: int | None = None, **extra) -> "Detections":
        emb = None if embedding_dim is None else np.zeros((0, embedding_dim), np.float32)
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros(0, np.float32),
            class_ids=np.zeros(0, np.int32),
            embeddings=emb,
            **extra,
        )

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> "Detections":
        """Select rows by boolean mask, integer array or slice; returns the same type."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                changes[f.name] = value[index]
        return replace(self, **changes)

    @property
    def xywh(self) -> np.ndarray:
        """Boxes as (left, top, width, height)."""
        out = self.boxes.copy()
        out[:, 2:] -= out[:, :2]
        return out

    @property
    def areas(self) -> np.ndarray:
        wh = self.boxes[:, 2:] - self.boxes[:, :2]
        return wh[:, 0] * wh[:, 1]

    def valid_mask(self) -> np.ndarray:
        """Rows whose box and score are finite and whose box has positive width and height."""
        finite = np.isfinite(self.boxes).all(axis=1) & np.isfinite(self.scores)
        with np.errstate(invalid="ignore"):
            positive = (self.boxes[:, 2] > self.boxes[:, 0]) & (self.boxes[:, 3] > self.boxes[:, 1])
        return finite & positive


@dataclass(kw_only=True)
class Tracks(Detections):
    """Tracks reported for one frame.

    Adds track_ids (N,) int64, unique and never reused within a tracker instance, and
    det_index (N,) int64: the row of the frame's Detections this track matched, -1 when
    the box is only a motion prediction.
    """

    track_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    det_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        self.track_ids = _as(self.track_ids, np.int64, (), "track_ids")
        self.det_index = _as(self.det_index, np.int64, (), "det_index")
        super().__post_init__()


@dataclass
class FrameResult:
    """What the pipeline yields for each frame: tracks plus where and when they are."""

    frame_index: int  # 0-based position in the source
    time_s: float  # frame_index / fps, or the wall clock offset for live sources
    tracks: Tracks
    detections: Detections
    image: np.ndarray | None = None  # BGR frame, kept only when a consumer asked for it
