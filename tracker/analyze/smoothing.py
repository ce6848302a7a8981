"""Post-processing of a finished run's tracks (on by default; ``--no-smooth``).

Works on the per-frame track results of a whole run as one ``(N, 8)`` float64 array of
rows ``frame, id, class, score, x1, y1, x2, y2`` (``frame`` is the 0-based frame index).
Two steps, each usable alone:

1. :func:`interpolate_gaps` fills every gap of up to ``max_gap`` missing frames inside a
   track, and no longer than ``max_ratio`` times the frames the track was seen in, by
   linear interpolation of its box and score (vectorised over all tracks).
2. :func:`rts_smooth` runs a constant-velocity Kalman filter forward over one track's
   centre x, y, width and height and then filterpy's Rauch-Tung-Striebel smoother
   backward, so every box is estimated from the whole trajectory, past and future.

When the camera moves, a walk that is straight on the ground is not straight in the image:
with the camera motion the tracker estimated (``camera_motion.csv``, :class:`CameraPath`),
both steps work in the coordinates of the first frame (:meth:`CameraPath.to_first`) and the
result is moved back into each frame's own (:meth:`CameraPath.from_first`).

:func:`smooth_tracks` does both; :func:`smooth_run` rewrites ``tracks.csv`` /
``tracks.txt`` of a run folder, keeping the originals as ``tracks.raw.csv`` /
``tracks.raw.txt``; :func:`smooth_finished_run` is the step ``tracker track`` runs after
:func:`tracker.pipeline.run`, which smooths when ``smoothing.enabled`` is true (the
default; ``--no-smooth`` turns it off). It reads the tracks back from the files: what it
smooths is exactly what the run wrote (boxes to 0.01 px), however the run ended.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np

from ..config import Config, SmoothingConfig
from ..errors import DataError, OutputError
from ..io.files import replace_atomically
from ..io.mot import read_results
from ..io.readers import read_camera_motion
from ..io.readers import read_csv as read_records
from ..io.sinks import CAMERA_NAME, CSV_NAME, MOT_NAME, CsvSink, MotSink, write_frames
from ..structures import Tracks

log = logging.getLogger(__name__)

# Columns of a rows array.
FRAME, TRACK_ID, CLASS, SCORE, X1, Y1, X2, Y2 = range(8)
ROW_WIDTH = 8
BOX = slice(X1, Y2 + 1)

MIN_TRACK_LENGTH = 2  # tracks with fewer rows have no trajectory to smooth and pass through unchanged
MIN_SIZE_PX = 1.0  # smoothed widths and heights never fall below one pixel
# Prior on a track's first velocity, in box heights per second: wide enough to be uninformative,
# so the smoother's velocity comes from the measurements alone.
INIT_STD_VELOCITY = 10.0

RAW_SUFFIX = ".raw"  # tracks.csv -> tracks.raw.csv
# A camera path whose accumulated scale leaves [1 / this, this] (an estimate drifting for hours) is not
# trusted: smoothing then works in image coordinates.
MAX_PATH_SCALE = 1e3


# ----- conversions ---------------------------------------------------------------------------
def rows_from_tracks(frames: list[Tracks], frame_indices: list[int] | np.ndarray | None = None) -> np.ndarray:
    """Stack per-frame :class:`Tracks` into a rows array; ``frames[i]`` is frame ``frame_indices[i]`` (default i)."""
    indices = np.arange(len(frames)) if frame_indices is None else np.asarray(frame_indices)
    if len(indices) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(indices)} frame indices")
    counts = np.array([len(t) for t in frames], np.int64)
    if counts.sum() == 0:
        return np.zeros((0, ROW_WIDTH))
    present = [t for t in frames if len(t)]
    return np.column_stack(
        [
            np.repeat(indices, counts).astype(np.float64),
            np.concatenate([t.track_ids for t in present]),
            np.concatenate([t.class_ids for t in present]),
            np.concatenate([t.scores for t in present]),
            np.concatenate([t.boxes for t in present]),
        ]
    ).astype(np.float64)


def tracks_by_frame(rows: np.ndarray) -> list[tuple[int, Tracks]]:
    """Split a rows array into ``(frame_index, Tracks)`` pairs, frames ascending, ids ascending within a frame."""
    rows = rows[np.lexsort((rows[:, TRACK_ID], rows[:, FRAME]))]
    frames, starts = np.unique(rows[:, FRAME], return_index=True)
    out = []
    for frame, part in zip(frames.astype(np.int64).tolist(), np.split(rows, starts[1:])):
        out.append(
            (
                frame,
                Tracks(
                    boxes=part[:, BOX],
                    scores=part[:, SCORE],
                    class_ids=part[:, CLASS].astype(np.int32),
                    track_ids=part[:, TRACK_ID].astype(np.int64),
                    det_index=np.full(len(part), -1, np.int64),
                ),
            )
        )
    return out


def _sorted_by_track(rows: np.ndarray) -> np.ndarray:
    """Rows ordered by track id then frame; a track reported twice in one frame is a DataError."""
    rows = np.asarray(rows, np.float64)
    if rows.ndim != 2 or rows.shape[1] != ROW_WIDTH:
        raise ValueError(f"rows must have shape (N,{ROW_WIDTH}), got {rows.shape}")
    rows = rows[np.lexsort((rows[:, FRAME], rows[:, TRACK_ID]))]
    twice = (np.diff(rows[:, TRACK_ID]) == 0) & (np.diff(rows[:, FRAME]) == 0)
    if twice.any():
        i = int(np.argmax(twice))
        raise DataError(
            f"track {int(rows[i, TRACK_ID])} appears twice in frame {int(rows[i, FRAME])}",
            "Each track id may have one box per frame; fix the tracks file",
        )
    return rows


# ----- camera motion -------------------------------------------------------------------------
class CameraPath:
    """Where the camera looked in each frame: the map (3x3) that takes the coordinates of the first frame to
    those of a frame is the product of the per-frame warps (previous frame onto this one) the tracker
    compensated up to it."""

    def __init__(self, frames: np.ndarray, warps: np.ndarray):
        """frames: (F,) ascending; warps: (F,2,3), ``warps[i]`` maps the frame before ``frames[i]`` onto it. A frame
        not listed had no camera motion (camera_motion.csv leaves those out)."""
        frames = np.asarray(frames, np.int64)
        warps = np.asarray(warps, np.float64).reshape(-1, 2, 3)
        if len(frames) != len(warps):
            raise ValueError(f"a camera path needs one warp per frame, got {len(frames)} frames, {len(warps)} warps")
        maps = np.empty((len(frames) + 1, 3, 3))
        maps[0] = current = np.eye(3)  # before the first listed frame the camera had not moved
        for i, warp in enumerate(warps, 1):  # a running product: one 3x3 matrix product per listed frame
            current = np.vstack([warp, (0.0, 0.0, 1.0)]) @ current
            maps[i] = current
        self.frames = np.concatenate([[np.iinfo(np.int64).min], frames])
        self.maps = maps

    @classmethod
    def read(cls, path: str | os.PathLike) -> CameraPath:
        """The camera path of a run's camera_motion.csv."""
        return cls(*read_camera_motion(path))

    @property
    def usable(self) -> bool:
        """Whether every accumulated map is finite and of a sane scale (see :data:`MAX_PATH_SCALE`)."""
        scale = _scale(self.maps)
        return bool(np.isfinite(self.maps).all() and np.all((scale < MAX_PATH_SCALE) & (scale > 1 / MAX_PATH_SCALE)))

    def _maps_at(self, frames: np.ndarray) -> np.ndarray:
        return self.maps[np.searchsorted(self.frames, np.asarray(frames, np.int64), "right") - 1]

    def to_first(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` with every box moved into the first frame's coordinates."""
        return _map_boxes(rows, np.linalg.inv(self._maps_at(rows[:, FRAME])))

    def from_first(self, rows: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_first`: boxes in the first frame's coordinates back into their own frame's."""
        return _map_boxes(rows, self._maps_at(rows[:, FRAME]))


def _scale(maps: np.ndarray) -> np.ndarray:
    """The isotropic scale of each affine map (sqrt of its linear part's |determinant|)."""
    return np.sqrt(np.abs(np.linalg.det(maps[:, :2, :2])))


def _map_boxes(rows: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """``rows`` with each box's centre moved by its map (N,3,3) and its width and height scaled by the map's
    scale: the camera's motion is a similarity (what the tracker estimates), so a box stays a box."""
    out = rows.copy()
    if not len(rows):
        return out
    centre = np.column_stack([(rows[:, X1] + rows[:, X2]) / 2, (rows[:, Y1] + rows[:, Y2]) / 2, np.ones(len(rows))])
    moved = np.einsum("nij,nj->ni", maps[:, :2, :], centre)
    half = (rows[:, [X2, Y2]] - rows[:, [X1, Y1]]) * (_scale(maps) / 2)[:, None]
    out[:, [X1, Y1]] = moved - half
    out[:, [X2, Y2]] = moved + half
    return out


# ----- step 1: gap filling -------------------------------------------------------------------
def interpolate_gaps(rows: np.ndarray, max_gap: int, max_ratio: float = np.inf) -> np.ndarray:
    """Fill each track's gaps of 1..``max_gap`` missing frames by linear interpolation.

    Box corners and score are interpolated between the rows on either side of the gap;
    the class is the earlier row's. Longer gaps are left open, and so are gaps of more
    than ``max_ratio`` times the frames the track was seen in: a track seen 5 times is not
    bridged over 20 frames (sporadic false detections that a tracker strings together
    would otherwise become a box in every frame between them). Returns rows ordered by
    track id, then frame.
    """
    rows = _sorted_by_track(rows)
    if max_gap < 1 or len(rows) < 2:
        return rows
    step = np.diff(rows[:, FRAME])
    _, track_index, seen = np.unique(rows[:, TRACK_ID], return_inverse=True, return_counts=True)
    supported = step - 1 <= max_ratio * seen[track_index[:-1]]
    gap = (np.diff(rows[:, TRACK_ID]) == 0) & (step > 1) & (step <= max_gap + 1) & supported
    before = np.flatnonzero(gap)  # the row before each gap; the row after it is before + 1
    missing = (step[gap] - 1).astype(np.int64)
    if len(before) == 0:
        return rows
    left = np.repeat(before, missing)
    # 1..missing within each gap
    offset = np.arange(missing.sum()) - np.repeat(np.cumsum(missing) - missing, missing) + 1
    fraction = offset / np.repeat(step[gap], missing)
    filled = rows[left].copy()
    filled[:, FRAME] += offset
    cols = [SCORE, X1, Y1, X2, Y2]
    filled[:, cols] += fraction[:, None] * (rows[left + 1][:, cols] - rows[left][:, cols])
    out = np.concatenate([rows, filled])
    return out[np.lexsort((out[:, FRAME], out[:, TRACK_ID]))]


# ----- step 2: RTS smoothing ------------------------------------------------------------------
def _to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    return np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2,
                            boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])


def _to_xyxy(cxcywh: np.ndarray) -> np.ndarray:
    half = np.maximum(cxcywh[:, 2:], MIN_SIZE_PX) / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)


