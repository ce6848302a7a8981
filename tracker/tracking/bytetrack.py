"""ByteTrack: associate high-score detections first, then rescue tracks with low-score ones.

Zhang et al. 2022. Stages:
1. confirmed and lost tracks vs high-score detections (:meth:`first_cost`),
2. still-unmatched confirmed tracks vs low-score detections (IoU only),
3. tentative tracks vs the high-score detections left over.
Only high-score leftovers above ``new_track_thresh`` start tracks; low-score
detections never do.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from ..config import ByteTrackConfig
from ..structures import Detections
from .association import best_per_column, centres, direction_pairs, fuse_score, shape_pairs
from .core import State, Tracker, in_state


class ByteTrack(Tracker, config=ByteTrackConfig):
    cfg: ByteTrackConfig
    confirm_on_first_frame = True

    @property
    def start_thresholds(self) -> dict[str, float]:
        # only high-score detections left over by the first stages start tracks
        absolute = super().start_thresholds
        return {**absolute, "track_high_thresh": self.cfg.track_high_thresh} if absolute else absolute

    def fused(self, iou_dist: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The IoU distance weighted by detection score when ``fuse_score`` is on."""
        return fuse_score(iou_dist, scores) if self.cfg.fuse_score else iou_dist

    def motion_cost(self, dets: Detections, t: np.ndarray, d: np.ndarray, iou_dist: np.ndarray) -> np.ndarray:
        """The motion cost of the high-score stages (row-paired) from their IoU distance: fused with the
        score, plus OC-SORT's direction consistency (OCM) when ``direction_weight`` is on, minus
        BoostTrack's shape similarity when ``shape_weight`` is on."""
        c, table = self.cfg, self.table
        cost = self.fused(iou_dist, dets.scores[d])
        if c.direction_weight > 0:
            turn = direction_pairs(table.anchor[t], centres(table.observed[t]), centres(dets.boxes[d]))
            cost = cost + c.direction_weight * turn * dets.scores[d]
        if c.shape_weight > 0:
            cost = cost - c.shape_weight * dets.scores[d] * shape_pairs(self.predicted[t], self.det_boxes[d])
        return cost

    def rescore(self, dets: Detections) -> Detections:
        """BoostTrack's DLO boost (``score_boost``): a detection that overlaps a predicted track well is a
        likely object whatever its score, so its score rises to ``score_boost`` times its best IoU."""
        if self.cfg.score_boost <= 0 or len(self) == 0 or len(dets) == 0:
            return dets
        _, id_, iou_dist = self.overlaps(dets, np.arange(len(self)), np.arange(len(dets)))
        best = best_per_column(id_, 1.0 - iou_dist, len(dets))
        return replace(dets, scores=np.maximum(dets.scores, self.cfg.score_boost * best).astype(dets.scores.dtype))

    def first_cost(self, dets: Detections, t: np.ndarray, d: np.ndarray, iou_dist: np.ndarray) -> np.ndarray:
        """Cost of the high-score stages (row-paired, with their IoU distance); BoT-SORT adds appearance here."""
        return self.motion_cost(dets, t, d, iou_dist)

    def associate(self, dets: Detections):
        c = self.cfg
        high = (dets.scores >= c.track_high_thresh).nonzero()[0]
        low = ((dets.scores >= c.track_low_thresh) & (dets.scores < c.track_high_thresh)).nonzero()[0]
        pool = self.rows_in(State.CONFIRMED, State.LOST)
        tentative = self.rows_in(State.TENTATIVE)

        def first(t, d, iou_dist):
            return self.class_gate(self.first_cost(dets, t, d, iou_dist), t, dets, d)

        second = partial(self.iou_cost, dets)

        m1, pool_left, high_left = self.match_overlapping(first, dets, pool, high, c.match_thresh)
        # Only tracks seen in the previous frame may take a low-score detection.
        recent = pool_left[in_state(self.table.state[pool_left], State.CONFIRMED)]
        m2, recent_left, _ = self.match_overlapping(second, dets, recent, low, c.second_match_thresh)
        m3, tentative_left, high_left = self.match_overlapping(
            first, dets, tentative, high_left, c.unconfirmed_match_thresh
        )
        matches = np.concatenate([m1, m2, m3])
        unmatched_tracks = np.concatenate([self.unmatched(pool_left, m2), tentative_left])
        return matches, unmatched_tracks, high_left
