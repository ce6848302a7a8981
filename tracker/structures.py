"""The plain data that flows between pipeline stages.

Detections and tracks are parallel numpy arrays in small validated dataclasses,
never per-object Python classes: every stage works on whole arrays at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    def _trusted(cls, **arrays) -> "Detections":
        """Within the package: wrap arrays built already in the declared dtypes, shapes and C order (every field
        but an absent ``embeddings``), without the validation, which costs more than the rest of a small frame's
        report; the public constructor validates."""
        out = cls.__new__(cls)
        out.embeddings = None
        out.__dict__.update(arrays)
        return out

    def _with(self, **changes) -> "Detections":
        """Within the package: ``dataclasses.replace`` for ``changes`` already valid (see :meth:`_trusted`)."""
        out = type(self).__new__(type(self))
        out.__dict__.update(self.__dict__, **changes)
        return out

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


def class_name(class_names: Sequence[str], class_id: int) -> str:
    """The name of ``class_id`` in ``class_names``, or the id as text when the list has no such entry."""
    return class_names[class_id] if 0 <= class_id < len(class_names) else str(class_id)


@dataclass
class FrameResult:
    """What the pipeline yields for each frame: tracks plus where and when they are."""

    frame_index: int  # 0-based position in the source
    time_s: float  # frame_index / fps, or the wall clock offset for live sources
    tracks: Tracks
    detections: Detections
    image: np.ndarray | None = None  # BGR frame, kept only when a consumer asked for it
    lost: Tracks | None = None  # tracks missing this frame but kept for max_age: their predicted boxes
    class_names: Sequence[str] = ()  # the detector's names: class_names[class_id]
    warp: np.ndarray | None = None  # (2,3) camera motion from the previous frame the tracker compensated; None: none

    @property
    def track_class_names(self) -> list[str]:
        """The class name of each track, in the order of ``tracks`` (an id without a name reads as the id)."""
        return [class_name(self.class_names, c) for c in self.tracks.class_ids.tolist()]


@dataclass
class TrackRecords:
    """Tracks of many frames: one row per track per frame, in file order.

    frame: (N,) int64, 0-based; time_s: (N,) float64 (NaN when the file has none, e.g. MOT
    without fps); track_id: (N,) int64; class_id: (N,) int64 (-1 unknown); class_name: (N,)
    str ("" unknown); score: (N,) float64; boxes: (N,4) float64 xyxy pixels (float64 holds the files'
    decimals exactly: float32 cannot, e.g. 1234.57).
    """

    frame: np.ndarray
    time_s: np.ndarray
    track_id: np.ndarray
    class_id: np.ndarray
    class_name: np.ndarray
    score: np.ndarray
    boxes: np.ndarray

    def __post_init__(self) -> None:
        self.frame = np.asarray(self.frame, np.int64).reshape(-1)
        self.time_s = np.asarray(self.time_s, np.float64).reshape(-1)
        self.track_id = np.asarray(self.track_id, np.int64).reshape(-1)
        self.class_id = np.asarray(self.class_id, np.int64).reshape(-1)
        self.class_name = np.asarray(self.class_name, str).reshape(-1)
        self.score = np.asarray(self.score, np.float64).reshape(-1)
        self.boxes = np.asarray(self.boxes, np.float64).reshape(-1, 4)
        n = len(self.frame)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"{f.name} has {len(getattr(self, f.name))} rows but frame has {n}")

    @classmethod
    def empty(cls) -> "TrackRecords":
        return cls(
            frame=np.zeros(0), time_s=np.zeros(0), track_id=np.zeros(0), class_id=np.zeros(0),
            class_name=np.zeros(0, str), score=np.zeros(0), boxes=np.zeros((0, 4)),
        )

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, index) -> "TrackRecords":
        return replace(self, **{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def sorted(self) -> "TrackRecords":
        """Rows ordered by frame, then track id."""
        return self[np.lexsort((self.track_id, self.frame))]

    @property
    def track_ids(self) -> np.ndarray:
        """The distinct track ids, ascending."""
        return np.unique(self.track_id)

    def frame_results(self, fps: float | None = None) -> Iterator[FrameResult]:
        """One :class:`FrameResult` per frame that has rows, in frame order (boxes count as matched).

        fps: gives ``time_s = frame / fps`` where the file has no times.
        """
        rows = self.sorted()
        if not len(rows):
            return
        starts = np.flatnonzero(np.r_[True, rows.frame[1:] != rows.frame[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        for a, b in zip(starts.tolist(), ends.tolist()):
            part = rows[a:b]
            t = float(part.time_s[0])
            if not np.isfinite(t) and fps:
                t = float(part.frame[0]) / fps
            tracks = Tracks(
                boxes=part.boxes, scores=part.score, class_ids=part.class_id.astype(np.int32),
                track_ids=part.track_id, det_index=np.arange(b - a),
            )
            yield FrameResult(frame_index=int(part.frame[0]), time_s=t, tracks=tracks, detections=Detections.empty())


def bottom_centers(boxes: np.ndarray) -> np.ndarray:
    """(N,2) float64 bottom-centre of xyxy boxes: where an object stands on the ground."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2.0, boxes[:, 3]], axis=1)
