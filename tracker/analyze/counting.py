"""Line-crossing counts and zone occupancy per class, vectorised over the tracks of a frame.

Lines are directed segments from their first point A to their second point B. A point P
is on the line's *right* when ``cross(B - A, P - A) > 0``; in image coordinates (y grows
downwards) that is the right-hand side as seen on screen by someone standing on A and
looking towards B. A track crosses **in** when it goes from the left side to the right
side, and **out** the other way. For a line drawn left to right across the frame, "in"
is downwards; the annotated video draws an arrow from the line's middle to its "in" side.

Double counts are prevented twice over:

* hysteresis: a track's side only changes once its anchor is at least
  ``counting.hysteresis_px`` from the (infinite) line, so a track wiggling on the line
  keeps its side; the crossing is counted when the side flips and the straight move from
  the last point on the old side to the current point passes through the segment A-B
  (a track walking around an end of the line is not counted);
* each track counts at most once per direction per line.

Zones are polygons; a zone's occupancy is the number of tracks whose anchor lies inside
it (even-odd rule) in the current frame, per class. Over the run, each zone also counts the
distinct tracks that have been inside it (``entered``, per class, each track once) and its
highest occupancy (``peak``).

Only boxes matched to a detection in the frame count (``det_index >= 0``): motion-only
predictions (``tracker.output_lost``) neither cross lines nor occupy zones. A track that
is lost while crossing is counted when it is seen again on the other side.

:class:`Counter` holds the counts; :class:`tracker.io.sinks.CountsSink` writes them to
``counts.csv`` and ``crossings.csv`` and draws the lines and zones on the annotated frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import CountingConfig
from ..structures import Tracks, bottom_centers, class_name
from .track_state import TrackState

IN, OUT = 0, 1  # column of a direction in the per-line "counted" flags
DIRECTIONS = ("in", "out")
ANCHORS = ("bottom_center", "center")


def anchor_points(boxes: np.ndarray, anchor: str) -> np.ndarray:
    """(N,2) float64 point of each xyxy box: ``bottom_center`` (where it stands) or ``center``."""
    if anchor == "bottom_center":
        return bottom_centers(boxes)
    if anchor == "center":
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return (boxes[:, :2] + boxes[:, 2:]) / 2.0
    raise ValueError(f"unknown anchor {anchor!r}; choose one of {ANCHORS}")


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """z of the 2D cross product over the last axis (broadcasting)."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def signed_distances(points: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """(N,L) distance of each point to each line's infinite extension; positive on its right (on screen)."""
    a, b = lines[:, 0], lines[:, 1]  # (L,2)
    d = b - a
    return _cross(d[None], points[:, None, :] - a[None]) / np.hypot(d[:, 0], d[:, 1])[None]


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) bool: points inside ``polygon`` (K,2) by the even-odd rule; non-finite points are outside."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, np.float64)
    x, y = points[:, :1], points[:, 1:]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    spans = (y1 > y) != (y2 > y)  # (N,K): the horizontal ray from the point meets this edge's height
    dy = np.where(y2 == y1, 1.0, y2 - y1)  # rows where dy would be 0 have spans False
    x_at = x1 + (y - y1) * (x2 - x1) / dy
    return ((spans & (x < x_at)).sum(axis=1) % 2) == 1


@dataclass
class Crossings:
    """The crossings counted in one frame (parallel arrays)."""

    track_ids: np.ndarray  # int64
    line_index: np.ndarray  # int64, position in counting.lines
    class_ids: np.ndarray  # int64
    direction: np.ndarray  # int64: 0 in, 1 out

    def __len__(self) -> int:
        return len(self.track_ids)


