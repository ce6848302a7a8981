"""SORT: Kalman prediction + one Hungarian pass on IoU (Bewley et al. 2016)."""

from __future__ import annotations

import numpy as np

from ..config import SortConfig
from ..structures import Detections
from .core import Tracker


class Sort(Tracker, config=SortConfig):
    cfg: SortConfig

    def associate(self, dets: Detections):
        def cost(t, d, iou_dist):
            return self.iou_cost(dets, t, d, iou_dist)

        return self.match_overlapping(cost, dets, np.arange(len(self)), np.arange(len(dets)), 1.0 - self.cfg.min_iou)
