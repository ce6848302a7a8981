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

Re-identification (``reid_gallery`` > 0): a person who re-enters, or reappears after an
occlusion away from the predicted path, overlaps no prediction, so the IoU-gated stages
cannot find them. Each track keeps its ``reid_gallery`` latest features, and lost tracks
are matched by appearance alone to the embedded detections left over, within the distance
a person can walk in the time lost (:meth:`BotSort.reidentify`).
"""

from __future__ import annotations

import numpy as np

from ..config import BotSortConfig
from ..structures import Detections
from .association import cosine_pairs, gallery_distance, gate, present
from .bytetrack import ByteTrack
from .core import State, in_state
from .table import FeatureBank

# Re-identification: a lost track's detection may be this many of its box heights from where it was last
# seen besides what reid_max_speed allows over the time lost (detection jitter, a person bending).
REID_MARGIN = 0.5


class BotSort(ByteTrack, config=BotSortConfig):
    cfg: BotSortConfig

    @classmethod
    def appearance_wanted(cls, cfg: BotSortConfig) -> bool:
        return cfg.with_reid

    def __init__(self, cfg: BotSortConfig, fps: float, num_classes: int = 1):
        super().__init__(cfg, fps, num_classes)
        self.uses_appearance = self.appearance_wanted(cfg)
        self.embeds_on_demand = cfg.with_reid and cfg.embed_on_demand
        self.reid = cfg.with_reid and cfg.reid_gallery > 0
        if self.reid:
            self.table.add_column("gallery", FeatureBank(budget=cfg.reid_gallery))
            self.banks.append("gallery")

    def feature_bank(self) -> FeatureBank:
        return FeatureBank(budget=1, ema_alpha=self.cfg.ema_alpha)

    def associate(self, dets: Detections):
        matches, unmatched_tracks, unmatched_dets = super().associate(dets)
        if not self.reid or dets.embeddings is None:
            return matches, unmatched_tracks, unmatched_dets
        m, unmatched_tracks, unmatched_dets = self.reidentify(dets, unmatched_tracks, unmatched_dets)
        return np.concatenate([matches, m]), unmatched_tracks, unmatched_dets

    def reidentify(self, dets: Detections, track_rows: np.ndarray, det_rows: np.ndarray):
        """Lost tracks among ``track_rows`` against the embedded detections among ``det_rows``, by appearance
        alone: the (halved) cosine distance to the nearest feature of the track's gallery, for detections
        within ``reid_max_speed`` box heights per second of the track's last observed box."""
        c, table = self.cfg, self.table
        gallery = table.gallery
        lost = track_rows[in_state(table.state[track_rows], State.LOST) & gallery.known[track_rows]]
        seen = det_rows[self.embedded[det_rows]]

        def cost(t, d):
            app = gallery_distance(gallery.gallery[t], gallery.counts[t], dets.embeddings[d]) / 2.0
            last, box = table.observed[t], dets.boxes[d]
            height = np.maximum(last[:, 3] - last[:, 1], 1.0)
            shift = ((last[:, None, :2] + last[:, None, 2:]) - (box[None, :, :2] + box[None, :, 2:])) / 2.0
            reach = c.reid_max_speed * table.since_update[t] / self.fps + REID_MARGIN
            far = np.hypot(shift[..., 0], shift[..., 1]) / height[:, None] > reach[:, None]
            return self.class_gate(gate(app, far), t[:, None], dets, d[None, :])

        m, _, _ = self.match_subset(cost, lost, seen, c.reid_thresh)
        left = det_rows[~present(m[:, 1], len(dets))[det_rows]]
        return m, self.unmatched(track_rows, m), left

    def first_cost(self, dets: Detections, t: np.ndarray, d: np.ndarray, iou_dist: np.ndarray) -> np.ndarray:
        features = self.table.features
        c = self.cfg
        iou_cost = self.motion_cost(dets, t, d, iou_dist)
        if not (c.with_reid and features.ready and dets.embeddings is not None):
            return iou_cost
        known = features.known[t] & self.embedded[d]
        emb = np.where(known, cosine_pairs(features.smoothed[t], dets.embeddings[d]) / 2.0, 1.0)
        cost = np.minimum(iou_cost, np.where((emb > c.appearance_thresh) | (iou_dist > c.proximity_thresh), 1.0, emb))
        # Confirmed-different appearance vetoes a pair however well the boxes overlap.
        return gate(cost, known & (emb > c.appearance_reject_thresh))

    def _embed(self, dets: Detections, det_rows: np.ndarray, embed) -> Detections:
        dets = super()._embed(dets, det_rows, embed)
        if not self.cfg.low_score_features:  # embeddings given for every detection: those of low scores unused
            self.embedded &= dets.scores >= self.cfg.track_high_thresh
        return dets

    def appearance_rows(self, dets: Detections) -> np.ndarray:
        features = self.table.features
        c = self.cfg
        high = (dets.scores >= c.track_high_thresh).nonzero()[0]
        if not c.embed_on_demand:
            return np.arange(len(dets)) if c.low_score_features else high
        it, id_, iou_dist = self.overlaps(dets, np.arange(len(self)), high)
        d = high[id_]
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