def rts_smooth(frames: np.ndarray, boxes: np.ndarray, cfg: SmoothingConfig, fps: float) -> np.ndarray:
    """Smoothed xyxy boxes of one track observed at ``frames`` (ascending, gaps allowed).

    State: centre x, y, width, height and their velocities (pixels per second). Noise
    scales with the track's median box height; a gap of k frames is one prediction over
    k / fps seconds. Fewer than :data:`MIN_TRACK_LENGTH` boxes come back unchanged.
    """
    from filterpy.kalman import KalmanFilter

    boxes = np.asarray(boxes, np.float64)
    n = len(boxes)
    if n < MIN_TRACK_LENGTH:
        return boxes.copy()
    z = _to_cxcywh(boxes)
    scale = max(float(np.median(z[:, 3])), MIN_SIZE_PX)
    dt = np.diff(np.asarray(frames, np.float64), prepend=frames[0]) / fps  # seconds; 0 before the first row

    eye = np.eye(4)
    Fs = np.tile(np.eye(8), (n, 1, 1))
    Fs[:, :4, 4:] = dt[:, None, None] * eye
    q = np.concatenate([np.full(4, (cfg.std_position * scale) ** 2), np.full(4, (cfg.std_velocity * scale) ** 2)])
    Qs = dt[:, None, None] * (q[None, :, None] * np.eye(8))

    kf = KalmanFilter(dim_x=8, dim_z=4)
    kf.H = np.hstack([eye, np.zeros((4, 4))])
    kf.R = (cfg.std_measurement * scale) ** 2 * eye
    kf.x = np.concatenate([z[0], np.zeros(4)])
    kf.P = np.diag(np.concatenate([np.full(4, (cfg.std_measurement * scale) ** 2),
                                   np.full(4, (INIT_STD_VELOCITY * scale) ** 2)]))
    means, covs, _, _ = kf.batch_filter(z, Fs=Fs, Qs=Qs)
    smoothed, _, _, _ = kf.rts_smoother(means, covs, Fs=Fs, Qs=Qs)
    return _to_xyxy(smoothed[:, :4])


