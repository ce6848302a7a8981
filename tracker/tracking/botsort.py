"""BoT-SORT: ByteTrack with an xywh Kalman state, camera motion compensation and a
fused IoU / appearance cost (Aharonov et al. 2022).

Camera motion is estimated by the caller (the pipeline's :class:`~.camera_motion.CameraMotion`,
configured by ``tracker.cmc``) and passed to :meth:`~.core.Tracker.update` as ``warp``.

Appearance only counts for pairs that are close (IoU distance below
``proximity_thresh``) and look alike (cosine distance below ``appearance_thresh``);
the cost of a pair is the smaller of its IoU and appearance distances. Unlike
the paper, a pair whose appearance distance exceeds ``appearance_reject_thresh``
is forbidden, so two people who overlap while crossing do not swap identities.

Embedding on demand (``embed_on_demand``, when the caller passes ``embed`` to
:meth:`~.core.Tracker.update`): appearance only changes a decision for a pair
whose boxes overlap enough that appearance counts (``proximity_thresh``) or
that IoU alone could match; call these pairs *near*. Only these high-score
detections are embedded: those near two or more tracks, or near a track that
is near another detection (where identities can swap); those alone with a
track that IoU alone would reject but appearance could still match; those that
would start a new track (its first feature); and those alone with a track whose
feature is missing or older than ``feature_refresh_s`` (so it is fresh when the
track next meets someone). Low-score detections are never embedded (as in the
paper). A pair without an embedding on both sides is matched on IoU alone. On
PETS09-S2L1 this embeds 9 % of the detections with the same HOTA / IDF1 as
embedding all of them (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import numpy as np

from ..config import BotSortConfig
from ..structures import Detections
from .association import cosine_pairs, gate
from .bytetrack import ByteTrack
from .table import FeatureBank


class BotSort(ByteTrack, config=BotSortConfig):
    cfg: BotSortConfig

    @classmethod
    def appearance_wanted(cls, cfg: BotSortConfig) -> bool:
        return cfg.with_reid

    def __init__(self, cfg: BotSortConfig, fps: float, num_classes: int = 1):
        super().__init__(cfg, fps, num_classes)
        self.uses_appearance = self.appearance_wanted(cfg)
        self.embeds_on_demand = cfg.with_reid and cfg.embed_on_demand

    def feature_bank(self) -> FeatureBank:
        return FeatureBank(budget=1, ema_alpha=self.cfg.ema_alpha)

    def first_cost(self, dets: Detections, t: np.ndarray, d: np.ndarray) -> np.ndarray:
        features = self.table.features
        c = self.cfg
        iou_dist = self.iou_distance(dets, t, d)
        iou_cost = self.fused(iou_dist, dets.scores[d])
        if not (c.with_reid and features.ready and dets.embeddings is not None):
            return iou_cost
        known = features.known[t] & self.embedded[d]
        emb = np.where(known, cosine_pairs(features.smoothed[t], dets.embeddings[d]) / 2.0, 1.0)
        cost = np.minimum(iou_cost, np.where((emb > c.appearance_thresh) | (iou_dist > c.proximity_thresh), 1.0, emb))
        # Confirmed-different appearance vetoes a pair however well the boxes overlap.
        return gate(cost, known & (emb > c.appearance_reject_thresh))

    def appearance_rows(self, dets: Detections) -> np.ndarray:
        features = self.table.features
        c = self.cfg
        if not c.embed_on_demand:
            return np.arange(len(dets))
        high = np.flatnonzero(dets.scores >= c.track_high_thresh)
        it, id_ = self.overlaps(dets, np.arange(len(self)), high)
        d = high[id_]
        iou_dist = self.iou_distance(dets, it, d)
        fused = self.fused(iou_dist, dets.scores[d])
        # Pairs too far apart for appearance to count and rejected by IoU either way cannot change a decision.
        near = (iou_dist <= c.proximity_thresh) | (fused <= max(c.match_thresh, c.unconfirmed_match_thresh))
        it, id_, iou_dist, fused = it[near], id_[near], iou_dist[near], fused[near]
        tracks_per_det = np.bincount(id_, minlength=len(high))
        dets_per_track = np.bincount(it, minlength=len(self))
        contested = (tracks_per_det[id_] > 1) | (dets_per_track[it] > 1)
        # A lone pair that IoU alone would reject but appearance could still match.
        rescuable = (iou_dist <= c.proximity_thresh) & (fused > min(c.match_thresh, c.unconfirmed_match_thresh))
        refresh_frames = c.feature_refresh_s * self.fps
        stale = ~features.known[it] | (self.frame_count - features.stamp[it] >= refresh_frames)
        want = np.zeros(len(high), bool)
        want[id_[contested | rescuable | stale]] = True
        want |= (tracks_per_det == 0) & (dets.scores[high] >= c.new_track_thresh)
        return high[want]
