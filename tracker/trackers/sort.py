"""SORT: Kalman prediction + one Hungarian pass on IoU (Bewley et al. 2016)."""

from __future__ import annotations

import numpy as np

from ..association import iou_pairs
from ..config import SortConfig
from ..structures import Detections
from .core import Tracker


class Sort(Tracker):
    cfg: SortConfig

    def associate(self, dets: Detections):
        def cost(t, d):
            return self.class_gate(1.0 - iou_pairs(self.predicted[t], dets.boxes[d]), t, dets, d)

        return self.match_overlapping(cost, dets, np.arange(len(self)), np.arange(len(dets)), 1.0 - self.cfg.min_iou)
