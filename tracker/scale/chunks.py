"""One long file tracked as overlapping parts in parallel, then stitched into one run.

:func:`plan_chunks` cuts ``[0, N)`` into K parts; each part but the last reads on for
``chunks.overlap_s`` seconds into the next one. Each part is tracked on its own
(:func:`track_chunk`: a fresh tracker, ids from 1) into a :class:`ChunkTracks` table.
:func:`stitch` then joins neighbours on their shared frames: every pair of tracks is
scored by its summed box IoU over the shared frames divided by the frames the shorter of
the two is reported there (a pair of different classes scores 0: a track the next part
only started late in the overlap still scores high), and Hungarian matching on
``1 - score`` (pairs under ``chunks.min_iou`` never match) decides which track of the next
part continues which of the previous one. A track of the previous part left unmatched can
still be handed over to one the next part starts just after it (:func:`hand_over`).
A frame's tracks come from the first part that read it past the
previous part's overlap, so the next part has tracked the whole overlap before it takes
over (its tracks are confirmed and its motion estimates settled). Ids are renumbered
1, 2, ... by first appearance. :func:`stitched_results` replays the table as the
FrameResults of one run, which :func:`~tracker.pipeline.write_run` turns into the usual
files, one annotated video included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..tracking.association import iou_pairs, linear_assignment
from ..config import Config
from ..errors import ConfigError
from ..pipeline import Session
from ..structures import Detections, FrameResult, Tracks


@dataclass(frozen=True)
class Chunk:
    """Part ``index`` of a file: reads frames [start, stop); its tracks are used from frame ``keep_from`` on."""

    index: int
    start: int
    stop: int
    keep_from: int


def plan_chunks(frame_count: int, fps: float, count: int, overlap_s: float) -> list[Chunk]:
    """``count`` parts of a ``frame_count``-frame file at ``fps``, each reading ``overlap_s`` seconds into the next."""
    overlap = round(overlap_s * fps)
    bounds = [round(k * frame_count / count) for k in range(count + 1)]
    shortest = min(b - a for a, b in zip(bounds, bounds[1:]))
    if count > 1 and shortest <= overlap:
        raise ConfigError(
            f"{count} chunks of {frame_count} frames are {shortest} frames each, no longer than their overlap of "
            f"{overlap} frames ({overlap_s:g} s at {fps:g} fps)",
            "Use fewer --chunks or a shorter --chunk-overlap",
        )
    chunks: list[Chunk] = []
    for k in range(count):
        keep_from = chunks[-1].stop if chunks else 0
        chunks.append(Chunk(k, bounds[k], min(bounds[k + 1] + overlap, frame_count), keep_from))
    return chunks


@dataclass
class ChunkTracks:
    """The tracks of one part, one row per track per frame in frame order (columns as in
    :class:`~tracker.structures.Tracks`)."""

    chunk: Chunk
    class_names: list[str]
    frames: np.ndarray  # (F,) int64: the frames tracked, in order (frames without tracks included)
    frame: np.ndarray  # (R,) int64: each row's frame
    track_ids: np.ndarray  # (R,) int64, the part's own ids
    class_ids: np.ndarray  # (R,) int32
    scores: np.ndarray  # (R,) float32
    boxes: np.ndarray  # (R,4) float32 xyxy
    det_index: np.ndarray  # (R,) int64: -1 for a box that is only a motion prediction
    max_gap: float = 0.0  # frames a lost track is kept by the part's tracker (its max_age)
    stats: dict = field(default_factory=dict)  # failed_reads, invalid_detections of the part
    warps: np.ndarray | None = None  # (F,2,3) camera motion compensated on each of ``frames``; None: none

    @classmethod
    def from_tracks(cls, chunk: Chunk, class_names: list[str], frames: list[int], tracks: list[Tracks]) -> ChunkTracks:
        """The table of ``tracks[i]``, the tracks reported on frame ``frames[i]``."""
        counts = [len(t) for t in tracks]
        frames = np.array(frames, np.int64)

        def column(name: str, dtype, tail: tuple[int, ...] = ()) -> np.ndarray:
            parts = [getattr(t, name) for t in tracks]
            return np.concatenate(parts).astype(dtype) if parts else np.zeros((0, *tail), dtype)

        return cls(
            chunk, list(class_names), frames, np.repeat(frames, counts),
            column("track_ids", np.int64), column("class_ids", np.int32), column("scores", np.float32),
            column("boxes", np.float32, (4,)), column("det_index", np.int64),
        )  # fmt: skip

    def select(self, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The row columns where ``mask`` holds."""
        return {name: getattr(self, name)[mask] for name in ROW_COLUMNS}


ROW_COLUMNS = ("frame", "track_ids", "class_ids", "scores", "boxes", "det_index")