def gap_frames(cfg: SmoothingConfig, fps: float) -> int:
    """``cfg.max_gap_s`` in frames at ``fps``."""
    return int(round(cfg.max_gap_s * fps))


def smooth_tracks(rows: np.ndarray, cfg: SmoothingConfig, fps: float, camera: CameraPath | None = None,
                  stride: int = 1) -> np.ndarray:  # fmt: skip
    """Fill gaps up to ``cfg.max_gap_s`` seconds, then RTS-smooth every track; rows ordered by frame, then id.

    Filled rows enter the smoother as measurements; longer gaps stay open and the smoother
    predicts across them. With ``camera`` (and ``cfg.compensate_camera``), both steps work in
    the first frame's coordinates. ``stride``: the run tracked every stride-th frame
    (``source.vid_stride``), so only those frames are filled.
    """
    if not fps or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    rows = _sorted_by_track(rows)
    if camera is not None and not (cfg.compensate_camera and camera.usable):
        if cfg.compensate_camera:
            log.warning("the camera motion of this run drifts too far to follow; smoothing in image coordinates")
        camera = None
    if camera is not None:
        rows = camera.to_first(rows)
    step = stride if stride > 1 and np.all(rows[:, FRAME] % stride == 0) else 1
    rows[:, FRAME] /= step  # frames counted in tracked frames
    out = interpolate_gaps(rows, gap_frames(cfg, fps / step), cfg.max_gap_ratio)
    ids, starts, counts = np.unique(out[:, TRACK_ID], return_index=True, return_counts=True)
    for start, count in zip(starts.tolist(), counts.tolist()):
        if count >= MIN_TRACK_LENGTH:
            part = slice(start, start + count)
            out[part, BOX] = rts_smooth(out[part, FRAME], out[part, BOX], cfg, fps / step)
    out[:, FRAME] *= step
    if camera is not None:
        out = camera.from_first(out)
    return out[np.lexsort((out[:, TRACK_ID], out[:, FRAME]))]


