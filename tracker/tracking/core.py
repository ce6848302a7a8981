"""The track store and the update loop every tracker shares.

All live tracks are rows of one table (:class:`~.table.TrackTable`: Kalman mean and
covariance, ids, state, counters, class votes, appearance features). A tracker policy
only decides *which detection goes with which track* (:meth:`Tracker.associate`);
prediction, camera-motion compensation (with the warp the caller estimated, see
:class:`~.camera_motion.CameraMotion`), updates, the track lifecycle, class majority and
the reported :class:`~tracker.structures.Tracks` are the same code for all of them.

Lifecycle: a track starts TENTATIVE, becomes CONFIRMED after ``n_init``
consecutive hits, turns LOST when it misses a frame and is removed once it has
been missing longer than ``max_age`` (plus ``expiry_lag_frames``). A tentative
track that misses is removed at once. Removed rows are dropped from the arrays,
so memory stays bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import IntEnum
from typing import ClassVar

import numpy as np

from ..config import BaseTrackerConfig
from ..structures import Detections, Tracks
from .association import (
    buffer_boxes,
    centres,
    gate,
    hmiou_pairs,
    iou_pairs,
    iterative_assignment,
    linear_assignment,
    one_blas_thread,
    overlapping_pairs,
    pair_up,
    present,
    sparse_assignment,
    track_aware_nms,
)
from .camera_motion import apply_warp, warp_boxes, warp_points
from .kalman import KalmanFilter, StateSpace, nsa_scale, per_second, reupdate
from .scores import ScoreScale
from .table import FeatureBank, TrackTable

log = logging.getLogger(__name__)

NO_MATCH = np.zeros((0, 2), np.int64)

Embed = Callable[[np.ndarray], np.ndarray]  # rows of the caller's detections -> their (K,D) embeddings


class State(IntEnum):
    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2


def in_state(state: np.ndarray, *states: State) -> np.ndarray:
    """Mask of the entries of a ``state`` column that are any of ``states``, compared as plain ints (numpy compares
    an IntEnum member five times slower than an int: with few tracks, a good part of a frame)."""
    mask = state == int(states[0])
    for s in states[1:]:
        mask |= state == int(s)
    return mask


class Tracker:
    """Base tracker: shared parts and the update loop. Subclasses implement :meth:`associate`.

    A policy registers for the config class of its section, ``class Sort(Tracker, config=SortConfig)``:
    :func:`tracker.tracking.build_tracker` builds the policy a config names.
    """

    policies: ClassVar[dict[type, type[Tracker]]] = {}  # config class -> the policy it configures

    uses_appearance = False  # whether detections need embeddings
    embeds_on_demand = False  # whether it asks for a subset through update(embed=...) rather than all of them
    confirm_on_first_frame = False  # ByteTrack-style trackers confirm tracks born on the first frame

    def __init_subclass__(cls, config: type[BaseTrackerConfig] | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if config is not None:
            Tracker.policies[config] = cls

    @classmethod
    def appearance_wanted(cls, cfg: BaseTrackerConfig) -> bool:
        """Whether a tracker built from ``cfg`` will use appearance (:attr:`uses_appearance`), known before building it."""
        return cls.uses_appearance

    @property
    def start_thresholds(self) -> dict[str, float]:
        """The ``tracker.*`` scores a detection must reach to start a track (the highest one decides); none under
        relative scores, whose thresholds are fractions of the detector's own best scores, which reach them."""
        return {} if self.scale is not None else {"new_track_thresh": self.cfg.new_track_thresh}

    def __init__(self, cfg: BaseTrackerConfig, fps: float, num_classes: int = 1):
        if not fps or not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        self.cfg = cfg
        self.fps = float(fps)
        self.space = StateSpace(per_second(cfg.kalman, self.fps))
        self.kf = KalmanFilter(self.space)
        # frames a lost track stays matchable; the papers' code keeps it expiry_lag_frames more (see _remove_expired)
        max_age = cfg.max_age if cfg.max_age_unit == "frames" else cfg.max_age * self.fps
        self.max_age_frames = max_age + cfg.expiry_lag_frames
        self.direction_window_frames = getattr(cfg, "direction_window_s", 0.0) * self.fps  # OCM policies only
        self.scale = ScoreScale(cfg.score_quantile) if cfg.score_scale == "relative" else None
        self.raw_scores = np.zeros(0, np.float32)  # this frame: the detector's own scores (reported with tracks)
        self.frame_count = 0
        self._next_id = 1  # per instance: two trackers never share a counter
        self.invalid_detections = 0
        self.embedded_detections = 0  # detections embedded on request (``update(embed=...)``)
        self.embedded = np.zeros(0, bool)  # this frame: which (valid) detections carry an embedding
        dim = self.space.layout.dim
        self.table = TrackTable(
            ids=np.zeros(0, np.int64),
            mean=np.zeros((0, dim)),
            cov=np.zeros((0, dim, dim)),
            state=np.zeros(0, np.int8),
            streak=np.zeros(0, np.int32),  # consecutive hits
            since_update=np.zeros(0, np.int32),  # frames since last match
            score=np.zeros(0, np.float32),
            votes=np.zeros((0, max(1, num_classes)), np.float32),  # class votes; more columns when a class shows up
            det_index=np.zeros(0, np.int64),  # this frame's detection row, -1 when only predicted
            features=self.feature_bank(),
            observed=np.zeros((0, 4)),  # xyxy box of each track's latest detection (moved with the camera)
        )
        self.ocm = getattr(cfg, "direction_weight", 0.0) > 0  # OC-SORT's direction consistency: headings kept
        if self.ocm:
            self.table.add_column("anchor", np.zeros((0, 2)))  # centre of an earlier detection; nan: none yet
            self.table.add_column("anchor_frame", np.zeros(0, np.int64))  # the frame it was seen in
        if cfg.duplicate_iou < 1.0:  # the frame each track was born in: the older of two duplicates stays
            self.table.add_column("born", np.zeros(0, np.int64))
        if cfg.observation_reupdate:  # the Kalman state right after each track's latest detection (ORU restarts there)
            self.table.add_column("obs_mean", np.zeros((0, dim)))
            self.table.add_column("obs_cov", np.zeros((0, dim, dim)))
        self.banks = ["features"]  # the table's appearance memories: all get the same features
        self.predicted = np.zeros((0, 4))  # xyxy boxes after this frame's prediction, set by update()
        self.det_boxes = np.zeros((0, 4))  # this frame's detection boxes as association compares them
        self._overlaps: tuple[np.ndarray, np.ndarray] | None = None

    # ----- storage -------------------------------------------------------------
    def feature_bank(self) -> FeatureBank:
        """The appearance memory of this tracker's table (policies that use appearance choose theirs)."""
        return FeatureBank(budget=1)

    def __len__(self) -> int:
        return len(self.table)

    def class_ids(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """The class each of ``rows`` (any index shape) was detected as most often (its votes' majority), int32."""
        return self.table.votes[rows].argmax(axis=-1).astype(np.int32)

    def boxes(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return self.space.to_xyxy(self.table.mean[rows, : self.space.layout.ndim])

    # ----- the update loop -----------------------------------------------------
    def update(self, dets: Detections, dt: float | None = None, warp: np.ndarray | None = None,
               embed: Embed | None = None) -> Tracks:  # fmt: skip
        """Advance all tracks by one frame and associate ``dets``.

        dt: seconds since the previous update (defaults to 1 / fps); pass the real
        gap when frames were dropped. warp: the camera's motion since the previous
        frame, a 2x3 affine map from its pixels to this frame's (estimated outside the
        tracker, by :class:`~.camera_motion.CameraMotion`); None for a still camera.
        embed: for trackers that use appearance, when
        ``dets`` carries no embeddings, ``embed(rows)`` returns the (K,D) embeddings
        of the rows of ``dets`` the tracker asks for (:meth:`appearance_rows`);
        the others are treated as of unknown appearance.
        """
        # Only appearance distances and camera warps make matrix products large enough for BLAS threads (the
        # Kalman filter's are stacks of 8x8): appearance distances limit them where they are (association.matmul),
        # a warped frame all at once; elsewhere the limit, a tenth of a frame of 10 objects, is skipped.
        if warp is None:
            return self._update(dets, dt, warp, embed)
        with one_blas_thread():
            return self._update(dets, dt, warp, embed)

    def replay(self, dets: Detections, dt: float | None = None, warp: np.ndarray | None = None) -> Tracks:
        """:meth:`update` with detections embedded beforehand, all of them (tuning, benchmarks): the
        embeddings reach the tracker as in the pipeline: all, only the rows it asks for when it embeds
        on demand, or none when it does not use appearance."""
        if dets.embeddings is None or (self.uses_appearance and not self.embeds_on_demand):
            return self.update(dets, dt, warp)
        bare = dets._with(embeddings=None)
        return self.update(bare, dt, warp, embed=dets.embeddings.__getitem__ if self.uses_appearance else None)

    def _update(self, dets: Detections, dt: float | None, warp: np.ndarray | None, embed: Embed | None) -> Tracks:
        self.frame_count += 1
        det_rows = dets.valid_mask().nonzero()[0]  # map back to the caller's rows
        if len(det_rows) < len(dets):
            self.invalid_detections += len(dets) - len(det_rows)
            dets = dets[det_rows]
        self._predict(1.0 / self.fps if dt is None else dt, warp)
        self.predicted = self.boxes()  # (N,4) xyxy after prediction: what every association stage compares
        self.det_boxes = dets.boxes
        if self.cfg.iou_buffer > 0:
            self.predicted = buffer_boxes(self.predicted, self.cfg.iou_buffer)
            self.det_boxes = buffer_boxes(dets.boxes, self.cfg.iou_buffer)
        self._overlaps = None  # this frame's overlapping (track, detection) pairs and their IoU, found on first use
        self.raw_scores = dets.scores
        if self.scale is not None:
            dets = dets._with(scores=self.scale(dets.scores))
        dets = self._embed(self.rescore(dets), det_rows, embed)
        self.table.det_index[:] = -1
        matches, unmatched_tracks, unmatched_dets = self.associate(dets)
        self._apply_matches(matches, dets, det_rows)
        self._mark_missed(unmatched_tracks)
        self._spawn(dets, det_rows, unmatched_dets)
        self._remove_expired()
        return self._report(dets)

    def associate(self, dets: Detections) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Policy hook: (matches (K,2) [track_row, det_row], unmatched track rows, unmatched det rows)."""
        raise NotImplementedError

    def rescore(self, dets: Detections) -> Detections:
        """Policy hook: ``dets`` with the scores every later step (association, new tracks) uses (default: as given)."""
        return dets

    def appearance_rows(self, dets: Detections) -> np.ndarray:
        """Policy hook: the rows of ``dets`` whose appearance the tracker wants this frame (default: all)."""
        return np.arange(len(dets))

    def _embed(self, dets: Detections, det_rows: np.ndarray, embed: Embed | None) -> Detections:
        """``dets`` with the embeddings :meth:`appearance_rows` asks for (zeros elsewhere); sets :attr:`embedded`."""
        has = dets.embeddings is not None
        self.embedded = np.full(len(dets), has)
        if has or embed is None or not self.uses_appearance or len(dets) == 0:
            return dets
        rows = self.appearance_rows(dets)
        if len(rows) == 0:
            return dets
        features = np.asarray(embed(det_rows[rows]), np.float32)
        if features.ndim != 2 or len(features) != len(rows):
            raise ValueError(f"embed() returned shape {features.shape} for {len(rows)} detections")
        full = np.zeros((len(dets), features.shape[1]), np.float32)
        full[rows] = features
        self.embedded[rows] = True
        self.embedded_detections += len(rows)
        return dets._with(embeddings=full)

    def _predict(self, dt: float, warp: np.ndarray | None) -> None:
        table = self.table
        # Frames skipped since the last update count as misses for the lifecycle.
        steps = max(1, int(round(dt * self.fps)))
        layout = self.space.layout
        size = layout.size
        vel = slice(size.start + layout.ndim, size.stop + layout.ndim)
        if self.cfg.kalman.lost_size_velocity == "zero":  # the papers' code: a lost track's size stops changing
            table.mean[in_state(table.state, State.LOST), vel] = 0.0
        # Stop a shrinking box from collapsing through zero during long predictions.
        shrinking = (table.mean[:, size] + dt * table.mean[:, vel]) <= 0
        table.mean[:, vel][shrinking] = 0.0
        if self.cfg.predict_tentative:
            table.mean, table.cov = self.kf.predict(table.mean, table.cov, dt)
        else:  # the papers' code: unconfirmed tracks are matched and updated at their last state
            rows = np.flatnonzero(~in_state(table.state, State.TENTATIVE))
            table.mean[rows], table.cov[rows] = self.kf.predict(table.mean[rows], table.cov[rows], dt)
        table.since_update += steps
        if warp is not None:
            table.mean, table.cov = apply_warp(table.mean, table.cov, warp, layout)
            table.observed = warp_boxes(table.observed, warp)
            if self.ocm:
                table.anchor = warp_points(table.anchor, warp)
            if self.cfg.observation_reupdate:
                table.obs_mean, table.obs_cov = apply_warp(table.obs_mean, table.obs_cov, warp, layout)

    def _apply_matches(self, matches: np.ndarray, dets: Detections, det_rows: np.ndarray) -> None:
        table = self.table
        if len(matches) == 0:
            return
        t, d = matches[:, 0], matches[:, 1]
        z = self.space.to_measurement(dets.boxes[d])
        noise = nsa_scale(dets.scores[d]) if self.cfg.kalman.nsa else None
        table.mean[t], table.cov[t] = self.kf.update(table.mean[t], table.cov[t], z, noise)
        gap = table.since_update[t]  # frames since each track's previous detection
        if self.cfg.observation_reupdate:
            k = np.flatnonzero(gap > 1)
            if len(k):
                z_from = self.space.to_measurement(table.observed[t[k]])
                table.mean[t[k]], table.cov[t[k]] = reupdate(
                    self.kf, table.obs_mean[t[k]], table.obs_cov[t[k]], z_from, z[k], gap[k], 1.0 / self.fps,
                    None if noise is None else noise[k],
                )
            table.obs_mean[t], table.obs_cov[t] = table.mean[t], table.cov[t]
        if self.ocm:  # the previous sighting becomes the heading's anchor once the anchor is a window older than it
            seen = self.frame_count - gap
            old = np.isnan(table.anchor[t, 0]) | (seen - table.anchor_frame[t] >= self.direction_window_frames)
            table.anchor[t[old]] = centres(table.observed[t[old]])
            table.anchor_frame[t[old]] = seen[old]
        table.observed[t] = dets.boxes[d]
        table.since_update[t] = 0
        table.streak[t] += 1
        table.score[t] = self.raw_scores[d]
        table.det_index[t] = det_rows[d]
        self._vote(t, dets.class_ids[d])
        if dets.embeddings is not None:
            has = self.embedded[d]
            for bank in self.banks:
                getattr(table, bank).update(t[has], dets.embeddings[d[has]], self.frame_count)
        st = table.state[t]
        promote = in_state(st, State.LOST) | (in_state(st, State.TENTATIVE) & (table.streak[t] >= self.cfg.n_init))
        table.state[t[promote]] = State.CONFIRMED

    def _vote(self, rows: np.ndarray, classes: np.ndarray) -> None:
        table = self.table
        if len(classes) and classes.max() >= table.votes.shape[1]:
            grow = int(classes.max()) + 1 - table.votes.shape[1]
            table.votes = np.pad(table.votes, ((0, 0), (0, grow)))
        table.votes[rows, classes] += 1.0  # rows are distinct: each track takes one detection a frame

    def _mark_missed(self, rows: np.ndarray) -> None:
        table = self.table
        table.streak[rows] = 0
        st = table.state[rows]
        table.state[rows[in_state(st, State.CONFIRMED)]] = State.LOST

    def _spawn(self, dets: Detections, det_rows: np.ndarray, candidates: np.ndarray) -> None:
        new = candidates[dets.scores[candidates] >= self.cfg.new_track_thresh]
        if self.cfg.new_track_max_iou < 1.0 and len(new):
            live = self.boxes(self.table.since_update == 0)  # tracks matched this frame, at their updated boxes
            new = new[track_aware_nms(dets.boxes[new], dets.scores[new], live, self.cfg.new_track_max_iou)]
        n = len(new)
        if n == 0:
            return
        mean, cov = self.kf.initiate(self.space.to_measurement(dets.boxes[new]))
        first = self.frame_count == 1 and self.confirm_on_first_frame
        state = State.CONFIRMED if first or self.cfg.n_init <= 1 else State.TENTATIVE
        ids = np.arange(self._next_id, self._next_id + n)
        self._next_id += n
        table = self.table
        features = None if dets.embeddings is None else dets.embeddings[new]
        seen = dict(known=self.embedded[new], features=features, frame=self.frame_count)
        table.append(
            ids=ids, mean=mean, cov=cov, state=np.full(n, state, np.int8), streak=np.ones(n, np.int32),
            since_update=np.zeros(n, np.int32), score=self.raw_scores[new],
            votes=np.zeros((n, table.votes.shape[1]), np.float32), det_index=det_rows[new],
            observed=dets.boxes[new], anchor=np.full((n, 2), np.nan), anchor_frame=np.full(n, self.frame_count),
            born=np.full(n, self.frame_count),
            obs_mean=mean, obs_cov=cov, **{bank: seen for bank in self.banks},
        )
        self._vote(np.arange(len(table) - n, len(table)), dets.class_ids[new])

    def _remove_expired(self) -> None:
        table = self.table
        missed_tentative = in_state(table.state, State.TENTATIVE) & (table.since_update > 0)
        too_old = table.since_update > self.max_age_frames
        keep = ~(missed_tentative | too_old)
        if self.cfg.duplicate_iou < 1.0:
            keep[self._duplicates(keep)] = False
        if not keep.all():
            table.select(keep)

    def _duplicates(self, alive: np.ndarray) -> np.ndarray:
        """Rows that duplicate another (``duplicate_iou``; the papers' ``remove_duplicate_stracks``): of a track matched
        or born this frame and a lost one whose boxes overlap by more than that IoU, the one followed for the shorter
        time from its birth to its latest match goes, the matched one on a tie. Only the ``alive`` rows count."""
        table = self.table
        live = np.flatnonzero(alive & (table.since_update == 0))
        lost = np.flatnonzero(alive & in_state(table.state, State.LOST))
        boxes = self.boxes()
        i, j = overlapping_pairs(boxes[live], boxes[lost])
        same = iou_pairs(boxes[live[i]], boxes[lost[j]]) > self.cfg.duplicate_iou
        live, lost = live[i[same]], lost[j[same]]
        followed = self.frame_count - table.since_update - table.born  # frames from birth to latest match
        return np.where(followed[live] > followed[lost], lost, live)

    def _report(self, dets: Detections) -> Tracks:
        table = self.table
        show = in_state(table.state, State.CONFIRMED) & (table.since_update == 0)
        if self.cfg.output_lost:
            show |= in_state(table.state, State.LOST)
        return self._tracks(show.nonzero()[0])

    def lost_tracks(self) -> Tracks:
        """The tracks lost after the latest update (confirmed ones that missed, kept until ``max_age``): their
        predicted boxes, ids, last scores and classes; ``det_index`` is -1. Read-only: nothing changes."""
        return self._tracks(self.rows_in(State.LOST))

    def _tracks(self, rows: np.ndarray) -> Tracks:
        table = self.table
        emb = None
        if table.features.ready and table.features.budget == 1:
            emb = table.features.smoothed[rows]
        return Tracks._trusted(
            boxes=self.boxes(rows).astype(np.float32),
            scores=table.score[rows],
            class_ids=self.class_ids(rows),
            embeddings=emb,
            track_ids=table.ids[rows],
            det_index=table.det_index[rows],
        )

    # ----- helpers for policies ------------------------------------------------
    def rows_in(self, *states: State) -> np.ndarray:
        return in_state(self.table.state, *states).nonzero()[0]

    def unmatched(self, rows: np.ndarray, matches: np.ndarray) -> np.ndarray:
        """The track ``rows`` that are not the first column of ``matches``, in their order."""
        return rows[~present(matches[:, 0], len(self))[rows]]

    def class_gate(self, cost: np.ndarray, track_rows: np.ndarray, dets: Detections, det_rows: np.ndarray) -> np.ndarray:
        """Forbid cross-class pairs when the tracker runs per class.

        Rows broadcast like the cost: paired vectors for pair costs, ``t[:, None]`` and
        ``d[None, :]`` for a matrix.
        """
        if not self.cfg.per_class:
            return cost
        return gate(cost, self.class_ids(track_rows) != dets.class_ids[det_rows])

    def iou_distance(self, dets: Detections, t: np.ndarray, d: np.ndarray) -> np.ndarray:
        """1 - IoU (or ``box_similarity``) of the row-paired predicted tracks ``t`` and detections ``d``."""
        pairs = hmiou_pairs if self.cfg.box_similarity == "hmiou" else iou_pairs
        return 1.0 - pairs(self.predicted[t], self.det_boxes[d])

    def iou_cost(self, dets: Detections, t: np.ndarray, d: np.ndarray, iou_dist: np.ndarray) -> np.ndarray:
        """The plain IoU stage cost of the row-paired ``t``, ``d``: their :meth:`iou_distance` ``iou_dist`` with
        cross-class pairs forbidden in per-class mode."""
        return self.class_gate(iou_dist, t, dets, d)

    def match_subset(self, cost_fn, track_rows: np.ndarray, det_rows: np.ndarray, threshold: float):
        """Assign a subset of tracks to a subset of detections with a dense ``cost_fn(track_rows, det_rows)`` (N,M).

        For costs that can match boxes which do not overlap (DeepSORT's Mahalanobis
        and appearance cascade). Returns matches in global row numbers plus the
        unmatched rows of each subset.
        """
        if len(track_rows) == 0 or len(det_rows) == 0:
            return NO_MATCH, track_rows, det_rows
        m, ut, ud = linear_assignment(cost_fn(track_rows, det_rows), threshold, self.assign)
        return self._global(m, ut, ud, track_rows, det_rows)

    def match_overlapping(self, pair_cost_fn, dets: Detections, track_rows: np.ndarray, det_rows: np.ndarray,
                          threshold: float):  # fmt: skip
        """Like :meth:`match_subset` for IoU-gated costs, computed only for tracks and detections whose boxes overlap.

        ``pair_cost_fn(t, d, iou_dist)`` gets row-paired global rows and their
        :meth:`iou_distance`, and returns one cost per pair. Exact because a pair that
        does not overlap has IoU distance 1, above every IoU threshold (the config keeps
        them below 1).
        """
        if len(track_rows) == 0 or len(det_rows) == 0:
            return NO_MATCH, track_rows, det_rows
        it, id_, iou_dist = self.overlaps(dets, track_rows, det_rows)
        if len(it) == 0:
            return NO_MATCH, track_rows, det_rows
        cost = pair_cost_fn(track_rows[it], det_rows[id_], iou_dist)
        m, ut, ud = self.assign(it, id_, cost, threshold, (len(track_rows), len(det_rows)))
        return self._global(m, ut, ud, track_rows, det_rows)

    def assign(self, rows, cols, cost, threshold: float, shape: tuple[int, int]):
        """One-to-one assignment of candidate pairs by the configured solver (see :func:`sparse_assignment`)."""
        if self.cfg.assignment == "iterative":
            return iterative_assignment(rows, cols, cost, threshold, shape, self.cfg.iterative_step)
        return sparse_assignment(rows, cols, cost, threshold, shape, margin=self.cfg.assignment == "margin")

    def overlaps(self, dets: Detections, track_rows: np.ndarray, det_rows: np.ndarray):
        """Pairs ``(i, j)`` where track ``track_rows[i]`` and detection ``det_rows[j]`` overlap this frame, and
        their :meth:`iou_distance`.

        One sweep over all tracks and detections, and one IoU of the pairs it finds,
        serve every stage of the frame; each stage only picks its subset.
        """
        if self._overlaps is None:
            it, id_ = overlapping_pairs(self.predicted, self.det_boxes)
            self._overlaps = it, id_, self.iou_distance(dets, it, id_)
        it, id_, iou_dist = self._overlaps
        t_pos = np.full(len(self), -1)
        t_pos[track_rows] = np.arange(len(track_rows))
        d_pos = np.full(len(dets), -1)
        d_pos[det_rows] = np.arange(len(det_rows))
        it, id_ = t_pos[it], d_pos[id_]
        keep = (it >= 0) & (id_ >= 0)
        return it[keep], id_[keep], iou_dist[keep]

    @staticmethod
    def _global(m, ut, ud, track_rows: np.ndarray, det_rows: np.ndarray):
        matches = pair_up(track_rows[m[:, 0]], det_rows[m[:, 1]])
        return matches, track_rows[ut], det_rows[ud]