def chunk_frames(chunk: Chunk, stride: int) -> int:
    """How many frames of [chunk.start, chunk.stop) a source read every ``stride``-th frame yields."""
    return len(range(-(-chunk.start // stride) * stride, chunk.stop, stride))


def track_chunk(source, cfg: Config, chunk: Chunk, detector=None, embedder=None,
                on_frame: Callable[[int], None] | None = None) -> ChunkTracks:  # fmt: skip
    """Track frames [chunk.start, chunk.stop) of ``source`` with a fresh tracker. ``on_frame(frames_done)``
    after each frame; a KeyboardInterrupt (from it or Ctrl-C) propagates once the part's threads are stopped."""
    session = Session(source, cfg, detector=detector, embedder=embedder, start_frame=chunk.start)
    frames, tracks, warps = [], [], []  # only these of each FrameResult: a part of an hours-long file is held whole
    try:
        for result in session.results(max_frames=chunk_frames(chunk, cfg.source.vid_stride)):
            frames.append(result.frame_index)
            tracks.append(result.tracks)
            warps.append(result.warp)
            if on_frame is not None:
                on_frame(len(frames))
    finally:
        stats = {"failed_reads": session.source.stats.failed_reads,
                 "invalid_detections": int(getattr(session.tracker, "invalid_detections", 0))}  # fmt: skip
        session.close()
    part = ChunkTracks.from_tracks(chunk, session.class_names, frames, tracks)
    part.stats = stats
    part.max_gap = float(session.tracker.max_age_frames)
    if session.camera_motion is not None:
        part.warps = np.array(warps, np.float64).reshape(-1, 2, 3)
    return part


def match_tracks(a: dict[str, np.ndarray], b: dict[str, np.ndarray], min_iou: float) -> np.ndarray:
    """(K,2) pairs [id in a, id in b] of the same objects in two parts' rows over the same frames.

    A pair's score is the sum of its boxes' IoU over the frames where both are reported (0 where
    their classes differ) divided by the frames the shorter of the two is reported; pairs are chosen
    by Hungarian matching on 1 - score, and a pair under ``min_iou`` (or with no overlap) never matches.
    """
    a_ids, a_rows = np.unique(a["track_ids"], return_inverse=True)
    b_ids, b_rows = np.unique(b["track_ids"], return_inverse=True)
    if not len(a_ids) or not len(b_ids):
        return np.zeros((0, 2), np.int64)
    # every (row of a, row of b) on the same frame: b's rows sorted by frame, a range of them per row of a
    order = np.argsort(b["frame"], kind="stable")
    lo = np.searchsorted(b["frame"][order], a["frame"], "left")
    counts = np.searchsorted(b["frame"][order], a["frame"], "right") - lo
    ra = np.repeat(np.arange(len(a["frame"])), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    rb = order[np.repeat(lo, counts) + offsets]
    iou = iou_pairs(a["boxes"][ra], b["boxes"][rb]) * (a["class_ids"][ra] == b["class_ids"][rb])
    shape = (len(a_ids), len(b_ids))
    overlap = np.zeros(shape)
    np.add.at(overlap, (a_rows[ra], b_rows[rb]), iou)
    a_frames, b_frames = np.bincount(a_rows, minlength=shape[0]), np.bincount(b_rows, minlength=shape[1])
    score = overlap / np.minimum(a_frames[:, None], b_frames[None, :])
    cost = np.where(overlap > 0, 1.0 - score, np.inf)
    matches, _, _ = linear_assignment(cost, 1.0 - min_iou)
    return np.stack([a_ids[matches[:, 0]], b_ids[matches[:, 1]]], axis=1)


def hand_over(before: ChunkTracks, after: ChunkTracks, matched: np.ndarray, min_iou: float) -> np.ndarray:
    """(K,2) pairs [id in before, id in after] of tracks the later part started only as (or after) the earlier
    one lost or ended them, as one tracker would have kept them: an unmatched track of ``before``, and one
    of ``after`` that starts after it within ``before``'s max_age, whose first box overlaps its last box
    by at least ``min_iou`` (Hungarian on 1 - IoU). E.g. a person detected just under the new-track
    threshold all through the overlap, whom only the earlier part tracked (from before the overlap)."""
    last = _ends(before, matched[:, 0], last=True)
    first = _ends(after, matched[:, 1], last=False)
    gap = first["frame"][None, :] - last["frame"][:, None]
    iou = _iou_grid(last["boxes"], first["boxes"]) * (last["class_ids"][:, None] == first["class_ids"][None, :])
    cost = np.where((gap > 0) & (gap <= before.max_gap) & (iou > 0), 1.0 - iou, np.inf)
    matches, _, _ = linear_assignment(cost, 1.0 - min_iou)
    return np.stack([last["track_ids"][matches[:, 0]], first["track_ids"][matches[:, 1]]], axis=1)


def _ends(part: ChunkTracks, exclude: np.ndarray, last: bool) -> dict[str, np.ndarray]:
    """The last (or first) row of each track of ``part`` not in ``exclude``."""
    ids = part.track_ids[::-1] if last else part.track_ids
    _, index = np.unique(ids, return_index=True)
    rows = len(ids) - 1 - index if last else index
    rows = rows[~np.isin(part.track_ids[rows], exclude)]
    return part.select(np.isin(np.arange(len(part.track_ids)), rows))


def _iou_grid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N,4) with every box of ``b`` (M,4), (N,M)."""
    rows, cols = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    return iou_pairs(a[rows.ravel()], b[cols.ravel()]).reshape(len(a), len(b))


@dataclass
class Stitched:
    """The tracks of a whole file, as one run reports them: rows sorted by frame, ids 1.. by first appearance."""

    class_names: list[str]
    frames: np.ndarray  # (F,) every frame tracked, in order
    rows: dict[str, np.ndarray]  # ROW_COLUMNS
    stats: dict  # failed_reads, invalid_detections summed over the parts
    warps: np.ndarray | None = None  # (F,2,3) camera motion on each frame, from the part that reports it; None: none


def stitch(parts: list[ChunkTracks], min_iou: float) -> Stitched:
    """One run's tracks from the parts of a file (see the module docstring)."""
    parts = sorted(parts, key=lambda p: p.chunk.index)
    kept, frames, warps = [], [], []
    next_id = 0
    previous = previous_ids = previous_global = None  # the part before, its ids and their provisional global ids
    for part, following in zip(parts, parts[1:] + [None]):
        ids = np.unique(part.track_ids)
        global_ids = np.full(len(ids), -1, np.int64)
        if previous is not None:
            shared = (part.chunk.start, previous.chunk.stop)
            pairs = match_tracks(_rows_in(previous, *shared), _rows_in(part, *shared), min_iou)
            pairs = np.concatenate([pairs, hand_over(previous, part, pairs, min_iou)])
            global_ids[np.searchsorted(ids, pairs[:, 1])] = previous_global[np.searchsorted(previous_ids, pairs[:, 0])]
        fresh = global_ids < 0
        global_ids[fresh] = np.arange(next_id, next_id + int(fresh.sum()))
        next_id += int(fresh.sum())
        end = following.chunk.keep_from if following is not None else np.iinfo(np.int64).max
        rows = _rows_in(part, part.chunk.keep_from, end)
        rows["track_ids"] = global_ids[np.searchsorted(ids, rows["track_ids"])]
        kept.append(rows)
        reported = (part.frames >= part.chunk.keep_from) & (part.frames < end)
        frames.append(part.frames[reported])
        warps.append(part.warps[reported] if part.warps is not None else None)
        previous, previous_ids, previous_global = part, ids, global_ids
    rows = {name: np.concatenate([r[name] for r in kept]) for name in ROW_COLUMNS}
    rows["track_ids"] = _renumber_by_first_appearance(rows["track_ids"])
    stats = {key: sum(p.stats.get(key, 0) for p in parts) for key in ("failed_reads", "invalid_detections")}
    camera = np.concatenate(warps) if all(w is not None for w in warps) else None
    return Stitched(parts[0].class_names, np.concatenate(frames), rows, stats, camera)


def _rows_in(part: ChunkTracks, first: int, end: int) -> dict[str, np.ndarray]:
    """The part's rows on frames [first, end)."""
    return part.select((part.frame >= first) & (part.frame < end))


def _renumber_by_first_appearance(ids: np.ndarray) -> np.ndarray:
    """``ids`` (rows in frame order) renumbered 1, 2, ... in the order each first appears."""
    unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(unique), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(1, len(unique) + 1)
    return rank[inverse]


def stitched_results(stitched: Stitched, fps: float, source_frames=None) -> Iterator[FrameResult]:
    """The FrameResults of the stitched run, in frame order; with ``source_frames`` (the file's frames from
    frame 0) each carries its image, for the annotated video."""
    rows = stitched.rows
    bounds = np.searchsorted(rows["frame"], stitched.frames, "left")
    ends = np.searchsorted(rows["frame"], stitched.frames, "right")
    images = iter(source_frames) if source_frames is not None else None
    warps = stitched.warps if stitched.warps is not None else [None] * len(stitched.frames)
    for frame_index, lo, hi, warp in zip(stitched.frames.tolist(), bounds.tolist(), ends.tolist(), warps):
        frame = _frame_at(images, frame_index) if images is not None else None
        tracks = Tracks(
            boxes=rows["boxes"][lo:hi], scores=rows["scores"][lo:hi], class_ids=rows["class_ids"][lo:hi],
            track_ids=rows["track_ids"][lo:hi], det_index=rows["det_index"][lo:hi],
        )  # fmt: skip
        yield FrameResult(
            frame_index=frame_index,
            time_s=frame.time_s if frame is not None else frame_index / fps,
            tracks=tracks,
            detections=Detections.empty(),
            image=frame.image if frame is not None else None,
            class_names=tuple(stitched.class_names),
            warp=warp,
        )


def _frame_at(frames: Iterator, index: int):
    """The frame numbered ``index`` from ``frames`` (in order), skipping any before it."""
    for frame in frames:
        if frame.index == index:
            return frame
        if frame.index > index:
            break
    raise ValueError(f"frame {index} was tracked but the source no longer yields it")