def smooth_frames(frames: list[Tracks], frame_indices, cfg: SmoothingConfig, fps: float,
                  camera: CameraPath | None = None) -> tuple[list[Tracks], list[int]]:  # fmt: skip
    """:func:`smooth_tracks` of tracks held in memory: ``frames[i]`` holds frame ``frame_indices[i]``'s. Returns the
    smoothed tracks of every frame that has any, and those frames."""
    pairs = tracks_by_frame(smooth_tracks(rows_from_tracks(frames, frame_indices), cfg, fps, camera))
    return [tracks for _, tracks in pairs], [frame for frame, _ in pairs]


# ----- run folders ----------------------------------------------------------------------------
def raw_path(path: Path) -> Path:
    """Where the unsmoothed original of ``path`` is kept: tracks.csv -> tracks.raw.csv."""
    return path.with_name(path.stem + RAW_SUFFIX + path.suffix)


def _rows(records) -> np.ndarray:
    """A :class:`~tracker.io.readers.TrackRecords` as a rows array."""
    return np.column_stack(
        [records.frame, records.track_id, records.class_id, records.score, records.boxes]
    ).astype(np.float64).reshape(-1, ROW_WIDTH)


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """A run's tracks.csv (read by :func:`tracker.io.readers.read_csv`) as (rows, time_s per row, class id -> name)."""
    records = read_records(path)
    return _rows(records), records.time_s, dict(zip(records.class_id.tolist(), records.class_name.tolist()))