class Counter:
    """Counts line crossings (in / out) and zone occupancy per class, frame after frame."""

    def __init__(self, cfg: CountingConfig, class_names: Sequence[str]):
        self.cfg = cfg
        self.class_names = list(class_names)
        self.line_names = [line.name for line in cfg.lines]
        self.zone_names = [zone.name for zone in cfg.zones]
        self.lines = np.asarray([line.points for line in cfg.lines], np.float64).reshape(-1, 2, 2)
        self.zones = [np.asarray(zone.polygon, np.float64) for zone in cfg.zones]
        self.hysteresis = float(cfg.hysteresis_px)
        n_lines, n_classes = len(self.lines), len(self.class_names)
        # per track and line: confirmed side (-1 left, +1 right, 0 not yet), the last anchor on that side,
        # and whether it has already been counted in each direction
        self.state = TrackState(
            side=((n_lines,), np.int8, 0),
            last_xy=((n_lines, 2), np.float64, np.nan),
            counted=((n_lines, 2), bool, False),
            been_inside=((len(self.zones),), bool, False),
        )
        self.line_counts = np.zeros((n_lines, 2, n_classes), np.int64)  # cumulative [line, in/out, class]
        self.occupancy = np.zeros((len(self.zones), n_classes), np.int64)  # this frame's [zone, class]
        self.entered = np.zeros((len(self.zones), n_classes), np.int64)  # distinct tracks ever inside [zone, class]
        self.peak = np.zeros(len(self.zones), np.int64)  # highest occupancy of each zone (all classes)
        self.class_seen = np.zeros(n_classes, bool)

    def _fit_classes(self, class_ids: np.ndarray) -> None:
        """Widen the per-class arrays for class ids beyond the detector's names (drawn as numbers)."""
        needed = int(class_ids.max()) + 1 if len(class_ids) else 0
        extra = needed - self.class_seen.shape[0]
        if extra > 0:
            self.line_counts = np.pad(self.line_counts, ((0, 0), (0, 0), (0, extra)))
            self.occupancy = np.pad(self.occupancy, ((0, 0), (0, extra)))
            self.entered = np.pad(self.entered, ((0, 0), (0, extra)))
            self.class_seen = np.pad(self.class_seen, (0, extra))

    def update(self, tracks: Tracks) -> Crossings:
        """Count this frame's tracks; returns the crossings counted in it."""
        keep = (tracks.det_index >= 0) & (tracks.class_ids >= 0)
        ids = tracks.track_ids[keep]
        class_ids = tracks.class_ids[keep].astype(np.int64)
        points = anchor_points(tracks.boxes[keep], self.cfg.anchor)
        self._fit_classes(class_ids)
        self.class_seen[class_ids] = True
        self.occupancy[:] = 0
        if self.zones:
            inside = np.stack([points_in_polygon(points, polygon) for polygon in self.zones], axis=1)  # (N,Z)
            self._occupy(ids, class_ids, inside)
        if not len(self.lines) or not len(ids):
            return Crossings(*(np.zeros(0, np.int64) for _ in range(4)))
        return self._cross_lines(ids, class_ids, points)

    def _occupy(self, ids: np.ndarray, class_ids: np.ndarray, inside: np.ndarray) -> None:
        """This frame's occupancy, the zones' peaks and the tracks entering a zone for the first time."""
        n_classes = self.occupancy.shape[1]
        for z in range(len(self.zones)):
            self.occupancy[z] = np.bincount(class_ids[inside[:, z]], minlength=n_classes)
        np.maximum(self.peak, self.occupancy.sum(axis=1), out=self.peak)
        rows, _ = self.state.rows(ids)
        been = self.state.column("been_inside")
        n_idx, z_idx = np.nonzero(inside & ~been[rows])
        np.add.at(self.entered, (z_idx, class_ids[n_idx]), 1)
        been[rows] |= inside

    def _cross_lines(self, ids: np.ndarray, class_ids: np.ndarray, points: np.ndarray) -> Crossings:
        st = self.state
        rows, _ = st.rows(ids)
        s = signed_distances(points, self.lines)  # (N,L)
        with np.errstate(invalid="ignore"):
            confident = (np.abs(s) >= self.hysteresis) & (s != 0)  # NaN anchors are never confident
        new_side = np.sign(s).astype(np.int8)
        side = st.column("side")[rows]  # (N,L)
        last = st.column("last_xy")[rows]  # (N,L,2)
        flipped = confident & (side != 0) & (new_side != side)
        # the move from the last point on the old side to here must pass through the segment, not round its ends
        move = points[:, None, :] - last
        through = _cross(move, self.lines[None, :, 0] - last) * _cross(move, self.lines[None, :, 1] - last) <= 0
        direction = np.where(new_side > 0, IN, OUT)  # left -> right is "in"
        counted = st.column("counted")[rows]  # (N,L,2)
        already = np.take_along_axis(counted, direction[..., None], axis=2)[..., 0]
        hit = flipped & through & ~already
        n_idx, l_idx = np.nonzero(hit)
        d_idx = direction[n_idx, l_idx]
        counted[n_idx, l_idx, d_idx] = True
        np.add.at(self.line_counts, (l_idx, d_idx, class_ids[n_idx]), 1)
        st.column("counted")[rows] = counted
        st.column("side")[rows] = np.where(confident, new_side, side)
        st.column("last_xy")[rows] = np.where(confident[..., None], points[:, None, :], last)
        return Crossings(ids[n_idx], l_idx.astype(np.int64), class_ids[n_idx], d_idx.astype(np.int64))

    # reporting -------------------------------------------------------------------
    def totals(self) -> dict[str, dict[str, int]]:
        """``{line: {"in": n, "out": n}}`` over all classes, and ``{zone: {"occupancy": n, "entered": n,
        "peak": n}}`` (occupancy: this frame; entered: distinct tracks so far; peak: highest occupancy so far)."""
        out = {
            name: {"in": int(c[IN].sum()), "out": int(c[OUT].sum())}
            for name, c in zip(self.line_names, self.line_counts)
        }
        out.update({
            name: {"occupancy": int(o.sum()), "entered": int(e.sum()), "peak": int(p)}
            for name, o, e, p in zip(self.zone_names, self.occupancy, self.entered, self.peak)
        })  # fmt: skip
        return out

    def by_class(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per line and zone, the counts of each class seen so far: ``{line: {class: {"in", "out"}}}`` and
        ``{zone: {class: {"occupancy", "entered"}}}``."""
        classes = np.flatnonzero(self.class_seen).tolist()
        names = [class_name(self.class_names, c) for c in classes]
        out = {
            line: {n: {"in": int(c[IN, k]), "out": int(c[OUT, k])} for n, k in zip(names, classes)}
            for line, c in zip(self.line_names, self.line_counts)
        }
        out.update({
            zone: {n: {"occupancy": int(o[k]), "entered": int(e[k])} for n, k in zip(names, classes)}
            for zone, o, e in zip(self.zone_names, self.occupancy, self.entered)
        })  # fmt: skip
        return out

    def report(self) -> dict[str, dict]:
        """Every line and zone (lines first) with :meth:`totals`, its ``kind`` and its per-class ``classes``
        (:meth:`by_class`): what a run reports at its end (``RunSummary.counts``, :func:`format_report`)."""
        totals, classes = self.totals(), self.by_class()
        kinds = {**dict.fromkeys(self.line_names, "line"), **dict.fromkeys(self.zone_names, "zone")}
        return {name: {"kind": kind, **totals[name], "classes": classes[name]} for name, kind in kinds.items()}

    def labels(self) -> tuple[list[str], list[str]]:
        """Text drawn beside each line ("door  in 3  out 1") and zone ("queue: 2")."""
        lines = [f"{n}  in {c[IN].sum()}  out {c[OUT].sum()}" for n, c in zip(self.line_names, self.line_counts)]
        zones = [f"{n}: {o.sum()}" for n, o in zip(self.zone_names, self.occupancy)]
        return lines, zones


def format_report(report: dict[str, dict]) -> list[str]:
    """One line per counting line and zone of :meth:`Counter.report`, e.g. ``line door: 3 in, 1 out`` and
    ``zone queue: 5 entered, at most 3 at once, 2 inside at the end``; per class in brackets when several
    classes were seen."""
    out = []
    for name, r in report.items():
        if r["kind"] == "line":
            text = f"line {name}: {r['in']} in, {r['out']} out"
            parts = [f"{c} {v['in']} in, {v['out']} out" for c, v in r["classes"].items()]
        else:
            text = f"zone {name}: {r['entered']} entered, at most {r['peak']} at once, {r['occupancy']} inside at the end"
            parts = [f"{c} {v['entered']} entered" for c, v in r["classes"].items()]
        out.append(text + (f" ({'; '.join(parts)})" if len(parts) > 1 else ""))
    return out
