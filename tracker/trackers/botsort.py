"""BoT-SORT: ByteTrack with an xywh Kalman state, camera motion compensation and a
fused IoU / appearance cost (Aharonov et al. 2022).

Appearance only counts for pairs that are close (IoU distance below
``proximity_thresh``) and look alike (cosine distance below ``appearance_thresh``);
the cost of a pair is the smaller of its IoU and appearance distances. Unlike
the paper, a pair whose appearance distance exceeds ``appearance_reject_thresh``
is forbidden, so two people who overlap while crossing do not swap identities.
"""

from __future__ import annotations

import numpy as np

from ..association import cosine_pairs, gate
from ..config import BotSortConfig
from ..motion.cmc import CameraMotion
from ..structures import Detections
from .bytetrack import ByteTrack
from .core import FeatureBank


class BotSort(ByteTrack):
    cfg: BotSortConfig

    def __init__(self, cfg: BotSortConfig, fps: float, num_classes: int = 1):
        super().__init__(cfg, fps, num_classes)
        self.uses_appearance = cfg.with_reid
        self.features = FeatureBank(budget=1, ema_alpha=cfg.ema_alpha)
        self.cmc = CameraMotion(cfg.cmc)

    def first_cost(self, dets: Detections, t: np.ndarray, d: np.ndarray) -> np.ndarray:
        c = self.cfg
        iou_dist = self.iou_distance(dets, t, d)
        iou_cost = self.fused(iou_dist, dets.scores[d])
        if not (c.with_reid and self.features.ready and dets.embeddings is not None):
            return iou_cost
        emb = cosine_pairs(self.features.smoothed[t], dets.embeddings[d]) / 2.0
        cost = np.minimum(iou_cost, np.where((emb > c.appearance_thresh) | (iou_dist > c.proximity_thresh), 1.0, emb))
        # Confirmed-different appearance vetoes a pair however well the boxes overlap.
        return gate(cost, emb > c.appearance_reject_thresh)