def read_mot(path: Path) -> np.ndarray:
    """A MOTChallenge tracks.txt (read by :func:`tracker.io.mot.read_results`) as rows; MOT has no class: class 0."""
    rows = _rows(read_results(path))
    rows[:, CLASS] = 0
    return rows


def _csv_sink(path: Path, class_names: dict[int, str]) -> CsvSink:
    top = max(class_names, default=-1)
    return CsvSink(path, [class_names.get(c, str(c)) for c in range(top + 1)])


def _frame_times(rows: np.ndarray, times: np.ndarray) -> dict[int, float]:
    return dict(zip(rows[:, FRAME].astype(np.int64).tolist(), np.asarray(times, np.float64).tolist()))


def write_mot(path: Path, rows: np.ndarray) -> None:
    """Write rows as a MOTChallenge txt (the same format as the run's tracks.txt)."""
    write_frames(MotSink(path), tracks_by_frame(rows))


def write_csv(path: Path, rows: np.ndarray, times: np.ndarray, class_names: dict[int, str]) -> None:
    """Write rows as a tracks.csv; ``times`` holds each row's time_s."""
    write_frames(_csv_sink(path, class_names), tracks_by_frame(rows), _frame_times(rows, times))


def _run_fps(times: np.ndarray, frames: np.ndarray) -> float | None:
    """Frame rate implied by a tracks.csv (time_s = frame / fps for file sources); None when undetermined."""
    if len(frames) < 2 or np.ptp(times) <= 0:
        return None
    return float(np.ptp(frames) / np.ptp(times))


def smooth_run(
    out_dir: str | os.PathLike, cfg: Config, fps: float | None = None, written: list[Path] | None = None
) -> dict:
    """Smooth the tracks of a finished run in ``out_dir`` with ``cfg.smoothing``.

    Reads tracks.raw.csv / tracks.raw.txt when an earlier call kept them (so smoothing
    again starts from the tracker's own output), else tracks.csv / tracks.txt, and keeps
    those as the raw files; follows camera_motion.csv when the run wrote one. Rewrites each
    of tracks.csv / tracks.txt that exists, atomically. fps: the run's frame rate; when None,
    ``cfg.source.fps``, then the rate implied by tracks.csv's times, then ``cfg.source.default_fps``.
    written: the files a run has just written (the pipeline passes its outputs): only the
    tracks.csv / tracks.txt among them are smoothed, from themselves, and they replace raw
    copies an earlier run in a reused folder left (which would otherwise be smoothed instead).
    Returns counts: rows_in, rows_out, filled, tracks, fps; and raw: the paths of the raw copies.
    """
    out = Path(out_dir)
    csv_path, mot_path = out / CSV_NAME, out / MOT_NAME
    if written is None:
        present = [p for p in (csv_path, mot_path) if p.is_file() or raw_path(p).is_file()]
    else:
        fresh = {Path(p).resolve() for p in written}
        present = [p for p in (csv_path, mot_path) if p.resolve() in fresh and p.is_file()]
    if not present:
        raise DataError(f"no {CSV_NAME} or {MOT_NAME} in {out}",
                        "Smooth the folder of a finished `tracker track` run with output.csv or output.mot on")
    # A fresh run's own files are its raw tracks; raw copies already there are then an older run's.
    keep = {p: written is not None or not raw_path(p).is_file() for p in present}
    source = {p: p if keep[p] else raw_path(p) for p in present}
    times = None
    if csv_path in source:
        rows, times, class_names = read_csv(source[csv_path])
    else:
        rows, class_names = read_mot(source[mot_path]), {}
    fps = fps or cfg.source.fps or (_run_fps(times, rows[:, FRAME]) if times is not None else None)
    fps = fps or cfg.source.default_fps
    camera_path = out / CAMERA_NAME  # the camera motion the run compensated, when it wrote one
    use_camera = camera_path.is_file() and (written is None or camera_path.resolve() in fresh)
    camera = CameraPath.read(camera_path) if use_camera else None
    smoothed = smooth_tracks(rows, cfg.smoothing, fps, camera, stride=cfg.source.vid_stride)

    for path in present:  # keep the originals first, so a failure below loses nothing
        if keep[path]:
            replace_atomically(raw_path(path), lambda tmp, src=path: shutil.copyfile(src, tmp))
    frames = tracks_by_frame(smoothed)  # once, for both files
    if csv_path in source:
        order = np.argsort(rows[:, FRAME], kind="stable")
        new_times = np.interp(smoothed[:, FRAME], rows[order, FRAME], times[order]) if len(rows) else np.zeros(0)
        frame_times = _frame_times(smoothed, new_times)
        replace_atomically(csv_path, lambda tmp: write_frames(_csv_sink(tmp, class_names), frames, frame_times))
    if mot_path in source:
        replace_atomically(mot_path, lambda tmp: write_frames(MotSink(tmp), frames))
    return {
        "rows_in": len(rows),
        "rows_out": len(smoothed),
        "filled": len(smoothed) - len(rows),
        "tracks": len(np.unique(smoothed[:, TRACK_ID])),
        "fps": fps,
        "raw": [raw_path(p) for p in present],
    }


def smooth_finished_run(out_dir: str | os.PathLike, cfg: Config, fps: float, written: list[Path]) -> dict | None:
    """The step after :func:`tracker.pipeline.run`, however the run ended: ``written`` are its outputs
    (``RunSummary.outputs``), ``fps`` its ``RunSummary.source_fps``.

    With ``cfg.smoothing.enabled`` (and tracks.csv or tracks.txt among them), :func:`smooth_run` of the
    tracks files the run wrote; returns its counts. Otherwise deletes raw copies an earlier smoothed run
    in the same folder left beside those files (they no longer belong to them); returns None.
    """
    if cfg.smoothing.enabled and any(Path(path).name in (CSV_NAME, MOT_NAME) for path in written):
        return smooth_run(out_dir, cfg, fps, written=written)
    for path in written:
        stale = raw_path(Path(path))
        if Path(path).name in (CSV_NAME, MOT_NAME) and stale.is_file():
            try:
                stale.unlink()
            except OSError as exc:
                raise OutputError(f"cannot delete {stale}, left by an earlier run: {exc.strerror or exc}",
                                  "Delete it by hand; it does not match the new tracks") from None
    return None
